"""Reconstruction losses shared by the self-supervised blocks and the models.

Functions here take `keras.ops` tensors and work on every backend. They compute
in float32 whatever the inputs' dtype, so a block under a mixed-precision
policy still registers an accurate loss.
"""

from keras import ops

RECONSTRUCTION_LOSSES = ("huber", "mse", "mae", "ssim")


def validate_loss_name(loss):
    if loss not in RECONSTRUCTION_LOSSES:
        raise ValueError(
            f"`loss` must be one of {RECONSTRUCTION_LOSSES}. Received: loss={loss!r}"
        )


def huber(y_pred, y_true, delta=1.0):
    """Mean Huber loss (paper, Eq. 7)."""
    error = ops.abs(ops.cast(y_pred, "float32") - ops.cast(y_true, "float32"))
    quadratic = ops.minimum(error, delta)
    linear = error - quadratic
    return ops.mean(0.5 * quadratic * quadratic + delta * linear)


def ssim(y_pred, y_true, max_val=1.0, window_size=7, data_format="channels_last"):
    """Mean structural similarity of two N-D images (2D or 3D, batched).

    Local statistics use a uniform `window_size` window (the scikit-image
    default) with valid padding, per channel; the window shrinks to the
    smallest spatial side when the input is smaller. `max_val` is the data
    range L in the constants C1 = (0.01 L)^2 and C2 = (0.03 L)^2.
    """
    x = ops.cast(y_pred, "float32")
    y = ops.cast(y_true, "float32")
    rank = len(x.shape) - 2
    spatial = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
    known = [s for s in spatial if s is not None]
    window = min([window_size] + known)
    pool = (window,) * rank

    def local_mean(t):
        return ops.average_pool(
            t, pool, strides=1, padding="valid", data_format=data_format
        )

    c1 = (0.01 * max_val) ** 2
    c2 = (0.03 * max_val) ** 2
    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x * mu_x
    var_y = local_mean(y * y) - mu_y * mu_y
    cov = local_mean(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return ops.mean(numerator / denominator)


def reconstruction_loss(
    loss, y_pred, y_true, huber_delta=1.0, data_format="channels_last"
):
    """Mean reconstruction loss by name: "huber", "mse", "mae" or "ssim" (1 - SSIM)."""
    if loss == "huber":
        return huber(y_pred, y_true, huber_delta)
    if loss == "ssim":
        return 1.0 - ssim(y_pred, y_true, data_format=data_format)
    difference = ops.cast(y_pred, "float32") - ops.cast(y_true, "float32")
    if loss == "mse":
        return ops.mean(ops.square(difference))
    if loss == "mae":
        return ops.mean(ops.abs(difference))
    validate_loss_name(loss)
