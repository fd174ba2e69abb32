import numpy as np
import pytest
from PIL import Image

from keras_ssmctb import plots


def _is_png(path):
    with Image.open(path) as image:
        return (
            image.format == "PNG"
            and min(image.size) > 100
            and len(set(image.convert("L").getdata())) > 10
        )


def test_frame_scores_plot(tmp_path):
    frames = 120
    labels = np.zeros(frames, dtype=int)
    labels[30:55] = labels[80:95] = 1
    rng = np.random.default_rng(0)
    ours = np.clip(0.2 + 0.6 * labels + 0.08 * rng.normal(size=frames), 0, 1)
    baseline = np.clip(0.3 + 0.3 * labels + 0.12 * rng.normal(size=frames), 0, 1)
    path = plots.plot_frame_scores(
        tmp_path / "figs" / "video_21.png",
        ours,
        labels,
        title="Synthetic test video 00",
        other_scores={"baseline": baseline},
        score_label="+SSMCTB",
        frame_indices=np.arange(4, 4 + frames),
    )
    assert path.exists() and _is_png(path)
    assert plots._abnormal_intervals(labels) == [(30, 54), (80, 94)]
    with pytest.raises(ValueError, match="baseline.*119 frames; expected 120"):
        plots.plot_frame_scores(
            tmp_path / "x.png", ours, labels, other_scores={"baseline": baseline[:-1]}
        )
    with pytest.raises(ValueError, match="labels"):
        plots.plot_frame_scores(tmp_path / "x.png", ours, labels[:-1])


def test_anomaly_overlay_plot(tmp_path):
    rng = np.random.default_rng(1)
    image = (rng.random((64, 64, 3)) * 120 + 60).astype(np.uint8)
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[20:36, 24:44] = 1
    yy, xx = np.mgrid[:32, :32]
    ours = np.exp(-(((yy - 14) / 5.0) ** 2 + ((xx - 17) / 6.0) ** 2))  # a map at half resolution
    baseline = np.exp(-(((yy - 18) / 7.0) ** 2 + ((xx - 12) / 7.0) ** 2))
    path = plots.plot_anomaly_overlay(
        tmp_path / "overlay.png", image, ours, gt_mask=mask, other_map=baseline, title="defect 003"
    )
    assert _is_png(path)
    gray = plots.plot_anomaly_overlay(
        tmp_path / "gray.png", image[..., :1].astype(np.float32) / 255, ours, threshold=0.5
    )
    assert _is_png(gray)
    with pytest.raises(ValueError, match=r"gt_mask.*\(32, 32\).*\(64, 64\)"):
        plots.plot_anomaly_overlay(tmp_path / "bad.png", image, ours, gt_mask=mask[:32, :32])
