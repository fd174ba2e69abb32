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

    def call(self, inputs):
        if self.rank == 3 and keras.backend.backend() == "jax":
            # XLA's CPU runtime has no fast 3D convolution (it falls back to a
            # loop nest, ~10x slower than its 2D one): fold the depth taps into
            # the channels and run the 2D masked convolution on every slice.
            outputs = self._depth_folded_conv(inputs, self.kernel)
        else:
            outputs = self._masked_conv(inputs, self.kernel)
        if self.use_bias:
            bias_shape = [1] * (self.rank + 2)
            bias_shape[self._channel_axis()] = self._filters
            outputs = outputs + ops.reshape(self.bias, bias_shape)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def _masked_conv(self, inputs, kernel):
        """Masked convolution of `inputs` (any rank) with the compact `kernel`."""
        if self.kernel_size == 1:
            # With k' = 1 the corners are single taps of a 2x2(x2) kernel whose
            # taps lie k - 1 = 2d + m + 1 apart: one dilated conv computes the
            # masked conv exactly, with no multiply-add wasted on the zeros.
            # Keras' "same" padding of that dilated kernel pads (k - 1) // 2
            # before, which is the masked conv's padding for every m.
            return self._conv(
                inputs, kernel, padding="same", dilation_rate=self.receptive_field - 1
            )
        return self._call_general(self._pad(inputs), kernel)

    def _call_general(self, padded, kernel=None):
        """Masked conv of an already padded input, for any k' (no bias)."""
        kernel = self.kernel if kernel is None else kernel
        # Three arrangements of the same multiply-adds; benchmarks/README.md
        # has the measurements behind the choice per backend.
        backend = keras.backend.backend()
        if backend == "torch":
            return self._gathered_corners_conv(padded, kernel)
        if backend == "tensorflow":
            return self._shifted_corners_conv(padded, kernel)
        return self._stacked_corners_conv(padded, kernel)

    def _pad(self, inputs):
        before, after = self.padding
        pad_width = [(0, 0)] * len(inputs.shape)
        for axis in self._spatial_axes(len(inputs.shape) - 2):
            pad_width[axis] = (before, after)
        return ops.pad(inputs, pad_width)

    def _conv(self, inputs, kernel, padding="valid", dilation_rate=1):
        rank = len(inputs.shape) - 2
        if self.data_format == "channels_last" and keras.backend.backend() == "torch":
            # Keras' torch conv copies a channels_last input twice (permute to
            # channels first, then back to torch's channels_last memory format).
            # A permuted view of the input already has that memory format, and
            # oneDNN convolves it in place; the output comes back the same way.
            to_first = (0, rank + 1) + tuple(range(1, rank + 1))
            to_last = (0,) + tuple(range(2, rank + 2)) + (1,)
            outputs = ops.conv(
                ops.transpose(inputs, to_first),
                kernel,
                strides=1,
                padding=padding,
                data_format="channels_first",
                dilation_rate=dilation_rate,
            )
            return ops.transpose(outputs, to_last)
        return ops.conv(
            inputs,
            kernel,
            strides=1,
            padding=padding,
            data_format=self.data_format,
            dilation_rate=dilation_rate,
        )

    def _corner_offsets(self, rank):
        """Offset of each corner block in the padded input, in kernel order."""
        shift = self.receptive_field - self.kernel_size
        return [
            tuple(shift * at_end for at_end in corner)
            for corner in itertools.product((0, 1), repeat=rank)
        ]

    def _split_kernel(self, kernel):
        """(2k', ..., C, F) -> (2, k', 2, k', ..., C, F): corner and tap axes."""
        rank = len(kernel.shape) - 2
        kp = self.kernel_size
        return ops.reshape(
            kernel, sum(((2, kp) for _ in range(rank)), ()) + tuple(kernel.shape[-2:])
        )

    def _stacked_corners_conv(self, padded, kernel):
        # One k'-conv computes all 2**rank corner responses at once (the corner
        # kernels stacked along the output channels); each corner's response is
        # then read at its offset and the responses summed. Same multiply-adds
        # as the four (eight) shifted sub-convolutions, but one conv op.
        rank = len(padded.shape) - 2
        kp, filters = self.kernel_size, kernel.shape[-1]
        # (2, k', 2, k', ..., C, F) -> (k', k', ..., C, 2, 2, ..., F)
        perm = (
            [2 * i + 1 for i in range(rank)]
            + [2 * rank]
            + [2 * i for i in range(rank)]
            + [2 * rank + 1]
        )
        stacked = ops.transpose(self._split_kernel(kernel), perm)
        stacked = ops.reshape(stacked, (kp,) * rank + (-1, (2**rank) * filters))
        responses = self._conv(padded, stacked)
        # responses: spatial size n + k - k' along each axis (n = input size).
        spatial_axes = self._spatial_axes(rank)
        channel_axis = self._channel_axis() % (rank + 2)
        padded_shape = ops.shape(padded)
        out_sizes = [padded_shape[a] - self.receptive_field + 1 for a in spatial_axes]
        outputs = None
        for index, offsets in enumerate(self._corner_offsets(rank)):
            begin = [0] * (rank + 2)
            size = list(ops.shape(responses))
            for axis, offset, n in zip(spatial_axes, offsets, out_sizes):
                begin[axis], size[axis] = offset, n
            begin[channel_axis], size[channel_axis] = index * filters, filters
            part = ops.slice(responses, begin, size)
            outputs = part if outputs is None else outputs + part
        return outputs

    def _gathered_corners_conv(self, padded, kernel):
        # The transpose of the stacked path: the 2**rank corner windows of the
        # input are stacked along the channels and one k'-conv with
        # 2**rank * C input channels sums all corners. Same multiply-adds,
        # faster where the conv is cheap and a wide output costly (torch).
        rank = len(padded.shape) - 2
        kp = self.kernel_size
        spatial_axes = self._spatial_axes(rank)
        channel_axis = self._channel_axis() % (rank + 2)
        padded_shape = ops.shape(padded)
        window = [padded_shape[a] - self.receptive_field + kp for a in spatial_axes]
        windows = []
        for offsets in self._corner_offsets(rank):
            begin = [0] * (rank + 2)
            size = list(padded_shape)
            for axis, offset, n in zip(spatial_axes, offsets, window):
                begin[axis], size[axis] = offset, n
            windows.append(ops.slice(padded, begin, size))
        gathered = ops.concatenate(windows, axis=channel_axis)
        # (2, k', 2, k', ..., C, F) -> (k', k', ..., 2, 2, ..., C, F)
        perm = (
            [2 * i + 1 for i in range(rank)]
            + [2 * i for i in range(rank)]
            + [2 * rank, 2 * rank + 1]
        )
        gathered_kernel = ops.transpose(self._split_kernel(kernel), perm)
        gathered_kernel = ops.reshape(
            gathered_kernel, (kp,) * rank + (-1, kernel.shape[-1])
        )
        return self._conv(gathered, gathered_kernel)

    def _shifted_corners_conv(self, padded, kernel):
        # One k'-conv per corner on the input window at that corner's offset,
        # summed (the authors' arrangement): no stacked copy and no wide
        # output, which suits TensorFlow's CPU convolutions best.
        rank = len(padded.shape) - 2
        kp = self.kernel_size
        spatial_axes = self._spatial_axes(rank)
        padded_shape = ops.shape(padded)
        window = [padded_shape[a] - self.receptive_field + kp for a in spatial_axes]
        outputs = None
        for corner, offsets in zip(
            itertools.product((0, 1), repeat=rank), self._corner_offsets(rank)
        ):
            begin = [0] * (rank + 2)
            size = list(padded_shape)
            for axis, offset, n in zip(spatial_axes, offsets, window):
                begin[axis], size[axis] = offset, n
            corner_kernel = ops.slice(
                kernel,
                [kp * at_end for at_end in corner] + [0, 0],
                [kp] * rank + list(kernel.shape[-2:]),
            )
            part = self._conv(ops.slice(padded, begin, size), corner_kernel)
            outputs = part if outputs is None else outputs + part
        return outputs

    def _depth_folded_conv(self, inputs, kernel):
        # Depth tap t of the kernel (t < k': the "before" corner, else the
        # "after" one) reads the depth-padded input at offset o(t). Stacking
        # those 2k' depth windows along the channels turns the 3D masked conv
        # into a 2D one over (batch * depth) slices with 2k' * C channels.
        kp, k = self.kernel_size, self.receptive_field
        channels_last = self.data_format == "channels_last"
        depth_axis = 1 if channels_last else 2
        channel_axis = 4 if channels_last else 1
        before, after = self.padding
        pad_width = [(0, 0)] * 5
        pad_width[depth_axis] = (before, after)
        padded = ops.pad(inputs, pad_width)
        shape = ops.shape(inputs)
        depth = shape[depth_axis]
        windows = []
        for tap in range(2 * kp):
            offset = tap if tap < kp else tap + k - 2 * kp
            begin = [0] * 5
            size = list(ops.shape(padded))
            begin[depth_axis], size[depth_axis] = offset, depth
            windows.append(ops.slice(padded, begin, size))
        folded = ops.concatenate(windows, axis=channel_axis)
        if channels_last:
            # (B, D, H, W, 2k'C) -> (B * D, H, W, 2k'C)
            folded = ops.reshape(folded, (-1,) + tuple(ops.shape(folded)[2:]))
        else:
            # (B, 2k'C, D, H, W) -> (B, D, 2k'C, H, W) -> (B * D, 2k'C, H, W)
            folded = ops.transpose(folded, (0, 2, 1, 3, 4))
            folded = ops.reshape(folded, (-1,) + tuple(ops.shape(folded)[2:]))
        # (2k'_d, 2k'_h, 2k'_w, C, F) -> (2k'_h, 2k'_w, 2k'_d * C, F)
        kernel = ops.transpose(kernel, (1, 2, 0, 3, 4))
        kernel = ops.reshape(kernel, (2 * kp, 2 * kp, -1, kernel.shape[-1]))
        outputs = self._masked_conv(folded, kernel)
        outputs = ops.reshape(outputs, (-1, depth) + tuple(ops.shape(outputs)[1:]))
        if channels_last:
            return outputs
        return ops.transpose(outputs, (0, 2, 1, 3, 4))

    def _spatial_axes(self, rank=None):
        rank = self.rank if rank is None else rank
        if self.data_format == "channels_last":
            return list(range(1, rank + 1))
        return list(range(2, rank + 2))

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
    2d + m + 1; on JAX, whose CPU compiler has no fast 3D convolution, the
    depth taps are stacked on the channels and one 2D masked convolution runs
    over all depth slices (same result, 10-20x faster there).

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

