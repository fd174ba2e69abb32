"""The `ssmctb` command line and the run code path behind it and the examples."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_ssmctb import cli
from keras_ssmctb import experiment
from tests.conftest import REPO_ROOT

TINY_VIDEO = [
    "--dataset", "synthetic-video", "--image-size", "32", "--epochs", "1",
    "--max-videos", "1", "--base-filters", "8", "--batch-size", "16",
]


def last_json_line(text):
    return json.loads(text.strip().splitlines()[-1])


def test_train_then_evaluate_video(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", *TINY_VIDEO, "--block", "ssmctb", "--out", str(out), "--json"]) == 0
    metrics = last_json_line(capsys.readouterr().out)
    for key in ("micro_auc", "macro_auc", "rbdc", "tbdc"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["ms_per_frame"] > 0
    assert (out / "model.keras").is_file()
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["results"]["ssmctb"]["micro_auc"] == metrics["micro_auc"]
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "frame_scores_video_00.png" in pngs and (out / pngs[0]).stat().st_size > 0

    evaluated = tmp_path / "evaluated"
    args = ["evaluate", str(out / "model.keras"), "--dataset", "synthetic-video",
            "--max-videos", "1", "--out", str(evaluated), "--json"]
    assert cli.main(args) == 0
    again = last_json_line(capsys.readouterr().out)
    # Same weights, same test data: the same metrics.
    np.testing.assert_allclose(again["micro_auc"], metrics["micro_auc"], atol=1e-6)
    assert (evaluated / "metrics.json").is_file()


def test_train_images_reports_image_metrics(tmp_path, capsys):
    args = ["train", "--dataset", "synthetic-images", "--image-size", "32", "--epochs", "1",
            "--base-filters", "4", "--block", "none", "--out", str(tmp_path), "--json"]
    assert cli.main(args) == 0
    metrics = last_json_line(capsys.readouterr().out)
    for key in ("image_auroc", "image_ap", "pixel_auroc", "pixel_ap", "aupro"):
        assert 0.0 <= metrics[key] <= 1.0


def test_volume_run_scores_untrained_model():
    config = experiment.RunConfig(dataset="synthetic-volumes", image_size=32, base_filters=4, block="ssmctb")
    prepared = experiment.prepare(config)
    model = experiment.build_model(config, prepared.input_shape)
    evaluation = experiment.evaluate(model, prepared)
    assert evaluation.anomaly_maps.shape == (len(prepared.test_data.volumes), 32, 32, 32)
    assert 0.0 <= evaluation.metrics["pixel_auroc"] <= 1.0


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--dataset", "kitti"], "Unknown dataset 'kitti'"),
        (["train", "--dataset", "synthetic-video", "--model", "draem"], "takes image data"),
        (["train", "--dataset", "avenue"], "needs --root"),
        (["train", "--dataset", "ucsd-ped2", "--root", "{empty}"], "{empty}"),
        (["train", "--dataset", "synthetic-video", "--epochs", "0"], "--epochs"),
        (["evaluate", "{empty}/model.keras", "--dataset", "synthetic-video"], "no such model file"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(args, message, tmp_path, capsys):
    args = [a.replace("{empty}", str(tmp_path)) for a in args]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message.replace("{empty}", str(tmp_path)) in err


def test_module_entry_point_and_example_run(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    help_text = subprocess.run(
        [sys.executable, "-m", "keras_ssmctb", "--help"], capture_output=True, text=True, env=env
    )
    assert help_text.returncode == 0 and "train" in help_text.stdout
    example = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "avenue.py"), *TINY_VIDEO, "--block", "sspcab",
         "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert example.returncode == 0, example.stderr[-3000:]
    assert "| +SSPCAB |" in example.stdout
    assert (tmp_path / "model.keras").is_file()
    bad = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "avenue.py"), "--data-dir", str(tmp_path / "nope")],
        capture_output=True, text=True, env=env,
    )
    assert bad.returncode == 2 and "no such folder" in bad.stderr


def test_export_of_a_missing_model_is_one_line(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "missing.keras"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.keras" in err
