#!/usr/bin/env python3
"""What joining a cgroup costs a start: ``pc_spawn`` of ``/bin/true`` (the C spawner, vfork
style, returning once the child has exec'd) into a group, timed from the call to its return.

The first ``cgroup.procs`` write after a quiet spell waits for an RCU grace period (the
global ``cgroup_threadgroup_rwsem``, see ``pycontainers/cgroups/prime.py``); a clone straight
into a cgroup2 group (``CLONE_INTO_CGROUP``) does not take that lock for writing. Rows:

- a group in the cgroup2 hierarchy alone (what every group is on a pure v2 host): cloned
  into it; joined by the child's write (as before, and on kernels before 5.7), cold and
  primed (:func:`pycontainers.cgroups.prime.prime` called ``--lead`` ms before the spawn);
- a group in every hierarchy of this host (hybrid: v1 controllers + cgroup2, what a
  container with limits gets here): cloned into the cgroup2 one with the v1 ones written,
  and all written, each cold and primed.

"Cold" samples come after ``--idle`` ms without a migration from us (other processes on the
machine may still warm the lock: medians). Rows are interleaved round-robin; ratios are
against "v2 alone, written, cold".

Usage (root)::

    flock /tmp/pc-tests.lock python3 benchmarks/cgroup_join.py [--runs 20] [--idle 100]
        [--lead 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pycontainers import _sys  # noqa: E402
from pycontainers._plan import Plan  # noqa: E402
from pycontainers.cgroups import detect_layout, prime  # noqa: E402


class Group:
    """A bare group named ``pcjoin-<pid>`` in the given hierarchies (mountpoints), with its
    cgroup.procs files and the cgroup2 directory open.
    """

    def __init__(self, tag: str, roots: list[str], unified: str | None) -> None:
        name = f"pcjoin-{tag}-{os.getpid()}"
        self.dirs = [os.path.join(root, name) for root in roots]
        for made, d in enumerate(self.dirs):
            try:
                os.mkdir(d)
            except BaseException:
                for done in self.dirs[:made]:
                    os.rmdir(done)
                raise
        self.procs = [os.open(os.path.join(d, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
                      for d in self.dirs]  # fmt: skip
        self.v2_index = roots.index(unified) if unified in roots else -1
        self.v2_fd = (
            os.open(self.dirs[self.v2_index], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            if self.v2_index >= 0
            else -1
        )

    def plan(self, into: bool) -> Plan:
        """/bin/true joining this group (cloned into its cgroup2 part when ``into``)."""
        return Plan(
            argv=("/bin/true",), host_tool=True, no_sync=True, fds=((-1, 0), (-1, 1), (-1, 2)),
            cgroup_fds=tuple(self.procs), cgroup_v2_fd=self.v2_fd if into else -1,
            cgroup_v2_index=self.v2_index if into else -1,
        )  # fmt: skip

    def close(self) -> None:
        for fd in [*self.procs, self.v2_fd]:
            if fd >= 0:
                os.close(fd)
        for d in self.dirs:
            os.rmdir(d)


def spawn_ms(plan: Plan) -> float:
    """Milliseconds of one spawn (it returns once the child has exec'd); the child reaped."""
    t0 = time.perf_counter()
    spawned = _sys.spawn(plan)
    dt = (time.perf_counter() - t0) * 1000
    os.waitpid(spawned.pid, 0)
    os.close(spawned.pidfd)
    os.close(spawned.sock)
    return dt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--idle", type=float, default=100.0, help="ms before a cold sample")
    p.add_argument("--lead", type=float, default=15.0, help="ms from prime() to the spawn")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    layout = detect_layout()
    if layout.unified is None:
        raise SystemExit("no cgroup2 hierarchy here: nothing to clone into")
    v2 = Group("v2", [layout.unified], layout.unified)
    roots = [*dict(layout.v1_hierarchies).values(), layout.unified]
    try:
        every = Group("all", roots, layout.unified) if len(roots) > 1 else None
    except BaseException:
        v2.close()
        raise
    rows: dict[str, Callable[[], float]] = {}

    def row(name: str, group: Group, into: bool, primed: bool) -> None:
        plan = group.plan(into)

        def sample() -> float:
            if primed:
                time.sleep(args.idle / 1000)
                prime.prime()
                time.sleep(args.lead / 1000)
                try:
                    return spawn_ms(plan)
                finally:
                    prime.stop()
            time.sleep(args.idle / 1000)
            return spawn_ms(plan)

        rows[name] = sample

    row("v2 alone, written, cold", v2, False, False)
    row("v2 alone, written, primed", v2, False, True)
    row("v2 alone, cloned into, cold", v2, True, False)
    if every is not None:
        row("hybrid, all written, cold", every, False, False)
        row("hybrid, all written, primed", every, False, True)
        row("hybrid, v2 cloned into, cold", every, True, False)
        row("hybrid, v2 cloned into, primed", every, True, True)
    if not prime.enabled() or prime.target() is None:
        print("note: the primer has nothing to do here (off, favordynmods or cgroup2 alone)")
    samples: dict[str, list[float]] = {name: [] for name in rows}
    names = list(rows)
    try:
        for i in range(args.runs + 1):
            for k in range(len(names)):
                name = names[(i + k) % len(names)]
                ms = rows[name]()
                if i:  # round 0 warms up
                    samples[name].append(ms)
    finally:
        v2.close()
        if every is not None:
            every.close()
    base = statistics.median(samples[names[0]])
    print(f"cgroup join: spawn of /bin/true into a group ({args.runs} rounds, interleaved, "
          f"idle {args.idle:.0f} ms, primed {args.lead:.0f} ms ahead)\n")  # fmt: skip
    print(f"{'row':34} {'median ms':>10} {'p10':>8} {'p90':>8}  vs {names[0]}")
    out = []
    for name in names:
        xs = sorted(samples[name])
        med = statistics.median(xs)
        p10, p90 = xs[len(xs) // 10], xs[(len(xs) * 9) // 10]
        print(f"{name:34} {med:10.2f} {p10:8.2f} {p90:8.2f}  {med / base:.2f}x")
        out.append({"row": name, "median_ms": med, "p10_ms": p10, "p90_ms": p90})
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
