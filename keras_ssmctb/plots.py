"""Figures of the paper's kind, written to PNG files (no windows).

- `plot_frame_scores`: frame-level anomaly scores over a test video with
  the ground-truth abnormal intervals shaded, optionally against a baseline
  (the paper's Figures 6-9).
- `plot_anomaly_overlay`: an image with ground-truth (red) and predicted
  (green; a second method in blue) anomaly contours, beside the anomaly
  heatmap (Figures 4-5).

Matplotlib's object API with the Agg canvas is used directly, so the
global backend and `pyplot` state of the caller are never touched.
"""

import pathlib

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

GROUND_TRUTH_COLOR = "tab:red"
PREDICTION_COLOR = "tab:green"
OTHER_COLOR = "tab:blue"


def _save(figure, path):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=120, format="png")
    return path


def _abnormal_intervals(labels):
    """(first, last) index pairs of the runs of 1 in a 0/1 array."""
    padded = np.concatenate([[0], labels.astype(np.int8), [0]])
    changes = np.flatnonzero(np.diff(padded))
    return list(zip(changes[0::2], changes[1::2] - 1))


def _curve(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array. Received shape {values.shape}.")
    return values


def plot_frame_scores(
    path,
    scores,
    labels=None,
    title=None,
    other_scores=None,
    score_label="ours",
    frame_indices=None,
    threshold=None,
):
    """Plot frame-level anomaly scores of a video with abnormal intervals shaded.

    Args:
        path: the PNG file to write (folders are created).
        scores: `(T,)` anomaly scores of the method shown in green, or a dict
            `{label: (T,) scores}` for several curves.
        labels: optional `(T,)` 0/1 ground truth; runs of 1 are shaded red.
        title: optional title, e.g. `"Avenue, test video 21"`.
        other_scores: optional dict `{label: (T,) scores}` of other methods
            (e.g. `{"baseline": ...}`), drawn beneath in blue shades.
        score_label: legend label of `scores` when it is an array.
        frame_indices: optional `(T,)` frame numbers for the x axis (e.g.
            starting at T input frames for a prediction model); default
            `0 … T-1`.
        threshold: optional horizontal line at a decision threshold.

    Returns:
        The `pathlib.Path` of the written PNG.

    Raises:
        ValueError: curves and labels of different lengths.

    Example:

    ```python
    plot_frame_scores("scores.png", ours, labels, other_scores={"baseline": base})
    ```
    """
    curves = dict(scores) if isinstance(scores, dict) else {score_label: scores}
    curves = {name: _curve(values, f"scores '{name}'") for name, values in curves.items()}
    others = {
        name: _curve(values, f"other_scores '{name}'")
        for name, values in (other_scores or {}).items()
    }
    length = len(next(iter(curves.values())))
    for name, values in {**others, **curves}.items():
        if len(values) != length:
            raise ValueError(f"Curve '{name}' has {len(values)} frames; expected {length}.")
    x = np.arange(length) if frame_indices is None else _curve(frame_indices, "frame_indices")
    if len(x) != length:
        raise ValueError(f"`frame_indices` has {len(x)} entries; expected {length}.")

    figure = Figure(figsize=(8.0, 3.2))
    axes = figure.add_subplot()
    handles = []
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (length,):
            raise ValueError(f"`labels` has shape {labels.shape}; expected ({length},).")
        step = np.median(np.diff(x)) if length > 1 else 1.0
        for first, last in _abnormal_intervals(labels != 0):
            axes.axvspan(
                x[first] - step / 2,
                x[last] + step / 2,
                color=GROUND_TRUTH_COLOR,
                alpha=0.18,
                linewidth=0,
            )
        handles.append(
            Patch(facecolor=GROUND_TRUTH_COLOR, alpha=0.25, label="ground-truth anomaly")
        )
    blues = ["tab:blue", "tab:cyan", "tab:purple", "tab:gray"]
    for k, (name, values) in enumerate(others.items()):
        (line,) = axes.plot(
            x, values, color=blues[k % len(blues)], linewidth=1.3, linestyle="--", label=name
        )
        handles.append(line)
    greens = ["tab:green", "tab:orange", "tab:olive", "tab:brown"]
    for k, (name, values) in enumerate(curves.items()):
        (line,) = axes.plot(x, values, color=greens[k % len(greens)], linewidth=1.8, label=name)
        handles.append(line)
    if threshold is not None:
        handles.append(
            axes.axhline(threshold, color="black", linewidth=0.8, linestyle=":", label="threshold")
        )
    axes.set_xlim(x[0], x[-1] if length > 1 else x[0] + 1)
    low = min(v.min() for v in [*curves.values(), *others.values()])
    high = max(v.max() for v in [*curves.values(), *others.values()])
    if 0.0 <= low and high <= 1.0:
        axes.set_ylim(0.0, 1.05)
    axes.set_xlabel("Frame")
    axes.set_ylabel("Anomaly score")
    axes.grid(True, alpha=0.3)
    if title:
        axes.set_title(title)
    axes.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.9)
    figure.tight_layout()
    return _save(figure, path)


def _display_image(image):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"`image` must be (H, W), (H, W, 1) or (H, W, 3). Received: {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    image = image.astype(np.float32)
    low, high = float(image.min()), float(image.max())
    if low < 0.0 or high > 1.0:  # e.g. [-1, 1] model inputs
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image


def _resized_map(anomaly_map, shape, name):
    anomaly_map = np.asarray(anomaly_map, dtype=np.float32)
    if anomaly_map.ndim == 3 and anomaly_map.shape[-1] == 1:
        anomaly_map = anomaly_map[..., 0]
    if anomaly_map.ndim != 2:
        raise ValueError(f"`{name}` must be (H, W). Received: {anomaly_map.shape}")
    if anomaly_map.shape != shape:
        anomaly_map = cv2.resize(anomaly_map, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return anomaly_map


def plot_anomaly_overlay(
    path,
    image,
    anomaly_map,
    gt_mask=None,
    threshold=None,
    other_map=None,
    other_threshold=None,
    labels=("ours", "baseline"),
    title=None,
):
    """Draw an image with anomaly contours beside its anomaly heatmap.

    Left: the image with the ground-truth region in red, the region where
    `anomaly_map >= threshold` in green and, when `other_map` is given, that
    method's region in blue (the paper's Figures 4-5: baseline blue, SSMCTB
    green, ground truth red). Right: the anomaly map as a heatmap over the
    image, with a colour bar and the ground-truth contour.

    Args:
        path: the PNG file to write.
        image: `(H, W)`, `(H, W, 1)` or `(H, W, 3)`; uint8, or float (shown
            as is in [0, 1], min-max scaled otherwise).
        anomaly_map: `(H, W)` scores; a map of another size (a model's
            resolution) is resized bilinearly to the image.
        gt_mask: optional `(H, W)` 0/1 ground truth of the image's size.
        threshold: score at which a pixel is predicted abnormal; `None`
            takes the midpoint of the map's range.
        other_map: optional second method's map (e.g. the baseline).
        other_threshold: its threshold (`None`: midpoint of its range).
        labels: legend labels of `anomaly_map` and `other_map`.
        title: optional figure title.

    Returns:
        The `pathlib.Path` of the written PNG.

    Raises:
        ValueError: a mask whose size differs from the image's, or inputs
            of the wrong rank.
    """
    shown = _display_image(image)
    shape = shown.shape[:2]
    score = _resized_map(anomaly_map, shape, "anomaly_map")
    if threshold is None:
        threshold = 0.5 * (float(score.min()) + float(score.max()))
    if gt_mask is not None:
        gt_mask = np.asarray(gt_mask)
        if gt_mask.ndim == 3 and gt_mask.shape[-1] == 1:
            gt_mask = gt_mask[..., 0]
        if gt_mask.shape != shape:
            raise ValueError(
                f"`gt_mask` has shape {gt_mask.shape} but the image is {shape} (height, width)."
            )
        gt_mask = (gt_mask != 0).astype(np.float32)

    figure = Figure(figsize=(8.4, 4.0))
    left, right = figure.subplots(1, 2)
    cmap = "gray" if shown.ndim == 2 else None
    handles = []
    left.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    if gt_mask is not None and gt_mask.any():
        left.contour(gt_mask, levels=[0.5], colors=GROUND_TRUTH_COLOR, linewidths=1.8)
        handles.append(
            Line2D([], [], color=GROUND_TRUTH_COLOR, linewidth=1.8, label="ground truth")
        )
    if other_map is not None:
        other = _resized_map(other_map, shape, "other_map")
        if other_threshold is None:
            other_threshold = 0.5 * (float(other.min()) + float(other.max()))
        other_region = (other >= other_threshold) & (other.max() > other.min())
        if other_region.any() and not other_region.all():
            left.contour(
                other_region.astype(np.float32), levels=[0.5], colors=OTHER_COLOR, linewidths=1.5
            )
        handles.append(Line2D([], [], color=OTHER_COLOR, linewidth=1.5, label=labels[1]))
    # A constant map predicts nothing (there is no contour to draw).
    predicted = ((score >= threshold) & (score.max() > score.min())).astype(np.float32)
    if predicted.any() and not predicted.all():
        left.contour(predicted, levels=[0.5], colors=PREDICTION_COLOR, linewidths=1.5)
    handles.append(
        Line2D(
            [],
            [],
            color=PREDICTION_COLOR,
            linewidth=1.5,
            label=f"{labels[0]} (score >= {threshold:.3g})",
        )
    )
    # Below the image, so that it never hides the regions.
    left.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=len(handles),
        fontsize="small",
        frameon=False,
    )
    left.set_title("Contours")
    right.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    heat = right.imshow(score, cmap="jet", alpha=0.5, interpolation="bilinear")
    if gt_mask is not None and gt_mask.any():
        right.contour(gt_mask, levels=[0.5], colors=GROUND_TRUTH_COLOR, linewidths=1.2)
    right.set_title("Anomaly map")
    figure.colorbar(heat, ax=right, fraction=0.046, pad=0.04, label="anomaly score")
    for axes in (left, right):
        axes.set_xticks([])
        axes.set_yticks([])
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)
