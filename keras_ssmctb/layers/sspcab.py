"""SSPCAB: the self-supervised predictive convolutional attentive block."""

import keras
from keras import ops

from keras_ssmctb.layers.self_supervised_block import SelfSupervisedBlock


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class SSPCAB(SelfSupervisedBlock):
    """Self-supervised predictive convolutional attentive block (CVPR 2022).

    SSMCTB's predecessor: a masked convolution followed by squeeze-and-
    excitation channel attention (global average pooling -> Dense(C / r, relu)
    -> Dense(C, sigmoid) -> scale), trained by its own MSE loss weighted by
    `loss_weight`, registered with `add_loss` on every call.

    Args:
        kernel_size: k', sub-kernel size (default 1).
        dilation: d >= 0 (default 1).
        reduction_ratio: r of the squeeze-and-excitation (default 8); the
            input must have at least r channels.
        loss_weight: lambda (default 0.1).
        masked_size: side of the masked centre (default 1).
        loss: default "mse" (the SSPCAB paper); "huber", "mae", "ssim" also work.
        output_error: if True, return `(x_hat, error_map)` as `SSMCTB` does.
        data_format: "channels_last" (default) or "channels_first".

    Call arguments:
        inputs: a rank-4 (2D) or rank-5 (3D) feature map.

    Example:

    >>> import numpy as np
    >>> from keras_ssmctb import SSPCAB
    >>> SSPCAB()(np.ones((2, 16, 16, 16), "float32")).shape
    (2, 16, 16, 16)

    Reference:
        Ristea, Madan et al., "Self-Supervised Predictive Convolutional
        Attentive Block for Anomaly Detection", CVPR 2022.
    """

    def __init__(self, kernel_size=1, dilation=1, reduction_ratio=8, loss_weight=0.1, **kwargs):
        kwargs.setdefault("loss", "mse")
        super().__init__(
            kernel_size=kernel_size, dilation=dilation, loss_weight=loss_weight, **kwargs
        )
        if not isinstance(reduction_ratio, int) or isinstance(reduction_ratio, bool) or reduction_ratio < 1:
            raise ValueError(
                f"`reduction_ratio` must be a positive int. Received: "
                f"reduction_ratio={reduction_ratio!r}"
            )
        self.reduction_ratio = reduction_ratio

    def build_attention(self, input_shape):
        channels = input_shape[self._channel_axis()]
        if channels < self.reduction_ratio:
            raise ValueError(
                f"SSPCAB's squeeze-and-excitation needs at least `reduction_ratio` "
                f"input channels (it squeezes C to C // r). Received: "
                f"{channels} channels, reduction_ratio={self.reduction_ratio}; use "
                f"reduction_ratio <= {channels}"
            )
        self.squeeze = keras.layers.Dense(
            channels // self.reduction_ratio, activation="relu", dtype=self.dtype_policy, name="squeeze"
        )
        self.excite = keras.layers.Dense(
            channels, activation="sigmoid", dtype=self.dtype_policy, name="excite"
        )
        self.squeeze.build((None, channels))
        self.excite.build((None, channels // self.reduction_ratio))

    def attend(self, features, training=None):
        channels_last = self.data_format == "channels_last"
        spatial_axes = tuple(range(1, self.rank + 1)) if channels_last else tuple(range(2, self.rank + 2))
        weights = self.excite(self.squeeze(ops.mean(features, axis=spatial_axes)))
        if channels_last:
            weights = ops.reshape(weights, (-1,) + (1,) * self.rank + (weights.shape[-1],))
        else:
            weights = ops.reshape(weights, (-1, weights.shape[-1]) + (1,) * self.rank)
        return features * weights

    def get_config(self):
        config = super().get_config()
        config["reduction_ratio"] = self.reduction_ratio
        return config
