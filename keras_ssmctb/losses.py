"""Reconstruction losses shared by the self-supervised blocks and the models.

Functions here take `keras.ops` tensors and work on every backend. They compute
in float32 whatever the inputs' dtype, so a block under a mixed-precision
policy still registers an accurate loss.
"""

import keras
from keras import ops

RECONSTRUCTION_LOSSES = ("huber", "mse", "mae", "ssim")

if keras.backend.backend() == "torch":
    # The backend is fixed at import; see `_mean_pointwise_loss` for why torch's own losses.
    from torch.nn import functional as torch_functional
else:
    torch_functional = None


def validate_loss_name(loss):
    if loss not in RECONSTRUCTION_LOSSES:
        raise ValueError(
            f"`loss` must be one of {RECONSTRUCTION_LOSSES}. Received: loss={loss!r}"
        )


def huber(y_pred, y_true, delta=1.0):
    """Mean Huber loss (paper, Eq. 7)."""
    return _mean_pointwise_loss("huber", y_pred, y_true, delta)


def _mean_pointwise_loss(kind, y_pred, y_true, delta=1.0):
    """Mean of an elementwise loss ("huber", "mse" or "mae") over all elements, in float32."""
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(y_true, "float32")
    if torch_functional is not None and tuple(y_pred.shape) == tuple(y_true.shape):
        # PyTorch runs eagerly: written with keras.ops, each elementwise step is
        # a pass that allocates a full-size temporary (Huber: 5 passes, 4 ms on
        # the 8x64x64x16 map of the main job's block); torch's own loss is one
        # fused kernel forward and one backward (0.07 ms).
        if kind == "huber":
            return torch_functional.huber_loss(y_pred, y_true, delta=delta)
        if kind == "mse":
            return torch_functional.mse_loss(y_pred, y_true)
        return torch_functional.l1_loss(y_pred, y_true)
    error = y_pred - y_true
    if kind == "mse":
        return ops.mean(ops.square(error))
    if kind == "mae":
        return ops.mean(ops.abs(error))
    # With q = clip(error, -delta, delta), q * (error - q / 2) is error^2 / 2
    # for |error| <= delta and delta * (|error| - delta / 2) beyond: the
    # textbook form in fewer full-size passes (no abs, no separate linear part).
    clipped = ops.clip(error, -delta, delta)
    return ops.mean(clipped * (error - 0.5 * clipped))


def ssim(y_pred, y_true, max_val=1.0, window_size=7, data_format="channels_last"):
    """Mean structural similarity of two N-D images (2D or 3D, batched).

    Local statistics use a uniform `window_size` window (the scikit-image
    default) with valid padding, per channel; the window shrinks to the
    smallest spatial side when the input is smaller. `max_val` is the data
    range L in the constants C1 = (0.01 L)^2 and C2 = (0.03 L)^2.
    """
    return ops.mean(ssim_map(y_pred, y_true, max_val, window_size, data_format))


def ssim_map(y_pred, y_true, max_val=1.0, window_size=7, data_format="channels_last"):
    """The local SSIM values whose mean is `ssim`, float32, batch axis kept.

    Shape: the input's, with each spatial side reduced by `window - 1`
    (valid padding), channel axis kept.
    """
    x = ops.cast(y_pred, "float32")
    y = ops.cast(y_true, "float32")
    rank = len(x.shape) - 2
    spatial = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
    known = [s for s in spatial if s is not None]
    window = min([window_size] + known)

    def local_mean(t):
        # The uniform window is separable: one 1-D mean per spatial axis
        # equals the full window's mean at a fraction of the cost (and of
        # its gradient's cost, which matters in 3D).
        for axis in range(rank):
            pool = [1] * rank
            pool[axis] = window
            t = ops.average_pool(
                t, tuple(pool), strides=1, padding="valid", data_format=data_format
            )
        return t

    c1 = (0.01 * max_val) ** 2
    c2 = (0.03 * max_val) ** 2
    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x * mu_x
    var_y = local_mean(y * y) - mu_y * mu_y
    cov = local_mean(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return numerator / denominator


def reconstruction_loss(
    loss, y_pred, y_true, huber_delta=1.0, data_format="channels_last"
):
    """Mean reconstruction loss by name: "huber", "mse", "mae" or "ssim" (1 - SSIM)."""
    if loss == "huber":
        return huber(y_pred, y_true, huber_delta)
    if loss == "ssim":
        return 1.0 - ssim(y_pred, y_true, data_format=data_format)
    validate_loss_name(loss)
    return _mean_pointwise_loss(loss, y_pred, y_true)


def _per_sample_mean(values):
    """Mean over every axis but the batch axis: (batch, ...) -> (batch,)."""
    if len(values.shape) <= 1:
        return values
    return ops.mean(values, axis=tuple(range(1, len(values.shape))))


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class SSIMLoss(keras.losses.Loss):
    """Structural dissimilarity loss, 1 - SSIM, per sample.

    The reconstruction loss DRAEM adds to L2 (Zavrtanik et al., 2021, Eq. 1).
    Local statistics use a uniform `window_size` window over each channel
    (DRAEM's reference code uses an 11x11 Gaussian window; the uniform window
    is the scikit-image default and needs no extra parameter). Works on 2D and
    3D images (rank 4 or 5, channels last).

    Args:
        max_val: the data range L (1.0 for images in [0, 1]).
        window_size: side of the local window (default 11, as DRAEM);
            shrinks to the smallest spatial side of smaller inputs.
        reduction, name, dtype: as for every `keras.losses.Loss`.

    Example:

    >>> import numpy as np
    >>> from keras_ssmctb.losses import SSIMLoss
    >>> x = np.random.default_rng(0).uniform(size=(2, 16, 16, 1)).astype("float32")
    >>> float(SSIMLoss()(x, x)) < 1e-6
    True
    """

    def __init__(self, max_val=1.0, window_size=11, reduction="sum_over_batch_size", name="ssim_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not isinstance(window_size, int) or window_size < 1:
            raise ValueError(f"`window_size` must be a positive int. Received: window_size={window_size!r}")
        if max_val <= 0:
            raise ValueError(f"`max_val` must be > 0. Received: max_val={max_val!r}")
        self.max_val = float(max_val)
        self.window_size = window_size

    def call(self, y_true, y_pred):
        return 1.0 - _per_sample_mean(ssim_map(y_pred, y_true, self.max_val, self.window_size))

    def get_config(self):
        config = super().get_config()
        config.update({"max_val": self.max_val, "window_size": self.window_size})
        return config


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class GradientLoss(keras.losses.Loss):
    """Image gradient-difference loss of future-frame prediction.

    Liu et al. (2018), Eq. 2: the L1 distance between the absolute
    neighbour differences of the prediction and of the target, along every
    spatial axis, summed over axes and averaged over positions and channels.
    Differences are taken between valid neighbours (no border padding).
    Works on 2D and 3D images (channels last).

    Args:
        reduction, name, dtype: as for every `keras.losses.Loss`.

    Example:

    >>> import numpy as np
    >>> from keras_ssmctb.losses import GradientLoss
    >>> x = np.zeros((1, 4, 4, 1), "float32"); y = x.copy(); y[0, :, 2:] = 1.0
    >>> round(float(GradientLoss()(y, x)), 4)  # one vertical edge in 4 x 3 differences
    0.3333
    """

    def __init__(self, reduction="sum_over_batch_size", name="gradient_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        total = 0.0
        for axis in range(1, len(y_pred.shape) - 1):
            size = y_pred.shape[axis]
            head = [slice(None)] * len(y_pred.shape)
            tail = [slice(None)] * len(y_pred.shape)
            head[axis] = slice(1, size)
            tail[axis] = slice(0, size - 1)
            head, tail = tuple(head), tuple(tail)
            true_gradient = ops.abs(y_true[head] - y_true[tail])
            pred_gradient = ops.abs(y_pred[head] - y_pred[tail])
            total = total + _per_sample_mean(ops.abs(true_gradient - pred_gradient))
        return total


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class FocalLoss(keras.losses.Loss):
    """Focal loss on per-position class probabilities (DRAEM's segmentation loss).

    FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t) (Lin et al., 2017), with
    DRAEM's label smoothing: the one-hot target is clipped to
    [smooth / (K - 1), 1 - smooth] and `smooth` is added to p_t before the
    log. Returns one value per position; the default reduction averages them.

    Args:
        gamma: focusing parameter (default 2, as DRAEM).
        alpha: None (every class weighs 1) or a list of K class weights.
        smooth: label smoothing and log guard (default 1e-5, as DRAEM).
        reduction, name, dtype: as for every `keras.losses.Loss`.

    Call arguments:
        y_true: class indices of shape (batch, ..., 1) (e.g. a binary anomaly
            mask) or one-hot targets of shape (batch, ..., K).
        y_pred: probabilities (softmax output) of shape (batch, ..., K), K >= 2.

    Example:

    >>> import numpy as np
    >>> from keras_ssmctb.losses import FocalLoss
    >>> mask = np.zeros((1, 4, 4, 1), "float32")
    >>> probabilities = np.stack([np.full((1, 4, 4), 0.9), np.full((1, 4, 4), 0.1)], -1)
    >>> round(float(FocalLoss()(mask, probabilities.astype("float32"))), 4)
    0.0011
    """

    def __init__(self, gamma=2.0, alpha=None, smooth=1e-5, reduction="sum_over_batch_size", name="focal_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if gamma < 0:
            raise ValueError(f"`gamma` must be >= 0. Received: gamma={gamma!r}")
        if not 0 <= smooth < 0.5:
            raise ValueError(f"`smooth` must be in [0, 0.5). Received: smooth={smooth!r}")
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else [float(a) for a in alpha]
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        num_classes = y_pred.shape[-1]
        if num_classes is None or num_classes < 2:
            raise ValueError(
                f"FocalLoss needs class probabilities with K >= 2 on the last axis. "
                f"Received: y_pred.shape={tuple(y_pred.shape)}"
            )
        if self.alpha is not None and len(self.alpha) != num_classes:
            raise ValueError(
                f"`alpha` needs one weight per class ({num_classes}). Received: alpha={self.alpha}"
            )
        if y_true.shape[-1] == 1:
            indices = ops.cast(ops.round(ops.squeeze(ops.cast(y_true, "float32"), -1)), "int32")
            target = ops.one_hot(indices, num_classes, dtype="float32")
        elif y_true.shape[-1] == num_classes:
            target = ops.cast(y_true, "float32")
        else:
            raise ValueError(
                f"FocalLoss takes y_true with 1 (class index) or {num_classes} (one-hot) "
                f"channels. Received: y_true.shape={tuple(y_true.shape)}"
            )
        if self.smooth:
            target = ops.clip(target, self.smooth / (num_classes - 1), 1.0 - self.smooth)
        p_t = ops.sum(target * y_pred, axis=-1) + self.smooth
        loss = -ops.power(1.0 - p_t, self.gamma) * ops.log(p_t)
        if self.alpha is not None:
            class_weight = ops.sum(target * ops.convert_to_tensor(self.alpha, "float32"), axis=-1)
            loss = class_weight * loss
        return loss

    def get_config(self):
        config = super().get_config()
        config.update({"gamma": self.gamma, "alpha": self.alpha, "smooth": self.smooth})
        return config


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class LossSum(keras.losses.Loss):
    """Weighted sum of losses on the same (y_true, y_pred) pair.

    Each term is computed unreduced, averaged per sample, weighted and
    summed; the result is reduced over the batch as usual, so `sample_weight`
    still applies. The models use it for Liu et al.'s intensity + gradient
    loss and DRAEM's L2 + SSIM loss on one output.

    Args:
        losses: list of `keras.losses.Loss` instances or their class names
            (e.g. "MeanSquaredError"; function names such as "mse" name
            functions, not `Loss` objects, and are rejected).
        weights: one float per loss (default: all 1).
        reduction, name, dtype: as for every `keras.losses.Loss`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_ssmctb.losses import LossSum, SSIMLoss
    >>> loss = LossSum([keras.losses.MeanSquaredError(), SSIMLoss()], weights=[1.0, 1.0])
    >>> x = np.zeros((2, 16, 16, 1), "float32")
    >>> float(loss(x, x))
    0.0
    """

    def __init__(self, losses, weights=None, reduction="sum_over_batch_size", name="loss_sum", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not isinstance(losses, (list, tuple)) or not losses:
            raise ValueError(f"`losses` must be a non-empty list of losses. Received: losses={losses!r}")
        self.losses = [keras.losses.get(loss) for loss in losses]
        for loss in self.losses:
            if not isinstance(loss, keras.losses.Loss):
                raise ValueError(
                    f"LossSum needs `keras.losses.Loss` instances or their class names "
                    f"(e.g. 'MeanSquaredError'). Received: {loss!r}"
                )
        if weights is None:
            weights = [1.0] * len(self.losses)
        if len(weights) != len(self.losses):
            raise ValueError(
                f"`weights` needs one value per loss ({len(self.losses)}). Received: weights={weights!r}"
            )
        self.weights = [float(w) for w in weights]

    def call(self, y_true, y_pred):
        total = 0.0
        for loss, weight in zip(self.losses, self.weights):
            total = total + weight * _per_sample_mean(ops.cast(loss.call(y_true, y_pred), "float32"))
        return total

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "losses": [keras.losses.serialize(loss) for loss in self.losses],
                "weights": self.weights,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["losses"] = [keras.losses.deserialize(loss) for loss in config["losses"]]
        return cls(**config)
