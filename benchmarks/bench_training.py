"""Part 4: training throughput and peak memory of the main job's model.

The main job's default model: `FrameAutoencoder((64, 64, 4), block="ssmctb")`
(64x64 grayscale frames, T = 4 input frames, `base_filters` 16, memory module
on), batch 8, `model.compile(optimizer="adam")` and `model.train_on_batch`,
with the backend's default compilation. The baseline without the block is
timed alongside (interleaved).

Peak memory of a training step (its working memory: activations, gradients,
temporaries, above what persists between steps), after two warm-up steps of
both models:

- tensorflow: TensorFlow's own allocator statistics
  (`tf.config.experimental.get_memory_info("CPU:0")`): peak during two steps
  minus the bytes in use before them;
- jax, torch (no CPU allocator statistics): resident memory, in a child
  process run with `MALLOC_MMAP_THRESHOLD_=65536` so that glibc returns every
  freed large buffer to the OS and the resident size follows the live
  buffers: `VmHWM` over two steps (after resetting it through
  `/proc/self/clear_refs`) minus `VmRSS` before them. The jax child reuses the
  parent's compiled executables through the persistent compilation cache.

Run one backend per process: `KERAS_BACKEND=tensorflow python benchmarks/bench_training.py`.
"""

import json
import os
import subprocess
import sys

import numpy as np

import harness
from keras_ssmctb.applications import FrameAutoencoder

BATCH = 8
INPUT_SHAPE = (64, 64, 4)
MEMORY_FLAG = "--memory-child"


def build_models():
    models = {"baseline (no block)": FrameAutoencoder(INPUT_SHAPE, block=None)}
    models["+SSMCTB (main job)"] = FrameAutoencoder(INPUT_SHAPE, block="ssmctb")
    for model in models.values():
        model.compile(optimizer="adam")
    return models


def batch():
    rng = np.random.default_rng(0)
    x = harness.to_backend(rng.uniform(-1, 1, (BATCH,) + INPUT_SHAPE).astype("float32"))
    y = harness.to_backend(rng.uniform(-1, 1, (BATCH,) + INPUT_SHAPE[:2] + (1,)).astype("float32"))
    return x, y


def step_memory(models, x, y):
    """{name: peak working memory of a training step, MiB} (see module doc)."""
    steps = {name: (lambda model=model: model.train_on_batch(x, y)) for name, model in models.items()}
    for step in steps.values():
        step()
        step()
    results = {}
    for name, step in steps.items():
        if harness.BACKEND == "tensorflow":
            import tensorflow as tf

            before = tf.config.experimental.get_memory_info("CPU:0")["current"]
            tf.config.experimental.reset_memory_stats("CPU:0")
            for _ in range(2):
                step()
            results[name] = (tf.config.experimental.get_memory_info("CPU:0")["peak"] - before) / 2**20
        else:
            results[name] = harness.peak_memory_mib(step)[1]
    return results


def memory_in_child():
    """Run `step_memory` in a child with glibc's mmap threshold fixed."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), MEMORY_FLAG],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.stderr.write(result.stderr[-2000:])
    return {}


def use_compilation_cache():
    """Let the memory child reuse the parent's XLA executables (jax)."""
    if harness.BACKEND == "jax":
        import tempfile

        import jax

        directory = os.environ.setdefault(
            "BENCH_JAX_CACHE", os.path.join(tempfile.gettempdir(), "keras_ssmctb_bench_jax_cache")
        )
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def main():
    harness.emit(harness.describe_run("Part 4 — training throughput of the main job's model"))
    use_compilation_cache()
    x, y = batch()
    models = build_models()
    steps = {name: (lambda model=model: model.train_on_batch(x, y)) for name, model in models.items()}
    timings = harness.measure(steps, repeats=8, budget_s=12)
    if harness.BACKEND == "tensorflow":
        memory = step_memory(models, x, y)
        method = "TensorFlow allocator statistics"
    else:
        memory = memory_in_child()
        method = "resident memory (RSS) in a child process"

    rows = []
    base = timings["baseline (no block)"]["min"]
    for name, model in models.items():
        t = timings[name]
        peak = memory.get(name)
        rows.append(
            [
                name,
                f"{model.count_params():,}",
                f"{t['min']:.1f}",
                f"{t['median']:.1f}",
                f"{1e3 * BATCH / t['min']:.0f}",
                f"{100 * (t['min'] / base - 1):+.1f}%",
                "n/a" if peak is None else f"{peak:.1f}",
            ]
        )
    text = (
        f"**FrameAutoencoder training step**, batch {BATCH}, input "
        f"{'x'.join(map(str, INPUT_SHAPE))} (min of {timings[next(iter(timings))]['n']} "
        f"interleaved steps; memory by {method})\n\n"
    )
    text += harness.table(
        [
            "model",
            "parameters",
            "min ms/step",
            "median ms/step",
            "frames/s",
            "step time vs baseline",
            "step peak memory, MiB",
        ],
        rows,
    )
    harness.emit(text)


if __name__ == "__main__":
    if MEMORY_FLAG in sys.argv:
        use_compilation_cache()
        print(json.dumps(step_memory(build_models(), *batch())))
    else:
        main()
