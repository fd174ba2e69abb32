"""Anomaly maps and scores from model outputs, in `keras.ops` (traceable).

The models' `serving_outputs` (exported for TF Serving) and `score` (numpy,
for evaluation) both build on these functions, so the two always agree.
Maps are float32 with the channel axis reduced: (batch, height, width) or
(batch, depth, height, width).
"""

from keras import ops


def squared_error_map(prediction, target):
    """Per-position squared error, averaged over channels."""
    difference = ops.cast(prediction, "float32") - ops.cast(target, "float32")
    return ops.mean(ops.square(difference), axis=-1)


def psnr_from_mse(mse, max_val):
    """PSNR in dB from a per-sample mean squared error (inf when it is 0)."""
    return 10.0 * ops.log10(max_val * max_val / mse)


def spatial_mean(maps):
    return ops.mean(maps, axis=tuple(range(1, len(maps.shape))))


def spatial_max(maps):
    return ops.max(maps, axis=tuple(range(1, len(maps.shape))))


def block_error_map(block_input, block_output, spatial_shape):
    """A block's reconstruction error as a map at the model's input size.

    The block's own anomaly signal (paper, Sec. 3.1): the squared error
    ||X_hat - X||^2 / C between the block's output and input, i.e. the mean
    squared error over its C channels, so it has the units of the host
    model's `squared_error_map`. Maps from coarser decoder stages are
    upsampled by nearest-neighbour repetition (their sides divide the
    input's by a power of two).
    """
    maps = squared_error_map(block_output, block_input)
    for axis, (size, target) in enumerate(zip(maps.shape[1:], spatial_shape), start=1):
        if target % size:
            raise ValueError(
                f"Cannot upsample a block map of side {size} to {target}: not a divisor."
            )
        if target != size:
            maps = ops.repeat(maps, target // size, axis=axis)
    return maps


def uniform_smooth(maps, window):
    """Mean filter of side `window` with zero padding ("same" output size).

    Equals PyTorch's `avg_pool2d(kernel=window, stride=1, padding=window//2)`
    (padding counted in the mean) that DRAEM applies before taking the image
    score; computed separably, one axis at a time, in 2D or 3D.
    """
    maps = ops.expand_dims(ops.cast(maps, "float32"), -1)
    rank = len(maps.shape) - 2
    for axis in range(1, rank + 1):
        padding = [[0, 0]] * (rank + 2)
        padding[axis] = [(window - 1) // 2, window // 2]
        pool = [1] * rank
        pool[axis - 1] = window
        maps = ops.average_pool(ops.pad(maps, padding), tuple(pool), strides=1, padding="valid")
    return ops.squeeze(maps, -1)
