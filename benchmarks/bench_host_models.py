"""Part 3: host-model overhead of the blocks (the paper's Table 7).

Inference time per frame of the frame autoencoder (Park et al.; 64x64
grayscale, T = 4 input frames, `base_filters` 16, memory module on: the main
job's model) and of DRAEM (64x64 RGB, default widths), each with no block,
+SSPCAB and +SSMCTB at the default ("late") position. Timed as the compiled
inference call (what `predict` runs) at batch 8 (time / 8 = per frame) and,
for the frame autoencoder, at batch 1 (latency).

Run one backend per process: `KERAS_BACKEND=jax python benchmarks/bench_host_models.py`.
"""

import numpy as np

import harness
from keras_ssmctb.applications import DRAEM, FrameAutoencoder

BLOCKS = (None, "sspcab", "ssmctb")
HOSTS = {
    "FrameAutoencoder": dict(
        build=lambda block: FrameAutoencoder((64, 64, 4), block=block),
        input_shape=(64, 64, 4),
        batches=(8, 1),
    ),
    "DRAEM": dict(
        build=lambda block: DRAEM((64, 64, 3), block=block),
        input_shape=(64, 64, 3),
        batches=(8,),
    ),
}
BATCH = 8


def run_host(name, host):
    rng = np.random.default_rng(0)
    batches = host["batches"]
    inputs = {
        batch: harness.to_backend(rng.uniform(-1, 1, (batch,) + host["input_shape"]).astype("float32"))
        for batch in batches
    }
    models = {str(block): host["build"](block) for block in BLOCKS}
    calls = {}
    for label, model in models.items():
        run = harness.forward(model)
        for batch, x in inputs.items():
            calls[(label, batch)] = lambda run=run, x=x: run(x)
    timings = harness.measure(calls, repeats=40, budget_s=15)
    rows = []
    for label, model in models.items():
        row = [{"None": "baseline", "sspcab": "+SSPCAB", "ssmctb": "+SSMCTB"}[label], f"{model.count_params():,}"]
        for batch in batches:
            ms = timings[(label, batch)]["min"] / batch
            base = timings[("None", batch)]["min"] / batch
            row.append(f"{ms:.3f} ({100 * (ms / base - 1):+.1f}%)")
        rows.append(row)
    text = (
        f"**{name}** inference, ms per frame (change vs baseline), input "
        f"{'x'.join(map(str, host['input_shape']))}, min of "
        f"{timings[('None', batches[0])]['n']} interleaved runs\n\n"
    )
    text += harness.table(["model", "parameters"] + [f"forward, batch {b}" for b in batches], rows)
    overhead = timings[("ssmctb", BATCH)]["min"] / timings[("None", BATCH)]["min"] - 1
    if name == "FrameAutoencoder":
        text += (
            f"\nTarget: +SSMCTB adds {100 * overhead:.1f}% at batch {BATCH} "
            f"(<= 10%: {harness.verdict(overhead <= 0.10)})\n"
        )
    return text


def main():
    harness.emit(harness.describe_run("Part 3 — host-model overhead (Table 7)"))
    for name, host in HOSTS.items():
        harness.emit(run_host(name, host))


if __name__ == "__main__":
    main()
