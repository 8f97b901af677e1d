#!/usr/bin/env python3
"""CPU cost of one health check of a detached container.

A detached busybox container (``sleep``) with a health check every ``--interval`` ms whose
command appends a line to a file on a bind mount (so the checks are counted exactly). Once
``--warmup`` checks ran, the monitor's CPU time and that of all its reaped children
(``/proc/MONITOR/stat`` utime + stime + cutime + cstime) is sampled over the next
``--checks`` checks; the difference divided by the number of checks is the CPU per check
(the monitor's own work, the check's setup and the command itself). Private state root in a
temporary directory, removed at exit.

Usage (as root; never while the test suite runs)::

    flock /tmp/pc-tests.lock python3 benchmarks/health_cpu.py [--checks 50] [--interval 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid``, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def busybox_rootfs(path: Path) -> Path:
    """A minimal rootfs of the host's static busybox (as the tests build it)."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    for d in ("bin", "tmp", "proc", "sys", "dev", "etc", "marks"):
        (path / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, path / "bin" / "busybox")
    for name in ("sh", "sleep", "echo", "cat", "true"):
        (path / "bin" / name).symlink_to("busybox")
    (path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (path / "etc" / "group").write_text("root:x:0:\n")
    return path


def count(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines())
    except FileNotFoundError:
        return 0


def wait_count(path: Path, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while count(path) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {count(path)} of {n} health checks ran in {timeout} s")
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--interval", type=int, default=100, help="milliseconds")
    parser.add_argument("--json", type=Path, help="also write results as JSON")
    args = parser.parse_args()

    import pycontainers as pc

    tmp = Path(tempfile.mkdtemp(prefix="pycontainers-health-cpu-"))
    try:
        rootfs = busybox_rootfs(tmp / "rootfs")
        marks = tmp / "marks"
        marks.mkdir()
        counter = marks / "count"
        check = pc.HealthCheck(
            ["sh", "-c", "echo x >> /marks/count"], interval=f"{args.interval}ms", timeout="10s"
        )
        c = pc.Container.create(
            str(rootfs), ["sleep", "100000"], detach=True, healthcheck=check, network="none",
            mounts=[pc.Mount("/marks", str(marks))], state_root=str(tmp / "state"),
        )  # fmt: skip
        try:
            c.start()
            monitor = _monitor_pid(c)
            wait_count(counter, args.warmup, 60)
            first, before = count(counter), cpu_seconds(monitor)
            wait_count(counter, first + args.checks, 10 + args.checks * args.interval / 100)
            after, last = cpu_seconds(monitor), count(counter)
            # the check that just appended may not have been reaped yet: wait for its exit
            time.sleep(0.05)
            after = cpu_seconds(monitor)
            n = last - first
            per = (after - before) / n
            print(f"checks measured: {n} (interval {args.interval} ms)")
            print(
                f"monitor + children CPU: {after - before:.3f} s -> {per * 1000:.2f} ms per check"
            )
            if args.json:
                result = {"checks": n, "interval_ms": args.interval, "cpu_s": after - before}
                args.json.write_text(json.dumps({**result, "per_check_ms": per * 1000}, indent=2))
        finally:
            c.delete()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _monitor_pid(c: object) -> int:
    with open(os.path.join(c.state_dir, "state.json")) as f:  # type: ignore[attr-defined]
        return int(json.load(f)["monitor_pid"])


if __name__ == "__main__":
    main()
