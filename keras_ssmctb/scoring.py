"""Frame and image anomaly scores from model outputs (numpy in, numpy out)."""

import numpy as np


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
