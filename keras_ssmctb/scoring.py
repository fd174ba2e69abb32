"""Frame and image anomaly scores from model outputs (numpy in, numpy out)."""

import numpy as np
from scipy import ndimage


def psnr(prediction, target, max_val=1.0):
    """Per-sample peak signal-to-noise ratio in dB.

    Args:
        prediction, target: arrays of the same shape `(batch, ...)`.
        max_val: the data range (1.0 for frames in [0, 1]; 2.0 for [-1, 1]).

    Returns:
        float64 array of shape `(batch,)`. Identical samples give `inf`.
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if prediction.shape != target.shape:
        raise ValueError(
            f"`prediction` and `target` must have the same shape. Received: "
            f"{prediction.shape} and {target.shape}"
        )
    axes = tuple(range(1, prediction.ndim))
    mse = np.mean((prediction - target) ** 2, axis=axes)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(max_val**2 / mse)


def _per_video(scores, name="scores"):
    """Validate a list of per-video 1-D score arrays; return float64 copies."""
    if isinstance(scores, np.ndarray) or not isinstance(scores, (list, tuple)):
        raise ValueError(
            f"`{name}` must be a list with one 1-D array per video. Received: "
            f"{type(scores).__name__} (wrap a single video's array in a list)."
        )
    videos = []
    for index, video in enumerate(scores):
        video = np.array(video, dtype=np.float64)
        if video.ndim != 1 or video.size == 0:
            raise ValueError(
                f"`{name}[{index}]` must be a non-empty 1-D array. Received shape {video.shape}."
            )
        if np.isnan(video).any():
            raise ValueError(f"`{name}[{index}]` contains NaN.")
        videos.append(video)
    return videos


def min_max_normalize(scores):
    """Min-max normalise each video's scores to [0, 1] separately.

    The per-video normalisation of Liu et al. (CVPR 2018) and Park et al.
    (MNAD, CVPR 2020). A video whose scores are all equal has no range; its
    normalised scores are all zeros (documented choice: no evidence of an
    anomaly).

    Args:
        scores: a list of 1-D arrays, one per video (finite values).

    Returns:
        A list of float64 arrays in [0, 1], same lengths.

    Raises:
        ValueError: not a list of non-empty 1-D arrays, or NaN / infinite
            values (use `frame_anomaly_scores` for PSNR, which handles inf).
    """
    normalized = []
    for index, video in enumerate(_per_video(scores)):
        if not np.all(np.isfinite(video)):
            raise ValueError(f"`scores[{index}]` contains infinite values.")
        low, high = video.min(), video.max()
        normalized.append((video - low) / (high - low) if high > low else np.zeros_like(video))
    return normalized


def smooth_scores(scores, sigma):
    """Temporal Gaussian smoothing of each video's frame scores.

    Uses `scipy.ndimage.gaussian_filter1d` with `mode="nearest"` (the ends
    repeat the edge score), per video, so no score leaks across videos.

    Args:
        scores: a list of 1-D arrays, one per video.
        sigma: the Gaussian's standard deviation in frames; 0 returns copies.

    Returns:
        A list of float64 arrays of the same lengths.
    """
    if not np.isscalar(sigma) or not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"`sigma` must be a number >= 0. Received: {sigma!r}")
    videos = _per_video(scores)
    if sigma == 0:
        return videos
    return [ndimage.gaussian_filter1d(video, float(sigma), mode="nearest") for video in videos]


def frame_anomaly_scores(psnr_per_video, sigma=0.0):
    """Frame anomaly scores from per-frame PSNR: 1 - min-max-normalised PSNR per video.

    The score of Park et al. (MNAD) and Liu et al.: a well predicted frame
    (high PSNR) is normal. PSNR is normalised per video; `+inf` (a perfect
    prediction) is replaced by the video's largest finite PSNR first (all
    `+inf` gives zeros). Optionally smoothed in time afterwards.

    Args:
        psnr_per_video: a list of 1-D PSNR arrays (dB), one per video, e.g.
            `FrameClipDataset.group_by_video(psnr(predictions, targets))`.
        sigma: temporal Gaussian smoothing in frames (0 = none).

    Returns:
        A list of float64 arrays in [0, 1] (higher = more abnormal).

    Raises:
        ValueError: not a list of 1-D arrays, NaN, or `-inf` values.

    Example:

    ```python
    frame_anomaly_scores([np.array([30.0, 20.0, 25.0])])  # [array([0. , 1. , 0.5])]
    ```
    """
    videos = _per_video(psnr_per_video, "psnr_per_video")
    finite_videos = []
    for index, video in enumerate(videos):
        if np.isneginf(video).any():
            raise ValueError(f"`psnr_per_video[{index}]` contains -inf.")
        finite = video[np.isfinite(video)]
        finite_videos.append(
            np.where(np.isposinf(video), finite.max() if finite.size else 0.0, video)
        )
    scores = [1.0 - video for video in min_max_normalize(finite_videos)]
    # A constant video normalises to zeros, so its scores are ones; make it 0
    # (no evidence of an anomaly) like min_max_normalize.
    scores = [np.zeros_like(s) if np.ptp(v) == 0 else s for s, v in zip(scores, finite_videos)]
    return smooth_scores(scores, sigma)
