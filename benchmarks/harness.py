"""Timing harness shared by the benchmark scripts (one backend per process).

Every benchmark script imports this module after `KERAS_BACKEND` is set. It
runs each candidate the way a Keras user's model runs on that backend:

- jax: `jax.jit` of `model.stateless_call` (what `predict`/`fit` compile);
- tensorflow: `tf.function` without XLA (Keras' `jit_compile="auto"` turns XLA
  off on CPU-only machines);
- torch: eager under `torch.no_grad()` (Keras' "auto" is eager on torch).

Timings are the minimum over repeated calls, with all candidates of one
comparison interleaved call by call, so that background load on a shared
machine hits them alike. This file may import the backend frameworks: it is
outside the package.
"""

import datetime
import os
import platform
import re
import sys
import time

import keras
import numpy as np

BACKEND = keras.backend.backend()
# BENCH_QUICK=1: three rounds per comparison, to check that the scripts run.
QUICK = os.environ.get("BENCH_QUICK") == "1"


def backend_version():
    if BACKEND == "jax":
        import jax

        return f"jax {jax.__version__}"
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return f"tensorflow {tf.__version__}"
    import torch

    return f"torch {torch.__version__}"


def describe_run(title):
    """Markdown heading with backend, versions, load and date."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"### {title} — `{BACKEND}`\n\n"
        f"keras {keras.__version__}, {backend_version()}, python "
        f"{platform.python_version()}, {len(os.sched_getaffinity(0))} of "
        f"{os.cpu_count()} CPUs usable, load average "
        f"{load} at start, {datetime.datetime.now():%Y-%m-%d %H:%M}.\n"
    )


def block(value):
    """Wait until `value` (a tensor or a nest of them) is computed."""
    leaves = value if isinstance(value, (list, tuple)) else [value]
    for leaf in leaves:
        if isinstance(leaf, (list, tuple, dict)):
            block(list(leaf.values()) if isinstance(leaf, dict) else leaf)
        elif hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
        elif BACKEND == "tensorflow" and hasattr(leaf, "numpy"):
            leaf.numpy()
    return value


def to_backend(array):
    return keras.ops.convert_to_tensor(array)


def forward(model):
    """A callable `x -> outputs` running `model` in inference mode, compiled."""
    if BACKEND == "jax":
        import jax

        @jax.jit
        def run(trainable, non_trainable, x):
            outputs, _ = model.stateless_call(trainable, non_trainable, x, training=False)
            return outputs

        # Variable values are read at each call: Keras' own jitted functions
        # (predict_on_batch, train_on_batch) donate and replace their buffers.
        return lambda x: run(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            x,
        )
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda x: model(x, training=False), jit_compile=False)
    import torch

    def run(x):
        with torch.no_grad():
            return model(x, training=False)

    return run


def train_step(model, optimizer="adam", loss="mse"):
    """Compile `model` the default way and return `(x, y) -> loss` (one step)."""
    model.compile(optimizer=optimizer, loss=loss)
    return lambda x, y: model.train_on_batch(x, y)


def measure(candidates, repeats=10, budget_s=None, warmup=2):
    """Minimum wall time (ms) of each zero-argument callable, interleaved.

    Each candidate is called `warmup` times first (compilation), then the
    candidates are called in turn, rotating the order each round, for
    `repeats` rounds or until `budget_s` seconds have passed (at least 3
    rounds). Returns `{name: {"min": ms, "median": ms, "n": rounds}}`.
    """
    if QUICK:
        repeats, warmup = 3, 1
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            block(candidates[name]())
    samples = {name: [] for name in names}
    start = time.perf_counter()
    for round_index in range(repeats):
        order = names[round_index % len(names):] + names[: round_index % len(names)]
        for name in order:
            begin = time.perf_counter()
            block(candidates[name]())
            samples[name].append(time.perf_counter() - begin)
        if budget_s is not None and round_index >= 2 and time.perf_counter() - start > budget_s:
            break
    return {
        name: {
            "min": 1e3 * min(values),
            "median": 1e3 * float(np.median(values)),
            "n": len(values),
        }
        for name, values in samples.items()
    }


def _status_kib(field):
    with open("/proc/self/status") as status:
        return int(re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.M).group(1))


def peak_memory_mib(fn, calls=2):
    """Peak resident memory above the steady state while `fn()` runs (MiB).

    Linux only: runs `fn` once, reads `VmRSS`, resets the process's
    high-water mark (`/proc/self/clear_refs`), runs `fn` `calls` times and
    reads `VmHWM`. Meaningful only when glibc returns freed large buffers to
    the OS (`MALLOC_MMAP_THRESHOLD_` fixed when the process starts, as
    `bench_training.py` does for its memory child). Returns
    `(steady_mib, peak_above_steady_mib)`, or `(None, None)` elsewhere.
    """
    try:
        block(fn())
        import gc

        gc.collect()
        steady = _status_kib("VmRSS")
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        for _ in range(calls):
            block(fn())
        peak = _status_kib("VmHWM")
    except (OSError, AttributeError):
        return None, None
    return steady / 1024, (peak - steady) / 1024


def table(headers, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def verdict(ok):
    return "met" if ok else "**missed**"


def emit(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
