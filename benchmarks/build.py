#!/usr/bin/env python3
"""Dockerfile builds: ``pycontainers build`` vs ``buildah bud`` on one Dockerfile and context.

Three cases, each a whole process timed with ``time.perf_counter``: ``cold`` (no cache),
``warm`` (a rebuild with nothing changed) and ``one COPY changed`` (one source file of the
last COPY rewritten). Contenders are interleaved round-robin, the starting one alternating
each round; medians and ratios are printed. Both start from the same busybox base image
(made here from busybox-static); both use host networking for RUN; buildah stores with
``--storage-driver`` (vfs by default, ``--driver overlay`` to change). Everything lives in
one temporary directory, removed at exit.

Usage (as root; never while the test suite runs)::

    flock /tmp/pc-tests.lock python3 benchmarks/build.py [--runs 5] [--driver vfs]
        [--json out.json]

``--json`` writes the rows (medians, p10/p90, ratios, every sample) and the targets in the
shape ``cli_latency.py`` writes, which ``report.py`` renders.

Targets of issue 16: cold <= 1x buildah; warm <= 0.3x; one changed COPY <= 0.5x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import busybox_rootfs

REPO = Path(__file__).resolve().parent.parent
BUILDAH = shutil.which("buildah") or ""
RUNC = shutil.which("runc") or "/usr/sbin/runc"  # crun refuses hybrid cgroups here
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
TARGETS = {"cold": 1.0, "warm": 0.3, "one COPY changed": 0.5}

DOCKERFILE = """\
FROM localhost/bench:base
ENV APP=/app
WORKDIR /app
COPY src/ /app/src/
RUN for f in src/*; do cat "$f" >> /app/all; done && wc -c /app/all > /app/size
RUN mkdir -p /opt/out && i=0 && while [ $i -lt 200 ]; do echo $i > /opt/out/f$i; i=$((i+1)); done
COPY data/ /data/
CMD ["cat", "/app/size"]
"""


def make_context(path: Path) -> None:
    (path / "src").mkdir(parents=True)
    (path / "data").mkdir()
    for i in range(100):
        (path / "src" / f"file{i:03}.txt").write_bytes(os.urandom(8 << 10))
    for i in range(10):
        (path / "data" / f"blob{i}").write_bytes(os.urandom(256 << 10))
    (path / "Dockerfile").write_text(DOCKERFILE)


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--driver", default="vfs", choices=["vfs", "overlay"])
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    opts = parser.parse_args()
    if opts.runs < 1:
        parser.error("--runs must be >= 1")
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    if not BUILDAH:
        raise SystemExit("buildah is not installed (apt-get install buildah)")
    work = Path(tempfile.mkdtemp(prefix="pc-bench-build-", dir="/var/tmp"))
    try:
        results = bench(work, opts.runs, opts.driver)
        if opts.json is not None:
            opts.json.write_text(json.dumps(results, indent=2) + "\n")
            print(f"wrote {opts.json}")
        return 0
    finally:
        subprocess.run(["umount", "-R", str(work / "buildah")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _row(values: list[float], ratio: float | None, vs: str | None) -> dict[str, object]:
    """One row as ``cli_latency.py`` writes it (ms; every sample in seconds)."""
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[round(q * (len(ordered) - 1))] * 1000

    return {"median_ms": statistics.median(values) * 1000, "p10_ms": at(0.1),
            "p90_ms": at(0.9), "n": len(values), "ratio": ratio, "vs": vs,
            "samples_s": values}  # fmt: skip


def bench(work: Path, runs: int, driver: str) -> dict[str, object]:
    """Build with both, interleaved; print the table and return the results."""
    rootfs, ctx = work / "rootfs", work / "ctx"
    busybox_rootfs(rootfs)
    make_context(ctx)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYCONTAINERS_ROOT": str(work / "pc"),
           "PYCONTAINERS_STATE": str(work / "pc-state"),
           # as an installed package has: compiled bytecode (this VM sets
           # PYTHONDONTWRITEBYTECODE; the cache goes to the temporary directory)
           "PYTHONPYCACHEPREFIX": str(work / "pycache")}  # fmt: skip
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.path.insert(0, str(REPO))
    from pycontainers.images import ImageStore

    ImageStore(work / "pc" / "images").import_rootfs(rootfs, "localhost/bench:base")
    bah = [BUILDAH, "--root", str(work / "buildah"), "--runroot", str(work / "buildah-run"),
           "--storage-driver", driver]  # fmt: skip
    ctr = subprocess.run([*bah, "from", "scratch"], capture_output=True, text=True, check=True)
    name = ctr.stdout.strip()
    subprocess.run([*bah, "copy", name, f"{rootfs}/.", "/"], check=True, capture_output=True)
    subprocess.run([*bah, "commit", "-q", name, "localhost/bench:base"], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([*bah, "rm", name], check=True, capture_output=True)
    pc = [sys.executable, "-m", "pycontainers", "build", "-q", "-t", "localhost/bench:out"]
    bud = [*bah, "bud", "-q", "--layers", "--runtime", RUNC, "--network", "host", *ULIMITS, "-t",
           "localhost/bench:out"]  # fmt: skip

    def change() -> None:
        (ctx / "data" / "blob0").write_bytes(os.urandom(256 << 10))

    cases: list[tuple[str, list[str], list[str], Callable[[], None] | None]] = [
        ("cold", [*pc, "--no-cache", str(ctx)], [*bud, "--no-cache", str(ctx)], None),
        ("warm", [*pc, str(ctx)], [*bud, str(ctx)], None),
        ("one COPY changed", [*pc, str(ctx)], [*bud, str(ctx)], change),
    ]
    # prime both caches (and the first-run costs) once
    timed(cases[1][1], env)
    timed(cases[1][2], env)
    samples: dict[tuple[str, str], list[float]] = {}
    for rnd in range(runs):
        for case, ours, theirs, prepare in cases:
            order = [("pycontainers", ours), ("buildah", theirs)]
            if rnd % 2:
                order.reverse()
            if prepare is not None:
                prepare()  # one change, seen by both builders
            for who, argv in order:
                samples.setdefault((case, who), []).append(timed(argv, env))
    print(f"{'case':<18} {'pycontainers':>13} {'buildah':>10} {'ratio':>7} {'target':>7}")
    rows: dict[str, object] = {}
    verdicts: dict[str, object] = {}
    for case, _, _, _ in cases:
        mine = statistics.median(samples[(case, "pycontainers")])
        peer = statistics.median(samples[(case, "buildah")])
        ratio = mine / peer
        target = TARGETS[case]
        mark = "ok" if ratio <= target else "MISS"
        print(f"{case:<18} {mine:>12.3f}s {peer:>9.3f}s {ratio:>6.2f}x {target:>5.1f}x {mark}")
        rows[f"{case}: pycontainers"] = _row(samples[(case, "pycontainers")], ratio,
                                             f"{case}: buildah")  # fmt: skip
        rows[f"{case}: buildah"] = _row(samples[(case, "buildah")], None, None)
        verdicts[f"{case} <= {target}x buildah"] = {
            "ratio": ratio, "max": target, "verdict": "PASS" if ratio <= target else "FAIL",
        }  # fmt: skip
    print(f"(medians of {runs} interleaved runs each; buildah {driver} storage)")
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": runs, "driver": driver,
            "rows": rows, "targets": verdicts}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
