"""TF Serving export (`keras_ssmctb.export`) and the serving client example.

One module fixture trains tiny application models a step under the current
backend, exports them (in process on TensorFlow and JAX, through a
TensorFlow subprocess on PyTorch), and then loads every export in one fresh
TensorFlow process (`tf.saved_model.load`, `serving_default`,
`keras.layers.TFSMLayer`) while `saved_model_cli show --all` runs beside it.
"""

import http.server
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import threading

import cv2
import keras
import numpy as np
import pytest

from keras_ssmctb import SSMCTB
from keras_ssmctb.applications import DRAEM
from keras_ssmctb.applications import UNetPredictor
from keras_ssmctb.export import export_for_serving
from keras_ssmctb.export import export_from_file
from keras_ssmctb.export import export_main

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None
needs_tensorflow = pytest.mark.skipif(not HAS_TENSORFLOW, reason="export needs TensorFlow")

TOLERANCE = 1e-4
# DRAEM's export is checked in the tensorflow and torch passes; the JAX pass
# covers jax2tf with the U-Net, whose first build, train step and lowering
# already take most of its time budget.
WITH_DRAEM = keras.backend.backend() != "jax"
needs_draem = pytest.mark.skipif(not WITH_DRAEM, reason="DRAEM's export is checked under tensorflow and torch")
BLOCK_KWARGS = {"token_dim": 8, "num_heads": 2}

# Runs in a fresh TensorFlow process: loads each export and calls it.
LOADER = r"""
import json, sys
import numpy as np
import tensorflow as tf
import keras

spec = json.load(open(sys.argv[1]))
results, signatures = {}, {}
for name, entry in spec.items():
    loaded = tf.saved_model.load(entry["dir"])
    signature = loaded.signatures["serving_default"]
    _, input_specs = signature.structured_input_signature
    (input_name, input_spec), = input_specs.items()
    signatures[name] = {
        "input": [input_name, input_spec.shape.as_list()],
        "outputs": {k: v.shape.as_list() for k, v in signature.structured_outputs.items()},
    }
    layer = keras.layers.TFSMLayer(entry["dir"], call_endpoint="serving_default")
    for batch in entry["batches"]:
        x = np.load(batch["path"])
        for key, value in signature(**{input_name: tf.constant(x)}).items():
            results[f"{name}/{batch['name']}/signature/{key}"] = value.numpy()
        for key, value in layer(x).items():
            results[f"{name}/{batch['name']}/tfsm_layer/{key}"] = keras.ops.convert_to_numpy(value)
np.savez(sys.argv[2], **results)
json.dump(signatures, open(sys.argv[3], "w"))
"""


def _tensorflow_env():
    return dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")


def _saved_model_cli_command(export_dir):
    script = pathlib.Path(sys.executable).with_name("saved_model_cli")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    return command + ["show", "--dir", str(export_dir), "--all"]


def _numpy(outputs):
    return {key: keras.ops.convert_to_numpy(value) for key, value in outputs.items()}


def _client():
    spec = importlib.util.spec_from_file_location("serving_client", REPO_ROOT / "examples" / "serving" / "client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_video(path, num_frames=8, height=24, width=32):
    rng = np.random.default_rng(3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    for _ in range(num_frames):
        # Smooth content survives MJPEG compression; the test compares decodes, not pixels.
        frame = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (5, 5), 0)
        writer.write(frame)
    writer.release()
    return path


def _plain_model():
    inputs = keras.Input((8, 8, 3), name="images")
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = SSMCTB(**BLOCK_KWARGS, name="block")(x)
    mask = keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    score = keras.layers.GlobalAveragePooling2D(name="score")(x)
    return keras.Model(inputs, [mask, score])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    work = tmp_path_factory.mktemp("export")
    exports, batches, references = {}, {}, {}

    def add(export, batch_name, x, reference):
        path = work / f"{export}_{batch_name}.npy"
        np.save(path, x)
        batches.setdefault(export, []).append({"name": batch_name, "path": str(path)})
        references[f"{export}/{batch_name}"] = reference

    # Future-frame predictor (2 input frames + the target), trained a step.
    unet = UNetPredictor(
        (16, 16, 2), num_input_frames=2, base_filters=4, block="ssmctb", block_kwargs=BLOCK_KWARGS
    )
    unet.compile(optimizer=keras.optimizers.Adam(1e-2))
    clips = rng.uniform(-1, 1, (3, 16, 16, 3)).astype("float32")
    unet.train_on_batch(clips[..., :2], clips[..., 2:])
    exports["unet"] = export_for_serving(unet, work / "unet")
    video = _write_video(work / "clip.avi")
    video_clip = _client().read_clip(video, frame=5, num_frames=3, size=(16, 16), channels=1)[None]
    # One Keras call for both batches (samples are independent at inference).
    reference = _numpy(unet.serving_outputs(np.concatenate([video_clip, clips])))
    add("unet", "one", video_clip, {k: v[:1] for k, v in reference.items()})
    add("unet", "three", clips, {k: v[1:] for k, v in reference.items()})

    if WITH_DRAEM:
        # DRAEM: reconstruction and the discriminative anomaly map.
        draem = DRAEM((32, 32, 1), base_filters=4, discriminator_filters=4)
        exports["draem"] = export_for_serving(draem, work / "draem")
        images = rng.uniform(0, 1, (2, 32, 32, 1)).astype("float32")
        add("draem", "two", images, _numpy(draem.serving_outputs(images)))

    # A plain two-output Keras model, exported, then given new weights and
    # exported again over the same version from its .keras file by the CLI.
    plain = _plain_model()
    export_for_serving(plain, work / "plain")
    images = rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    before = _numpy(dict(zip(("mask", "score"), plain(images))))
    plain.set_weights([w + rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in plain.get_weights()])
    plain.save(work / "plain.keras")
    argv = [str(work / "plain.keras"), str(work / "plain"), "--version", "1", "--overwrite"]
    assert export_main(argv) == 0
    exports["plain"] = work / "plain" / "1"
    add("plain", "two", images, _numpy(dict(zip(("mask", "score"), plain(images)))))

    spec = {name: {"dir": str(path), "batches": batches[name]} for name, path in exports.items()}
    (work / "spec.json").write_text(json.dumps(spec))
    cli = subprocess.Popen(
        _saved_model_cli_command(exports["unet"]),
        env=_tensorflow_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    loader = subprocess.run(
        [sys.executable, "-c", LOADER, str(work / "spec.json"), str(work / "served.npz"), str(work / "signatures.json")],
        env=_tensorflow_env(),
        capture_output=True,
        text=True,
    )
    cli_out, cli_err = cli.communicate()
    assert loader.returncode == 0, loader.stderr[-3000:]
    assert cli.returncode == 0, cli_err[-3000:]
    with np.load(work / "served.npz") as data:
        results = dict(data)
    return {
        "work": work,
        "unet": unet,
        "video": video,
        "video_clip": video_clip,
        "plain_before": before,
        "references": references,
        "results": results,
        "signatures": json.loads((work / "signatures.json").read_text()),
        "saved_model_cli": cli_out,
    }


def _served(served, export, batch, via="signature"):
    prefix = f"{export}/{batch}/{via}/"
    return {k[len(prefix) :]: v for k, v in served["results"].items() if k.startswith(prefix)}


@needs_tensorflow
def test_export_writes_tf_serving_layout(served):
    work = served["work"]
    fresh = work / "fresh"
    fresh.mkdir()
    for model in ("unet", "draem", "plain") if WITH_DRAEM else ("unet", "plain"):
        # Only the numeric version folder: no staging folder is left behind,
        # also after an overwrite (plain).
        assert [p.name for p in (work / model).iterdir()] == ["1"]
        assert (work / model / "1" / "saved_model.pb").is_file()
        assert (work / model / "1" / "variables").is_dir()
        # Readable like any folder the user makes (not a private temp folder).
        assert (work / model / "1").stat().st_mode == fresh.stat().st_mode


@needs_tensorflow
def test_saved_model_cli_shows_named_signature_with_dynamic_batch(served):
    text = served["saved_model_cli"]
    section = text.split("signature_def['serving_default']:", 1)[1].split("signature_def[", 1)[0]

    def tensors(kind):
        found = re.findall(rf"{kind}\['([^']+)'\] tensor_info:\s+dtype: (\w+)\s+shape: \(([^)]*)\)", section)
        return {name: (dtype, tuple(int(d) for d in shape.split(",") if d.strip())) for name, dtype, shape in found}

    assert tensors("inputs") == {"frames": ("DT_FLOAT", (-1, 16, 16, 3))}
    # Exactly the serving outputs: no loss terms, no block internals.
    assert tensors("outputs") == {
        "anomaly_map": ("DT_FLOAT", (-1, 16, 16)),
        "anomaly_score": ("DT_FLOAT", (-1,)),
        "prediction": ("DT_FLOAT", (-1, 16, 16, 1)),
    }
    assert "Method name is: tensorflow/serving/predict" in section


@needs_tensorflow
@pytest.mark.parametrize(
    "export,batch", [("unet", "one"), ("unet", "three"), pytest.param("draem", "two", marks=needs_draem)]
)
def test_serving_default_matches_keras_model(served, export, batch):
    reference = served["references"][f"{export}/{batch}"]
    outputs = _served(served, export, batch)
    assert sorted(outputs) == sorted(reference)
    for key, expected in reference.items():
        assert outputs[key].shape == expected.shape, key
        np.testing.assert_allclose(outputs[key], expected, atol=TOLERANCE, rtol=0, err_msg=key)


@needs_tensorflow
@needs_draem
def test_draem_signature_names_input_and_outputs(served):
    assert served["signatures"]["draem"] == {
        "input": ["images", [None, 32, 32, 1]],
        "outputs": {
            "anomaly_map": [None, 32, 32],
            "anomaly_score": [None],
            "reconstruction": [None, 32, 32, 1],
        },
    }


@needs_tensorflow
def test_tfsm_layer_runs_the_export(served):
    for export, batch in (("unet", "three"), ("draem", "two"))[: 2 if WITH_DRAEM else 1]:
        reference = served["references"][f"{export}/{batch}"]
        outputs = _served(served, export, batch, via="tfsm_layer")
        for key, expected in reference.items():
            np.testing.assert_allclose(outputs[key], expected, atol=TOLERANCE, rtol=0, err_msg=key)


@needs_tensorflow
def test_plain_model_exports_its_outputs_by_name_and_overwrite_replaces(served):
    assert served["signatures"]["plain"] == {
        "input": ["images", [None, 8, 8, 3]],
        "outputs": {"mask": [None, 8, 8, 1], "score": [None, 8]},
    }
    reference = served["references"]["plain/two"]
    outputs = _served(served, "plain", "two")
    for key, expected in reference.items():
        np.testing.assert_allclose(outputs[key], expected, atol=TOLERANCE, rtol=0, err_msg=key)
    # The first export (old weights) was replaced by the CLI's --overwrite.
    assert not np.allclose(outputs["mask"], served["plain_before"]["mask"], atol=TOLERANCE)


@needs_tensorflow
def test_existing_version_is_an_error(served):
    with pytest.raises(FileExistsError, match=r"already exists.*overwrite=True"):
        export_for_serving(served["unet"], served["work"] / "unet", version=1)
    work = served["work"]
    assert export_main([str(work / "plain.keras"), str(work / "plain"), "--version", "1"]) == 2


def test_model_without_known_input_shape_is_an_error(tmp_path):
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    with pytest.raises(ValueError, match="no known input shape"):
        export_for_serving(Subclassed(), tmp_path)
    inputs = keras.Input((None, None, 3))
    dynamic = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    with pytest.raises(ValueError, match=r"every dimension a positive int.*\(None, None, 3\)"):
        export_for_serving(dynamic, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_invalid_arguments_are_errors(tmp_path):
    model = _plain_model()
    for version in (-1, "1", True, 1.0):
        with pytest.raises(ValueError, match="`version` must be a non-negative int"):
            export_for_serving(model, tmp_path, version=version)
    with pytest.raises(ValueError, match="needs a model with `serving_outputs`"):
        export_for_serving(model, tmp_path, use_block_error=True)
    with pytest.raises(ValueError, match="`input_name` must start with a letter"):
        export_for_serving(model, tmp_path, input_name="bad name")
    with pytest.raises(ValueError, match="`jax_platforms`"):
        export_for_serving(model, tmp_path, jax_platforms=("gpu",))
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        export_for_serving(model, tmp_path / "file")
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        export_from_file(tmp_path / "missing.keras", tmp_path)
    assert export_main([str(tmp_path / "missing.keras"), str(tmp_path)]) == 2


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="the TensorFlow backend needs TensorFlow")
def test_package_imports_without_tensorflow():
    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "import keras_ssmctb, keras_ssmctb.applications, keras_ssmctb.distribute\n"
        "from keras_ssmctb.export import export_for_serving\n"
        "import keras\n"
        "inputs = keras.Input((4,))\n"
        "try:\n"
        "    export_for_serving(keras.Model(inputs, inputs), 'unused')\n"
        "except ImportError as error:\n"
        "    print('ImportError:', error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ImportError: Exporting for TF Serving needs TensorFlow" in result.stdout
    assert "pip install keras-ssmctb[tensorflow]" in result.stdout


def test_client_clip_matches_training_pipeline(tmp_path):
    from keras_ssmctb.datasets import FrameClipDataset
    from keras_ssmctb.datasets import Video
    from keras_ssmctb.datasets.video import VideoFileSource

    video = _write_video(tmp_path / "clip.avi")
    for channels, size in ((1, (16, 16)), (3, (32, 48))):  # shrinking and enlarging
        clip = _client().read_clip(video, frame=5, num_frames=3, size=size, channels=channels)
        dataset = FrameClipDataset(
            [Video("clip", VideoFileSource(video), cache_dir=tmp_path / "cache")],
            num_input_frames=2,
            image_size=size,
            value_range=(-1.0, 1.0),
            batch_size=16,
            channels=channels,
        )
        row = list(dataset.sample_index[:, 1]).index(5)
        x, y = dataset[0]
        expected = np.concatenate([x[row], y[row]], axis=-1)
        assert clip.shape == expected.shape == size + (3 * channels,)
        np.testing.assert_allclose(clip, expected, atol=1e-6)


@needs_tensorflow
def test_client_scores_a_clip_over_rest(served, tmp_path, capsys):
    # A stand-in for tensorflow_model_server's REST API that answers with the
    # SavedModel's own outputs for the clip, in TF Serving's row format.
    outputs = _served(served, "unet", "one")
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append((self.path, body))
            reply = {"predictions": [{key: value[0].tolist() for key, value in outputs.items()}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        argv = [
            str(served["video"]),
            "--frame", "5", "--num-frames", "3", "--size", "16", "16",
            "--server", f"http://127.0.0.1:{server.server_port}",
            "--model-name", "ssmctb",
            "--save-map", str(tmp_path / "map.npy"),
        ]  # fmt: skip
        assert _client().main(argv) == 0
    finally:
        server.shutdown()
    (path, body), = requests
    assert path == "/v1/models/ssmctb:predict"
    assert body["signature_name"] == "serving_default"
    np.testing.assert_allclose(np.asarray(body["instances"], "float32"), served["video_clip"], atol=1e-6)
    score = float(outputs["anomaly_score"][0])
    assert f"anomaly_score = {score:.6f}" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(tmp_path / "map.npy"), outputs["anomaly_map"][0], atol=1e-6)
