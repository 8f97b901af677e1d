#!/usr/bin/env python3
"""What the device group of a foreground ``pc.run()`` costs a start: ``/bin/true`` in
fresh pid/mnt/uts/ipc/net namespaces with the group taken from the per-process pool
(pycontainers.runtime.devpool, the default), with a fresh group made and removed for every
run (the pool kept empty, as before the pool), and with no group at all (what a run
without device rules would cost: not something pycontainers does for root). Interleaved
round-robin, each mode starting a round in turn; ratios against "no group".

Usage (root)::

    flock /tmp/pc-tests.lock python3 benchmarks/device_group.py [--runs 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import busybox_rootfs  # noqa: E402
from start_latency import NAMESPACES  # noqa: E402

import pycontainers as pc  # noqa: E402
from pycontainers.runtime import devpool, devrules  # noqa: E402


@contextmanager
def pooled() -> Iterator[None]:
    yield


@contextmanager
def fresh() -> Iterator[None]:
    # an empty pool of its own that keeps nothing: each run makes a group and removes it,
    # and the pooled mode's idle group is left alone
    own, keep = devpool._pool, devpool.KEEP
    devpool._pool, devpool.KEEP = devpool._Pool(), 0
    try:
        yield
    finally:
        devpool._pool, devpool.KEEP = own, keep


@contextmanager
def no_group() -> Iterator[None]:
    needs = devrules.needs_cgroup
    devrules.needs_cgroup = lambda spec: spec.resources is not None
    try:
        yield
    finally:
        devrules.needs_cgroup = needs


MODES: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "pooled group": pooled,
    "fresh group": fresh,
    "no group": no_group,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rootfs"
        busybox_rootfs(root)
        try:
            names = list(MODES)
            for i in range(args.warmup + args.runs):
                shift = i % len(names)  # each mode starts a round in turn
                for name in names[shift:] + names[:shift]:
                    mode = MODES[name]
                    with mode():
                        start = time.perf_counter()
                        result = pc.run(str(root), ["/bin/true"], namespaces=NAMESPACES)
                        took = time.perf_counter() - start
                    assert result.returncode == 0, result
                    if i >= args.warmup:
                        samples[name].append(took * 1e3)
        finally:
            devpool.drain()
    print(f"pc.run('/bin/true') and its device group ({args.runs} samples each, interleaved)\n")
    print(f"{'mode':<16}{'median ms':>10}{'p10 ms':>9}{'p90 ms':>9}  vs no group")
    base = statistics.median(samples["no group"])
    for name, values in samples.items():
        deciles = statistics.quantiles(values, n=10)
        median = statistics.median(values)
        print(f"{name:<16}{median:>10.3f}{deciles[0]:>9.3f}{deciles[-1]:>9.3f}  "
              f"{median / base:.2f}x (+{median - base:.3f} ms)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "samples_ms": samples}, indent=1))


if __name__ == "__main__":
    main()
