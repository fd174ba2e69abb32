"""Run every benchmark on every backend, one process each, and collect the tables.

Usage (from the repository root; `make bench` runs this):

    .venv/bin/python benchmarks/run_all.py [--backends tensorflow jax torch]
        [--parts masked_conv ssmctb host_models training] [--output FILE]
        [--single-core]

Each `benchmarks/bench_<part>.py` runs in its own process with
`KERAS_BACKEND` set (the backend is fixed at import), prints markdown, and
this driver concatenates it, adds the command, date and machine load, a
summary of the targets (SPEC section 7), and writes it to `--output`
(default `benchmarks/results.md`) as well as to stdout.

`--single-core` pins each benchmark to CPU 0 (`taskset`) with one thread
per framework. The ratios then hold on a machine shared with other work,
where a two-thread torch or XLA op waits for a descheduled thread; the
default (all cores, default threads) is what a user's model gets.
"""

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PARTS = ("masked_conv", "ssmctb", "host_models", "training")
BACKENDS = ("tensorflow", "jax", "torch")
TIMEOUT_S = 300


SINGLE_CORE_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


def run_part(part, backend, single_core=False):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, os.path.join(HERE, f"bench_{part}.py")]
    if single_core:
        env.update(SINGLE_CORE_ENV)
        command = ["taskset", "-c", "0"] + command
    start = time.perf_counter()
    try:
        result = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as error:
        output = error.stdout or ""
        if isinstance(output, bytes):
            output = output.decode()
        return output + f"\n**{part} on {backend} timed out after {TIMEOUT_S} s.**\n", False
    seconds = time.perf_counter() - start
    text = result.stdout
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        text += f"\n**{part} on {backend} failed (exit {result.returncode}):**\n\n```\n{tail}\n```\n"
    text += f"\n_({part} on {backend}: {seconds:.0f} s including start-up)_\n"
    return text, result.returncode == 0


def summarize(sections):
    """One row per target line found in the outputs."""
    rows = []
    for (part, backend), text in sections.items():
        case = None
        for line in text.splitlines():
            bold = re.match(r"\*\*(.+?)\*\*(.*)", line)
            if bold:
                case = (bold.group(1) + bold.group(2).split("(")[0]).strip().rstrip(",")
            if line.startswith("Target"):
                for clause in line.split(":", 1)[1].split(";"):
                    clause = clause.strip().rstrip(")")
                    if clause:
                        rows.append(f"| {backend} | {case} | {clause.replace('(', '— ')} |")
    if not rows:
        return ""
    return "| backend | case | target |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--output", default=os.path.join(HERE, "results.md"))
    parser.add_argument("--single-core", action="store_true", help="pin to CPU 0, one thread")
    args = parser.parse_args()

    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    started = datetime.datetime.now()
    start = time.perf_counter()
    sections = {}
    all_ok = True
    for part in args.parts:
        for backend in args.backends:
            print(f"[bench] {part} on {backend} ...", file=sys.stderr, flush=True)
            sections[(part, backend)], ok = run_part(part, backend, args.single_core)
            all_ok = all_ok and ok
    total = time.perf_counter() - start
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    command = " ".join([os.path.relpath(sys.executable, ROOT)] + [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    header = (
        f"## Benchmark results\n\n"
        f"Command: `{command}` (from the repository root), started "
        f"{started:%Y-%m-%d %H:%M}, took {total / 60:.1f} min. Machine: "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}"
        f"{' (pinned to CPU 0, one thread per framework)' if args.single_core else ''}. "
        f"Load average before: {load_before}; after: {load_after}. Timings are "
        f"minima of interleaved repeated runs in one process per backend.\n"
    )
    summary = summarize(sections)
    body = header
    if summary:
        body += "\n### Targets (SPEC section 7)\n\n" + summary
    for (part, backend), text in sections.items():
        body += "\n" + text
    print(body)
    with open(args.output, "w") as handle:
        handle.write(body)
    print(f"[bench] wrote {args.output} in {total:.0f} s", file=sys.stderr)
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
