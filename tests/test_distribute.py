"""Data-parallel training (`keras_ssmctb.distribute.data_parallel_scope`).

The two-device checks run in a subprocess, because the device count is fixed
when the backend starts: JAX with two virtual CPU devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=2`), TensorFlow with the
CPU split into two logical devices. Each trains a model with an SSMCTB block
(whose loss is added with `add_loss`) for two steps, data-parallel and on
one device, on the same global batches, and compares the weights; then
fits a dataset whose last batch (one sample) cannot be split, with
`drop_remainder=True`, and checks that `ssmctb train --distribute` rejects a
batch size that does not split over the devices.
"""

import json
import os
import subprocess
import sys

import keras
import pytest

from keras_ssmctb.distribute import data_parallel_scope

BACKEND = keras.backend.backend()

TWO_DEVICE_RUN = r"""
import json, os, sys
if os.environ["KERAS_BACKEND"] == "tensorflow":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = ["/cpu:0", "/cpu:1"]
else:
    devices = None  # every device: the two virtual CPUs
import keras
import numpy as np
from keras_ssmctb import SSMCTB
from keras_ssmctb.distribute import data_parallel_scope

def build(out_channels=4):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = SSMCTB(token_dim=8, num_heads=2)(x)
    outputs = keras.layers.Conv2D(out_channels, 1)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model

rng = np.random.default_rng(0)
x = rng.uniform(size=(8, 8, 8, 4)).astype("float32")
y = rng.uniform(size=(8, 8, 8, 4)).astype("float32")
single = build()
initial = single.get_weights()
single.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)  # two steps
with data_parallel_scope(devices) as replicas:
    parallel = build()
    parallel.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    if os.environ["KERAS_BACKEND"] == "jax":
        placed_on = len(parallel.weights[0].value.sharding.device_set)
        inside = type(keras.distribution.distribution()).__name__
    else:
        placed_on = len(parallel.weights[0].value.values)
        inside = type(tf.distribute.get_strategy()).__name__
# 13 frames, T = 4: 9 clips, batches of 4 -> the last holds one clip, which two
# devices cannot share; drop_remainder leaves it out. A second scope with a model
# of another size, as in a baseline / +SSMCTB run (TensorFlow must reuse its strategy).
from keras_ssmctb import cli
from keras_ssmctb.datasets import FrameClipDataset, Video
video = Video("a", rng.integers(0, 256, size=(13, 8, 8, 1), dtype=np.uint8))
clips = FrameClipDataset([video], num_input_frames=4, image_size=8, batch_size=4, shuffle=True, seed=0, drop_remainder=True)
with data_parallel_scope(devices):
    uneven = build(out_channels=1)
    uneven.fit(clips, epochs=2, verbose=0)
import contextlib, io, tempfile
error = io.StringIO()
with contextlib.redirect_stderr(error):
    exit_code = cli.main(["train", "--dataset", "synthetic-video", "--max-videos", "1", "--image-size", "32",
                          "--distribute", "--batch-size", "3", "--out", tempfile.mkdtemp()])
after = (
    keras.distribution.distribution() is None
    if os.environ["KERAS_BACKEND"] == "jax"
    else not tf.distribute.has_strategy()
)
print(json.dumps({
    "replicas": replicas,
    "batches": len(clips),
    "odd_batch_exit_code": exit_code,
    "odd_batch_error": error.getvalue(),
    "placed_on": placed_on,
    "inside": inside,
    "restored": after,
    "max_difference": max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), parallel.get_weights())),
    "max_change": max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), initial)),
}))
"""


def _run_on_two_devices(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    if backend == "jax":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    result = subprocess.run([sys.executable, "-c", TWO_DEVICE_RUN], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _assert_uneven_data_is_handled(report):
    # 9 clips in batches of 4: two full batches, the 1-clip remainder left out.
    assert report["batches"] == 2
    assert report["odd_batch_exit_code"] == 2
    assert "--batch-size 3" in report["odd_batch_error"] and "2 devices" in report["odd_batch_error"]


@pytest.mark.skipif(BACKEND != "jax", reason="the JAX two-device check runs in the KERAS_BACKEND=jax pass")
def test_jax_data_parallel_matches_single_device():
    report = _run_on_two_devices("jax")
    assert report["replicas"] == 2
    assert report["inside"] == "DataParallel"
    assert report["placed_on"] == 2  # variables replicated on both devices
    assert report["restored"]
    _assert_uneven_data_is_handled(report)
    # Training moved the weights, and two devices moved them like one.
    assert report["max_change"] > 1e-3
    assert report["max_difference"] < 1e-5


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the MirroredStrategy check runs in the KERAS_BACKEND=tensorflow pass")
def test_tensorflow_mirrored_strategy_matches_single_device():
    report = _run_on_two_devices("tensorflow")
    assert report["replicas"] == 2
    assert report["inside"] == "MirroredStrategy"
    assert report["placed_on"] == 2  # one mirror of each variable per device
    assert report["restored"]
    _assert_uneven_data_is_handled(report)
    assert report["max_change"] > 1e-3
    assert report["max_difference"] < 1e-5


@pytest.mark.skipif(BACKEND != "jax", reason="JAX only")
def test_jax_scope_sets_and_restores_the_distribution():
    assert keras.distribution.distribution() is None
    with data_parallel_scope() as replicas:
        distribution = keras.distribution.distribution()
        assert isinstance(distribution, keras.distribution.DataParallel)
        assert replicas == len(keras.distribution.list_devices())
    assert keras.distribution.distribution() is None


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow only")
def test_tensorflow_scope_enters_and_leaves_a_mirrored_strategy():
    import tensorflow as tf

    with data_parallel_scope() as replicas:
        assert isinstance(tf.distribute.get_strategy(), tf.distribute.MirroredStrategy)
        assert replicas == tf.distribute.get_strategy().num_replicas_in_sync
    assert not tf.distribute.has_strategy()


@pytest.mark.skipif(BACKEND != "torch", reason="PyTorch only")
def test_torch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"KERAS_BACKEND='torch'.*jax or tensorflow"):
        with data_parallel_scope():
            pass


def test_devices_must_be_a_list_of_names():
    for devices in ("gpu:0", [], [0, 1]):
        with pytest.raises(ValueError, match="`devices` must be None or a non-empty list"):
            with data_parallel_scope(devices):
                pass
