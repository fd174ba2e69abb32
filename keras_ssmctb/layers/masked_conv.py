"""Masked convolution: the convolution whose receptive-field centre is hidden."""

import itertools

import keras
from keras import ops


def validate_masked_geometry(kernel_size, dilation, masked_size):
    """Check the three geometry arguments of a masked convolution.

    Shared by every layer that builds a masked convolution, so that `SSMCTB`
    and `SSPCAB` reject bad arguments at construction with the same message
    as `MaskedConv2D`.
    """
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool):
        raise ValueError(
            f"`kernel_size` must be a positive int (the sub-kernel size k'). "
            f"Received: kernel_size={kernel_size!r}"
        )
    if kernel_size < 1:
        raise ValueError(
            f"`kernel_size` must be >= 1 (the sub-kernel size k'). "
            f"Received: kernel_size={kernel_size}"
        )
    if not isinstance(dilation, int) or isinstance(dilation, bool) or dilation < 0:
        raise ValueError(
            f"`dilation` must be an int >= 0 (the gap d between each sub-kernel "
            f"and the masked centre). Received: dilation={dilation!r}"
        )
    if masked_size not in (1, 2, 3) or isinstance(masked_size, bool):
        raise ValueError(
            f"`masked_size` must be 1, 2 or 3 (the side of the masked centre "
            f"region). Received: masked_size={masked_size!r}"
        )


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class MaskedConv(keras.layers.Layer):
    """Base class of the N-D masked convolution (`MaskedConv2D`, `MaskedConv3D`).

    The receptive field has side `k = 2 * kernel_size + 2 * dilation +
    masked_size`. Only its 2**rank corner blocks of side `kernel_size` carry
    weights; the centre `masked_size`-wide region, and everything between the
    corners, is zero. Stride is 1 and the input is zero-padded so that the
    output has the input's spatial shape, with the output position inside the
    masked centre. The output at a position therefore never depends on the
    input inside the masked centre around it (paper, Sec. 3.2, Figs. 2-3).

    The kernel is stored in one canonical layout whatever the backend or
    compute path: the full masked kernel with its zero middle removed, shape
    `(2 * kernel_size,) * rank + (input_channels, filters)`. Along each spatial
    axis, the first `kernel_size` entries are the "before" corner and the last
    `kernel_size` entries the "after" corner.

    Args:
        rank: 2 or 3.
        filters: number of output channels; `None` (default) uses the input's
            channel count, as the block needs to reconstruct its input.
        kernel_size: int k' >= 1, the side of each corner sub-kernel.
        dilation: int d >= 0, the gap between each sub-kernel and the masked
            centre.
        masked_size: int m in {1, 2, 3}, the side of the masked centre region.
            For even m the output position is the centre cell nearest the
            origin (the same convention as Keras' `padding="same"`).
        activation: activation after the convolution (default `"relu"`, as in
            the paper).
        use_bias: whether to add a bias.
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: as in `keras.layers.Conv2D`.
    """

    def __init__(
        self,
        rank,
        filters=None,
        kernel_size=1,
        dilation=1,
        masked_size=1,
        activation="relu",
        use_bias=True,
        data_format=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if rank not in (2, 3):
            raise ValueError(f"`rank` must be 2 or 3. Received: rank={rank!r}")
        validate_masked_geometry(kernel_size, dilation, masked_size)
        if filters is not None and (
            not isinstance(filters, int) or isinstance(filters, bool) or filters < 1
        ):
            raise ValueError(
                f"`filters` must be a positive int or None (None = the input's "
                f"channel count). Received: filters={filters!r}"
            )
        self.rank = rank
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.masked_size = masked_size
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.data_format = _standardize_data_format(data_format)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(ndim=rank + 2)

    @property
    def receptive_field(self):
        """Side k = 2k' + 2d + m of the full masked kernel."""
        return 2 * self.kernel_size + 2 * self.dilation + self.masked_size

    @property
    def padding(self):
        """Zero padding (before, after) on every spatial axis."""
        before = self.kernel_size + self.dilation + (self.masked_size - 1) // 2
        return before, self.receptive_field - 1 - before

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self.__class__.__name__} expects inputs of rank {self.rank + 2} "
                f"(batch, {self.rank} spatial axes, channels). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(
                f"{self.__class__.__name__} needs a known channel dimension "
                f"(axis {self._channel_axis()} with data_format="
                f"'{self.data_format}'). Received: input_shape={tuple(input_shape)}"
            )
        self.input_channels = channels
        filters = self.filters if self.filters is not None else channels
        self._filters = filters
        kernel_shape = (2 * self.kernel_size,) * self.rank + (channels, filters)
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        channel_axis = self._channel_axis() % (self.rank + 2)
        self.input_spec = keras.layers.InputSpec(
            ndim=self.rank + 2, axes={channel_axis: channels}
        )

    def _pad(self, inputs):
        before, after = self.padding
        spatial = [(before, after)] * self.rank
        if self.data_format == "channels_last":
            pad_width = [(0, 0)] + spatial + [(0, 0)]
        else:
            pad_width = [(0, 0), (0, 0)] + spatial
        return ops.pad(inputs, pad_width)

    def call(self, inputs):
        padded = self._pad(inputs)
        if self.kernel_size == 1:
            # With k' = 1 the corners are single taps of a 2x2(x2) kernel whose
            # taps lie k - 1 = 2d + m + 1 apart: one dilated conv computes the
            # masked conv exactly, with no multiply-add wasted on the zeros.
            outputs = ops.conv(
                padded,
                self.kernel,
                strides=1,
                padding="valid",
                data_format=self.data_format,
                dilation_rate=self.receptive_field - 1,
            )
        else:
            outputs = self._call_general(padded)
        if self.use_bias:
            bias_shape = [1] * (self.rank + 2)
            bias_shape[self._channel_axis()] = self._filters
            outputs = outputs + ops.reshape(self.bias, bias_shape)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def _call_general(self, padded):
        # One k'-conv computes all 2**rank corner responses at once (the corner
        # kernels stacked along the output channels); each corner's response is
        # then read at its offset and the responses summed. Same multiply-adds
        # as the four (eight) shifted sub-convolutions, but one conv op.
        k, kp, rank = self.receptive_field, self.kernel_size, self.rank
        filters = self._filters
        kernel = ops.reshape(
            self.kernel, sum(((2, kp) for _ in range(rank)), ()) + (-1, filters)
        )
        # (2, k', 2, k', ..., C, F) -> (k', k', ..., C, 2, 2, ..., F)
        perm = (
            [2 * i + 1 for i in range(rank)]
            + [2 * rank]
            + [2 * i for i in range(rank)]
            + [2 * rank + 1]
        )
        kernel = ops.transpose(kernel, perm)
        kernel = ops.reshape(kernel, (kp,) * rank + (-1, (2**rank) * filters))
        responses = ops.conv(
            padded, kernel, strides=1, padding="valid", data_format=self.data_format
        )
        # responses: spatial size n + k - k' along each axis (n = input size).
        spatial_axes = self._spatial_axes()
        out_sizes = [ops.shape(padded)[a] - k + 1 for a in spatial_axes]
        shift = k - kp
        outputs = None
        for corner_index, corner in enumerate(itertools.product((0, 1), repeat=rank)):
            begin = [0] * (rank + 2)
            size = list(ops.shape(responses))
            for axis, at_end, n in zip(spatial_axes, corner, out_sizes):
                begin[axis] = shift * at_end
                size[axis] = n
            channel_axis = self._channel_axis() % (rank + 2)
            begin[channel_axis] = corner_index * filters
            size[channel_axis] = filters
            part = ops.slice(responses, begin, size)
            outputs = part if outputs is None else outputs + part
        return outputs

    def _spatial_axes(self):
        if self.data_format == "channels_last":
            return list(range(1, self.rank + 1))
        return list(range(2, self.rank + 2))

    def compute_output_shape(self, input_shape):
        output_shape = list(input_shape)
        filters = self.filters
        if filters is None:
            filters = input_shape[self._channel_axis()]
        output_shape[self._channel_axis()] = filters
        return tuple(output_shape)

    def masked_kernel(self):
        """The full k x k (x k) kernel with the masked zeros in place.

        Returns a tensor of shape `(k,) * rank + (input_channels, filters)`
        equal to convolving with this layer (after padding by `padding`).
        Useful to inspect the learned weights or to compare with a plain
        convolution.
        """
        kp, rank = self.kernel_size, self.rank
        gap = self.receptive_field - 2 * kp
        kernel = self.kernel
        for axis in range(rank):
            before = ops.take(kernel, ops.arange(kp), axis=axis)
            after = ops.take(kernel, ops.arange(kp, 2 * kp), axis=axis)
            zeros_shape = list(ops.shape(kernel))
            zeros_shape[axis] = gap
            zeros = ops.zeros(zeros_shape, dtype=kernel.dtype)
            kernel = ops.concatenate([before, zeros, after], axis=axis)
        return kernel

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "dilation": self.dilation,
                "masked_size": self.masked_size,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "data_format": self.data_format,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": keras.regularizers.serialize(
                    self.activity_regularizer
                ),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        if type(self) is MaskedConv:
            config["rank"] = self.rank
        return config


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class MaskedConv2D(MaskedConv):
    """2D masked convolution (paper, Sec. 3.2, Fig. 2).

    A convolution whose k x k receptive field (k = 2k' + 2d + m) keeps weights
    only in its four k' x k' corner sub-kernels; the centre m x m region M is
    masked. Each output is thus a prediction of the hidden centre from its
    context, which is what makes the block self-supervised. With k' = 1 the
    layer runs as a single 2x2 convolution with dilation 2d + m + 1.

    Args:
        filters: output channels; `None` (default) = the input's channels.
        kernel_size: k', side of each corner sub-kernel (default 1).
        dilation: d >= 0, gap between sub-kernels and the masked centre
            (default 1).
        masked_size: m in {1, 2, 3}, side of the masked centre (default 1).
        activation: default `"relu"`.
        use_bias: default `True`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: as in `keras.layers.Conv2D`.

    Call arguments:
        inputs: tensor of shape `(batch, height, width, channels)`
            (or channels first).

    Returns:
        A tensor with the input's spatial shape and `filters` channels.

    Example:

    >>> import numpy as np
    >>> from keras_ssmctb import MaskedConv2D
    >>> layer = MaskedConv2D(kernel_size=1, dilation=1)
    >>> layer(np.ones((2, 16, 16, 8), "float32")).shape
    (2, 16, 16, 8)

    Reference:
        Madan, Ristea et al., "Self-Supervised Masked Convolutional Transformer
        Block for Anomaly Detection", TPAMI 2024.
    """

    def __init__(self, filters=None, kernel_size=1, dilation=1, masked_size=1, **kwargs):
        kwargs.pop("rank", None)
        super().__init__(
            2,
            filters=filters,
            kernel_size=kernel_size,
            dilation=dilation,
            masked_size=masked_size,
            **kwargs,
        )


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class MaskedConv3D(MaskedConv):
    """3D masked convolution (paper, Sec. 3.2, Fig. 3).

    The 3D extension of `MaskedConv2D`: eight k' x k' x k' corner sub-kernels
    around a masked m x m x m centre, for videos as volumes and medical scans.
    With k' = 1 the layer runs as a single 2x2x2 convolution with dilation
    2d + m + 1.

    Args:
        filters: output channels; `None` (default) = the input's channels.
        kernel_size: k', side of each corner sub-kernel (default 1).
        dilation: d >= 0 (default 1).
        masked_size: m in {1, 2, 3} (default 1).
        activation: default `"relu"`.
        use_bias: default `True`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: as in `keras.layers.Conv3D`.

    Call arguments:
        inputs: tensor of shape `(batch, depth, height, width, channels)`
            (or channels first).

    Returns:
        A tensor with the input's spatial shape and `filters` channels.

    Example:

    >>> import numpy as np
    >>> from keras_ssmctb import MaskedConv3D
    >>> MaskedConv3D()(np.ones((1, 4, 8, 8, 4), "float32")).shape
    (1, 4, 8, 8, 4)

    Reference:
        Madan, Ristea et al., TPAMI 2024, Sec. 3.2.
    """

    def __init__(self, filters=None, kernel_size=1, dilation=1, masked_size=1, **kwargs):
        kwargs.pop("rank", None)
        super().__init__(
            3,
            filters=filters,
            kernel_size=kernel_size,
            dilation=dilation,
            masked_size=masked_size,
            **kwargs,
        )


def _standardize_data_format(data_format):
    if data_format is None:
        return keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"`data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    return data_format

