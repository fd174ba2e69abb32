"""Part 1: masked convolution forward against its bound and other formulations.

MaskedConv2D (k'=1, d=1; batch 8, 64x64, 64 channels) and MaskedConv3D
(batch 2, 8x32x32, 32 channels), channels_last, float32, compiled the way the
backend's Keras `predict` runs. Candidates:

- bound: one dense matmul with the same multiply-adds, (B*H*W, 4C) x (4C, F)
  (2D) or (B*D*H*W, 8C) x (8C, F) (3D);
- masked full kernel: `Conv2D`/`Conv3D` with the k x k (x k) kernel, zeros in
  the masked places (k = 5 here): what you get without the corner trick;
- four (eight) shifted k'-convs on slices of the padded input, summed (the
  authors' formulation, written with Keras layers);
- formulations the layer could use, written with `keras.ops`, to show why it
  uses the one it does on this backend: the dilated 2x2(x2) conv through
  `ops.conv` as is, one 1x1 conv to 2**rank * F channels then a shifted sum
  ("stacked corners"), and the corner windows concatenated along the
  channels then one 1x1 conv ("gathered corners").

Run one backend per process: `KERAS_BACKEND=jax python benchmarks/bench_masked_conv.py`.
"""

import itertools
import sys

import keras
import numpy as np
from keras import ops

import harness
from keras_ssmctb import MaskedConv2D, MaskedConv3D

CASES = {
    2: dict(batch=8, spatial=(64, 64), channels=64, title="MaskedConv2D"),
    3: dict(batch=2, spatial=(8, 32, 32), channels=32, title="MaskedConv3D"),
}
KERNEL_SIZE, DILATION, MASKED_SIZE = 1, 1, 1
RECEPTIVE_FIELD = 2 * KERNEL_SIZE + 2 * DILATION + MASKED_SIZE
PAD = KERNEL_SIZE + DILATION


class Formulation(keras.layers.Layer):
    """A k'=1 masked conv (+ bias, ReLU) computed by `fn(x, compact_kernel)`."""

    def __init__(self, fn, filters, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn
        self.filters = filters

    def build(self, input_shape):
        rank = len(input_shape) - 2
        self.kernel = self.add_weight(shape=(2,) * rank + (input_shape[-1], self.filters))
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros")

    def call(self, x):
        return ops.relu(self.fn(x, self.kernel) + self.bias)


def dilated_conv(x, kernel):
    return ops.conv(x, kernel, padding="same", dilation_rate=RECEPTIVE_FIELD - 1)


def _windows(padded, spatial, extent):
    rank = len(spatial)
    for corner in itertools.product((0, RECEPTIVE_FIELD - 1), repeat=rank):
        yield padded[(slice(None),) + tuple(slice(c, c + n + extent) for c, n in zip(corner, spatial))]


def stacked_corners(x, kernel):
    rank = len(x.shape) - 2
    spatial = tuple(x.shape[1:-1])
    channels, filters = kernel.shape[-2:]
    padded = ops.pad(x, [(0, 0)] + [(PAD, PAD)] * rank + [(0, 0)])
    corners = ops.reshape(kernel, (2**rank, channels, filters))
    stacked = ops.reshape(ops.transpose(corners, (1, 0, 2)), (channels, 2**rank * filters))
    responses = ops.matmul(padded, stacked)
    total = None
    for index, corner in enumerate(itertools.product((0, RECEPTIVE_FIELD - 1), repeat=rank)):
        part = responses[
            (slice(None),)
            + tuple(slice(c, c + n) for c, n in zip(corner, spatial))
            + (slice(index * filters, (index + 1) * filters),)
        ]
        total = part if total is None else total + part
    return total


def gathered_corners(x, kernel):
    rank = len(x.shape) - 2
    spatial = tuple(x.shape[1:-1])
    padded = ops.pad(x, [(0, 0)] + [(PAD, PAD)] * rank + [(0, 0)])
    gathered = ops.concatenate(list(_windows(padded, spatial, 0)), axis=-1)
    return ops.matmul(gathered, ops.reshape(kernel, (-1, kernel.shape[-1])))


def shifted_convs_model(rank, input_shape, filters):
    """The authors' formulation: pad, 2**rank shifted k'-convs on slices, sum, ReLU."""
    conv = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
    inputs = keras.Input(input_shape)
    padded = ops.pad(inputs, [(0, 0)] + [(PAD, PAD)] * rank + [(0, 0)])
    spatial = input_shape[:-1]
    parts = [
        conv(filters, KERNEL_SIZE)(window)
        for window in _windows(padded, spatial, KERNEL_SIZE - 1)
    ]
    outputs = keras.layers.ReLU()(keras.layers.Add()(parts))
    return keras.Model(inputs, outputs)


def run_case(rank):
    case = CASES[rank]
    batch, spatial, channels = case["batch"], case["spatial"], case["channels"]
    filters = channels
    input_shape = spatial + (channels,)
    rng = np.random.default_rng(0)
    x = harness.to_backend(rng.standard_normal((batch,) + input_shape).astype("float32"))
    positions = batch * int(np.prod(spatial))
    depth = (2**rank) * channels
    a = harness.to_backend(rng.standard_normal((positions, depth)).astype("float32"))

    def model_of(layer, shape=input_shape, batch_size=None):
        inputs = keras.Input(shape, batch_size=batch_size)
        return keras.Model(inputs, layer(inputs))

    layer_class = MaskedConv2D if rank == 2 else MaskedConv3D
    ours = layer_class(kernel_size=KERNEL_SIZE, dilation=DILATION, masked_size=MASKED_SIZE)
    ours_model = model_of(ours)
    conv_class = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
    full = conv_class(filters, RECEPTIVE_FIELD, padding="same", activation="relu")
    full_model = model_of(full)
    full.kernel.assign(ours.masked_kernel())
    candidates = {
        "matmul bound": (model_of(keras.layers.Dense(filters, use_bias=False), (depth,)), a),
        f"{case['title']} (this library)": (ours_model, x),
        "masked full kernel conv": (full_model, x),
        f"{2**rank} shifted k'-convs (authors')": (shifted_convs_model(rank, input_shape, filters), x),
        "ops.conv dilated, as is": (model_of(Formulation(dilated_conv, filters)), x),
        "stacked corners (1 conv to 2^r F + shifted sum)": (
            model_of(Formulation(stacked_corners, filters)),
            x,
        ),
        "gathered corners (concat windows + 1 conv)": (
            model_of(Formulation(gathered_corners, filters)),
            x,
        ),
    }
    # Equal outputs where the formulation is the same computation.
    reference = harness.forward(ours_model)(x)
    for name in list(candidates)[4:]:
        model, _ = candidates[name]
        model.layers[-1].kernel.assign(ours.kernel)
        model.layers[-1].bias.assign(ours.bias)
        error = float(np.max(np.abs(ops.convert_to_numpy(harness.forward(model)(x)) - ops.convert_to_numpy(reference))))
        if error > 1e-3:
            raise AssertionError(f"{name} differs from the layer by {error}")
    full_error = float(
        np.max(np.abs(ops.convert_to_numpy(harness.forward(full_model)(x)) - ops.convert_to_numpy(reference)))
    )
    if full_error > 1e-3:
        raise AssertionError(f"masked full kernel differs from the layer by {full_error}")

    calls = {}
    for name, (model, inputs) in candidates.items():
        run = harness.forward(model)
        calls[name] = (lambda run=run, inputs=inputs: run(inputs))
    timings = harness.measure(calls, repeats=12, budget_s=10)
    bound = timings["matmul bound"]["min"]
    ours_ms = timings[f"{case['title']} (this library)"]["min"]
    flops = 2.0 * positions * depth * filters
    rows = []
    for name, timing in timings.items():
        rows.append(
            [
                name,
                f"{timing['min']:.2f}",
                f"{timing['median']:.2f}",
                f"{flops / timing['min'] / 1e6:.0f}",
                f"{timing['min'] / bound:.2f}",
                f"{timing['min'] / ours_ms:.2f}",
            ]
        )
    text = (
        f"**{case['title']}** forward, k'=1 d=1 m=1, batch {batch}, "
        f"{'x'.join(map(str, spatial))}, {channels} channels "
        f"({flops / 1e9:.2f} useful GFLOP; min of {timings['matmul bound']['n']} interleaved runs)\n\n"
    )
    text += harness.table(
        ["candidate", "min ms", "median ms", "useful GFLOP/s", "x bound", "x this library"], rows
    )
    full_ratio = timings["masked full kernel conv"]["min"] / ours_ms
    text += (
        f"\nTargets: {case['title']} / bound = {ours_ms / bound:.2f} (<= 1.5: "
        f"{harness.verdict(ours_ms / bound <= 1.5)}); masked full kernel / "
        f"{case['title']} = {full_ratio:.2f} (>= 2: {harness.verdict(full_ratio >= 2)})\n"
    )
    return text


def main():
    ranks = [int(r) for r in sys.argv[1:]] or [2, 3]
    harness.emit(harness.describe_run("Part 1 — masked convolution forward"))
    for rank in ranks:
        harness.emit(run_case(rank))


if __name__ == "__main__":
    main()
