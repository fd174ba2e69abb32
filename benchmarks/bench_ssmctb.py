"""Part 2: SSMCTB forward and forward+backward against the naive block.

The naive block is the authors' formulation written with Keras layers: pad,
four (eight) shifted k'-convs on slices of the padded input, sum, ReLU, then a
single multi-head attention layer over the channel tokens (global average
pooling, a Dense projection of each channel's pooled value to `token_dim`, no
MLP and no second block), mean over the token axis, sigmoid, scale; its loss
is MSE. The library's SSMCTB runs its defaults (two pre-norm transformer
blocks with MLPs, Huber loss), so it does more work than the naive block.

Shapes: 2D batch 8, 64x64, 64 channels, k' = 1, 2, 3 (d = 1, m = 1); 3D batch
2, 8x32x32, 32 channels, k' = 1. "forward" is the compiled inference call
(what `predict` runs); "train step" is `model.train_on_batch` after
`model.compile(optimizer="adam", loss="mse")` with the backend's default
compilation, i.e. forward + backward + update, the block's loss included.

Run one backend per process: `KERAS_BACKEND=torch python benchmarks/bench_ssmctb.py`.
"""

import itertools

import keras
import numpy as np
from keras import ops

import harness
from keras_ssmctb import SSMCTB

CASES = [
    dict(rank=2, kernel_size=1, batch=8, spatial=(64, 64), channels=64),
    dict(rank=2, kernel_size=2, batch=8, spatial=(64, 64), channels=64),
    dict(rank=2, kernel_size=3, batch=8, spatial=(64, 64), channels=64),
    dict(rank=3, kernel_size=1, batch=2, spatial=(8, 32, 32), channels=32),
]
DILATION = 1
TOKEN_DIM, NUM_HEADS = 64, 4


class NaiveSSMCTB(keras.layers.Layer):
    """The authors' reference design, written the straightforward way."""

    def __init__(self, kernel_size=1, dilation=1, token_dim=64, num_heads=4, loss_weight=0.1, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.token_dim = token_dim
        self.num_heads = num_heads
        self.loss_weight = loss_weight

    def build(self, input_shape):
        rank = len(input_shape) - 2
        channels = input_shape[-1]
        kp, d = self.kernel_size, self.dilation
        self.rank = rank
        self.pad = kp + d
        self.offset = kp + 2 * d + 1  # k - k' with m = 1
        conv = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
        window = (input_shape[0],) + tuple(n + kp - 1 for n in input_shape[1:-1]) + (channels,)
        self.convs = []
        for _ in range(2**rank):
            layer = conv(channels, kp)
            layer.build(window)
            self.convs.append(layer)
        self.projection = keras.layers.Dense(self.token_dim)
        self.projection.build((None, channels, 1))
        self.attention = keras.layers.MultiHeadAttention(self.num_heads, self.token_dim // self.num_heads)
        self.attention.build((None, channels, self.token_dim), (None, channels, self.token_dim))

    def call(self, x):
        kp = self.kernel_size
        spatial = x.shape[1:-1]
        padded = ops.pad(x, [(0, 0)] + [(self.pad, self.pad)] * self.rank + [(0, 0)])
        total = None
        for conv, corner in zip(self.convs, itertools.product((0, self.offset), repeat=self.rank)):
            window = padded[(slice(None),) + tuple(slice(c, c + n + kp - 1) for c, n in zip(corner, spatial))]
            response = conv(window)
            total = response if total is None else total + response
        features = ops.relu(total)
        pooled = ops.mean(features, axis=tuple(range(1, self.rank + 1)))
        tokens = self.projection(ops.expand_dims(pooled, -1))
        tokens = self.attention(tokens, tokens)
        weights = ops.sigmoid(ops.mean(tokens, axis=-1))
        weights = ops.reshape(weights, (-1,) + (1,) * self.rank + (weights.shape[-1],))
        outputs = features * weights
        self.add_loss(self.loss_weight * ops.mean(ops.square(outputs - x)))
        return outputs


def block_model(block, input_shape):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, block(inputs))


def run_case(case):
    rank, kp = case["rank"], case["kernel_size"]
    input_shape = case["spatial"] + (case["channels"],)
    rng = np.random.default_rng(0)
    x = harness.to_backend(rng.uniform(size=(case["batch"],) + input_shape).astype("float32"))
    models = {
        "SSMCTB (this library)": block_model(SSMCTB(kernel_size=kp, dilation=DILATION), input_shape),
        "naive block": block_model(NaiveSSMCTB(kp, DILATION, TOKEN_DIM, NUM_HEADS), input_shape),
    }
    calls = {}
    for name, model in models.items():
        run = harness.forward(model)
        calls[f"{name}, forward"] = lambda run=run: run(x)
    if kp == 1 and rank == 2:
        # What `model.predict_on_batch` adds on top: Keras' predict loop.
        for name, model in models.items():
            calls[f"{name}, predict_on_batch"] = lambda model=model: model.predict_on_batch(x)
        conv_only = block_model(SSMCTB(kernel_size=kp, dilation=DILATION, attention=None), input_shape)
        run_conv_only = harness.forward(conv_only)
        calls["SSMCTB attention=None (masked conv + loss), forward"] = lambda: run_conv_only(x)
    for name, model in models.items():
        step = harness.train_step(model)
        calls[f"{name}, train step"] = lambda step=step: step(x, x)
    timings = harness.measure(calls, repeats=8, budget_s=8)
    rows = [[name, f"{t['min']:.2f}", f"{t['median']:.2f}"] for name, t in timings.items()]
    geometry = (
        f"{rank}D k'={kp} d={DILATION}, batch {case['batch']}, "
        f"{'x'.join(map(str, case['spatial']))}, {case['channels']} channels"
    )
    text = f"**SSMCTB vs naive block**, {geometry} (min of {timings[next(iter(timings))]['n']} interleaved runs)\n\n"
    text += harness.table(["candidate", "min ms", "median ms"], rows)
    verdicts = []
    for mode in ("forward", "train step"):
        ratio = timings[f"naive block, {mode}"]["min"] / timings[f"SSMCTB (this library), {mode}"]["min"]
        verdicts.append(f"naive / SSMCTB {mode} = {ratio:.2f} (>= 2: {harness.verdict(ratio >= 2)})")
    text += "\nTargets: " + "; ".join(verdicts) + "\n"
    return text


def main():
    harness.emit(harness.describe_run("Part 2 — SSMCTB against the naive block"))
    for case in CASES:
        harness.emit(run_case(case))


if __name__ == "__main__":
    main()
