#!/usr/bin/env python3
"""Warm sandboxes: a Python call in a fresh sandbox, warm vs cold vs bwrap vs a plain fork.

Two workloads: a trivial callable, and one using numpy (preloaded by the warm sandbox).
Contenders, each running the workload once per sample and waiting for its answer:

- ``warm``: ``Sandbox(preload=[...]).call(fn)`` — a fork of a zygote in fresh namespaces
  and a cgroup of its own, confined like a container;
- ``cold``: ``Sandbox(warm=False).call(fn)`` — a fresh interpreter in a new container;
- ``bwrap``: ``bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp
  python3 -c ...`` — a fresh interpreter under bubblewrap (no cgroup, no seccomp);
- ``python``: ``python3 -c ...`` — a fresh interpreter, no isolation at all;
- ``fork``: ``multiprocessing`` (fork context) runs it in a fork of this process (numpy
  imported here first), no isolation;
- ``run-true``: ``pc.run("host", ["/bin/true"])``, the container start the target refers to.

Samples are interleaved round-robin (the first contender rotates each round) after warm-up
rounds; medians and ratios are printed. numpy is not a dependency of pycontainers: run
this with a Python that has it (see benchmarks/README.md), or the numpy rows are skipped.

Usage (as root)::

    python benchmarks/sandbox.py [--runs 20] [--warmup 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_WARM_VS_RUN_TRUE = 2.0  # warm trivial call <= 2x pc.run(/bin/true)
TARGET_WARM_VS_COLD = 0.1  # warm trivial call <= 0.1x the cold path
TARGET_NUMPY_VS_INTERPRETER = 0.05  # warm numpy call <= 0.05x a cold interpreter importing numpy

TRIVIAL_CODE = "print(sum(range(10)))"
NUMPY_CODE = "import numpy; print(int(numpy.arange(1000).sum()))"


def trivial() -> int:
    return sum(range(10))


def with_numpy() -> int:
    import numpy

    return int(numpy.arange(1000).sum())


def _fork_target(fn: Callable[[], int], conn: Any) -> None:
    conn.send(fn())
    conn.close()


Sampler = Callable[[], None]


def samplers(numpy: bool) -> dict[str, Sampler]:
    import pycontainers as pc

    fn = with_numpy if numpy else trivial
    code = NUMPY_CODE if numpy else TRIVIAL_CODE
    want = fn()
    warm = pc.Sandbox(preload=["numpy"] if numpy else [], timeout=60)
    cold = pc.Sandbox(warm=False, timeout=60)
    SANDBOXES.extend([warm, cold])
    ctx = multiprocessing.get_context("fork")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}

    def check(value: object) -> None:
        if value != want:
            raise RuntimeError(f"wrong answer {value!r} (wanted {want!r})")

    def run_warm() -> None:
        check(warm.call(fn))

    def run_cold() -> None:
        check(cold.call(fn))

    def run_cmd(argv: list[str]) -> Sampler:
        def sample() -> None:
            out = subprocess.run(argv, capture_output=True, env=env, check=True)
            check(int(out.stdout))

        return sample

    def run_fork() -> None:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_fork_target, args=(fn, child))
        proc.start()
        child.close()
        value = parent.recv()
        proc.join()
        parent.close()
        check(value)

    out: dict[str, Sampler] = {"warm": run_warm, "cold": run_cold}
    bwrap = shutil.which("bwrap")
    if bwrap:
        out["bwrap"] = run_cmd(
            [bwrap, "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--tmpfs", "/tmp", sys.executable, "-c", code]
        )  # fmt: skip
    out["python"] = run_cmd([sys.executable, "-c", code])
    out["fork"] = run_fork
    if not numpy:

        def run_true() -> None:
            r = pc.run("host", ["/bin/true"])
            if r.returncode:
                raise RuntimeError(f"/bin/true exited with {r.returncode}")

        out["run-true"] = run_true
    return out


SANDBOXES: list[Any] = []


def measure(contenders: dict[str, Sampler], runs: int, warmup: int) -> dict[str, list[float]]:
    names = list(contenders)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + runs):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t = time.perf_counter()
            contenders[name]()
            dt = time.perf_counter() - t
            if r >= warmup:
                samples[name].append(dt * 1000)
    return samples


def table(title: str, samples: dict[str, list[float]]) -> dict[str, float]:
    medians = {n: statistics.median(v) for n, v in samples.items()}
    warm = medians["warm"]
    print(f"\n{title}")
    print(f"{'contender':<10} {'median ms':>10} {'p90 ms':>9} {'x warm':>8}")
    for name, values in samples.items():
        p90 = sorted(values)[int(0.9 * (len(values) - 1))]
        print(f"{name:<10} {medians[name]:>10.2f} {p90:>9.2f} {medians[name] / warm:>8.2f}")
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", help="write the samples here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="pc-bench-sandbox-")
    os.environ.setdefault("PYCONTAINERS_STATE", os.path.join(tmp, "state"))
    os.environ.setdefault("PYCONTAINERS_ROOT", os.path.join(tmp, "data"))
    results: dict[str, dict[str, list[float]]] = {}
    ok = True
    try:
        trivial_samples = measure(samplers(False), args.runs, args.warmup)
        results["trivial"] = trivial_samples
        m = table("trivial callable", trivial_samples)
        try:
            import numpy  # noqa: F401  (imported here first: the fork contender inherits it)

            have_numpy = True
        except ImportError:
            have_numpy = False
            print("\nnumpy: not importable by this Python; numpy rows skipped")
        if have_numpy:
            numpy_samples = measure(samplers(True), args.runs, args.warmup)
            results["numpy"] = numpy_samples
            n = table("numpy (preloaded by warm)", numpy_samples)
        print("\ntargets")
        checks = [
            ("warm trivial / pc.run(/bin/true)", m["warm"] / m["run-true"], TARGET_WARM_VS_RUN_TRUE),
            ("warm trivial / cold", m["warm"] / m["cold"], TARGET_WARM_VS_COLD),
        ]  # fmt: skip
        if have_numpy:
            checks.append(
                ("warm numpy / python importing numpy", n["warm"] / n["python"],
                 TARGET_NUMPY_VS_INTERPRETER)
            )  # fmt: skip
            checks.append(
                ("warm numpy / cold sandbox importing numpy", n["warm"] / n["cold"],
                 TARGET_NUMPY_VS_INTERPRETER)
            )  # fmt: skip
        for label, ratio, target in checks:
            met = ratio <= target
            ok = ok and met
            print(f"{label:<45} {ratio:6.3f}  (target <= {target}) {'met' if met else 'MISSED'}")
    finally:
        for sb in SANDBOXES:
            sb.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
