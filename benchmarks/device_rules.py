#!/usr/bin/env python3
"""What Docker's device rules cost a container's cgroup: a group created (and deleted) with
them through the v1 devices controller (writes to devices.deny/devices.allow), through the
cgroup v2 device program (BPF_PROG_LOAD + BPF_PROG_ATTACH), both (a hybrid host), and
without rules, in the same run; ratios against the group without rules.

Usage (root, a host with the cgroup2 tree; the v1 rows need the v1 devices controller)::

    flock /tmp/pc-tests.lock python3 benchmarks/device_rules.py [--runs 200] [--json out.json]

Groups are made under ``pycontainers-bench-devices`` and removed, with it, at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pycontainers.cgroups import CGroup, CgroupLayout, detect_layout, remove_parent
from pycontainers.runtime.devrules import DEFAULT_DEVICE_RULES

PARENT = "pycontainers-bench-devices"


def contenders() -> dict[str, tuple[CgroupLayout, bool]]:
    """name -> (layout, with device rules)."""
    host = detect_layout()
    out: dict[str, tuple[CgroupLayout, bool]] = {}
    if host.unified:
        v2 = CgroupLayout("v2", unified=host.unified)
        out["v2 no rules"] = (v2, False)
        out["v2 program"] = (v2, True)
    if "devices" in host.v1:
        v1 = CgroupLayout("v1", (("devices", host.v1["devices"]),))
        out["v1 no rules"] = (v1, False)
        out["v1 devices files"] = (v1, True)
        if host.kind == "hybrid":
            both = CgroupLayout("hybrid", (("devices", host.v1["devices"]),), host.unified)
            out["hybrid no rules"] = (both, False)
            out["hybrid both"] = (both, True)
    return out


def sample(layout: CgroupLayout, rules: bool, i: int) -> float:
    limits = {"devices_deny": ["a"], "devices_allow": list(DEFAULT_DEVICE_RULES)} if rules else {}
    start = time.perf_counter()
    group = CGroup.create(f"g{i}", parent=PARENT, layout=layout, **limits)  # type: ignore[arg-type]
    group.delete()
    return (time.perf_counter() - start) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    found = contenders()
    samples: dict[str, list[float]] = {name: [] for name in found}
    try:
        for i in range(args.runs):  # interleaved: every contender sees the same machine
            for name, (layout, rules) in found.items():
                samples[name].append(sample(layout, rules, i))
    finally:
        for layout, _ in found.values():
            remove_parent(PARENT, layout=layout)
    print(f"A cgroup created + deleted with Docker's device rules ({args.runs} samples each)\n")
    print(f"{'contender':<20}{'median us':>12}{'p90 us':>10}  ratio")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, values in samples.items():
        base = medians.get(name.split()[0] + " no rules")
        ratio = f"{medians[name] / base:.2f}x {name.split()[0]} no rules" if base else ""
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
        print(f"{name:<20}{medians[name]:>12.0f}{p90:>10.0f}  {ratio}")
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "samples_us": samples}, indent=1))


if __name__ == "__main__":
    main()
