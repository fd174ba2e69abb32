"""What SSMCTB and SSPCAB share: conv -> attention -> output, plus its own loss."""

import keras
from keras import ops

from keras_ssmctb import losses
from keras_ssmctb.layers.masked_conv import (
    MaskedConv2D,
    MaskedConv3D,
    _standardize_data_format,
    validate_masked_geometry,
)

CONV_TYPES = ("masked", "dilated")


class SelfSupervisedBlock(keras.layers.Layer):
    """Base of the self-supervised reconstruction blocks.

    Builds a masked convolution (2D or 3D from the input rank) with as many
    filters as the input has channels, then the subclass's attention; on every
    call registers `loss_weight * loss(x_hat, x)` with `add_loss`, computed in
    float32, and optionally returns the per-position reconstruction error
    ||x_hat - x||_2 over channels as the block's own anomaly map (paper,
    Sec. 3.1).
    """

    def __init__(
        self,
        kernel_size=1,
        dilation=1,
        masked_size=1,
        loss="huber",
        huber_delta=1.0,
        loss_weight=0.1,
        conv="masked",
        filters=None,
        output_error=False,
        data_format=None,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        validate_masked_geometry(kernel_size, dilation, masked_size)
        losses.validate_loss_name(loss)
        if conv not in CONV_TYPES:
            raise ValueError(f"`conv` must be one of {CONV_TYPES}. Received: conv={conv!r}")
        if conv == "dilated" and masked_size != 1:
            raise ValueError(
                f"`masked_size` applies only to conv='masked'; the dilated control "
                f"masks nothing. Received: conv='dilated', masked_size={masked_size}"
            )
        if not isinstance(huber_delta, (int, float)) or huber_delta <= 0:
            raise ValueError(f"`huber_delta` must be > 0. Received: huber_delta={huber_delta!r}")
        if not isinstance(loss_weight, (int, float)) or loss_weight < 0:
            raise ValueError(f"`loss_weight` must be >= 0. Received: loss_weight={loss_weight!r}")
        if filters is not None and (not isinstance(filters, int) or filters < 1):
            raise ValueError(f"`filters` must be None or a positive int. Received: filters={filters!r}")
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.masked_size = masked_size
        self.loss = loss
        self.huber_delta = float(huber_delta)
        self.loss_weight = float(loss_weight)
        self.conv = conv
        self.filters = filters
        self.output_error = output_error
        self.data_format = _standardize_data_format(data_format)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        if len(input_shape) not in (4, 5):
            raise ValueError(
                f"{self.__class__.__name__} expects a 2D feature map (rank 4: batch, "
                f"height, width, channels) or a 3D one (rank 5). Received: "
                f"input_shape={tuple(input_shape)}"
            )
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(
                f"{self.__class__.__name__} needs a known channel dimension. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if self.filters is not None and self.filters != channels:
            raise ValueError(
                f"{self.__class__.__name__} reconstructs its input, so `filters` must "
                f"equal the input's channel count ({channels}) or be None. "
                f"Received: filters={self.filters}"
            )
        self.rank = len(input_shape) - 2
        if self.conv == "masked":
            conv_class = MaskedConv2D if self.rank == 2 else MaskedConv3D
            self.conv_layer = conv_class(
                filters=channels,
                kernel_size=self.kernel_size,
                dilation=self.dilation,
                masked_size=self.masked_size,
                data_format=self.data_format,
                kernel_initializer=self.kernel_initializer,
                kernel_regularizer=self.kernel_regularizer,
                dtype=self.dtype_policy,
                name="masked_conv",
            )
        else:
            conv_class = keras.layers.Conv2D if self.rank == 2 else keras.layers.Conv3D
            # The SSDCTB control (paper, Table 12): an ordinary dilated conv
            # whose outer taps sit where the masked conv's corners do, with the
            # centre visible.
            self.conv_layer = conv_class(
                channels,
                2 * self.kernel_size + 1,
                dilation_rate=self.dilation + 1,
                padding="same",
                activation="relu",
                data_format=self.data_format,
                kernel_initializer=self.kernel_initializer,
                kernel_regularizer=self.kernel_regularizer,
                dtype=self.dtype_policy,
                name="dilated_conv",
            )
        self.conv_layer.build(input_shape)
        self.build_attention(input_shape)

    def build_attention(self, input_shape):
        raise NotImplementedError

    def attend(self, features, training=None):
        raise NotImplementedError

    def call(self, inputs, training=None):
        reconstruction = self.attend(self.conv_layer(inputs), training=training)
        self.add_loss(
            self.loss_weight
            * losses.reconstruction_loss(
                self.loss,
                reconstruction,
                inputs,
                huber_delta=self.huber_delta,
                data_format=self.data_format,
            )
        )
        if self.output_error:
            return reconstruction, self.error_map(reconstruction, inputs)
        return reconstruction

    def error_map(self, reconstruction, inputs):
        """Per-position ||x_hat - x||_2 over channels, float32, channel axis kept."""
        difference = ops.cast(reconstruction, "float32") - ops.cast(inputs, "float32")
        return ops.sqrt(ops.sum(ops.square(difference), axis=self._channel_axis(), keepdims=True))

    def compute_output_shape(self, input_shape):
        if self.output_error:
            error_shape = list(input_shape)
            error_shape[self._channel_axis()] = 1
            return tuple(input_shape), tuple(error_shape)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                "dilation": self.dilation,
                "masked_size": self.masked_size,
                "loss": self.loss,
                "huber_delta": self.huber_delta,
                "loss_weight": self.loss_weight,
                "conv": self.conv,
                "filters": self.filters,
                "output_error": self.output_error,
                "data_format": self.data_format,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config
