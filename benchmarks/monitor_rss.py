#!/usr/bin/env python3
"""Memory of the per-container monitor: 100 pycontainers-monitor processes vs 100 conmons.

Each pycontainers monitor runs ``sleep 300`` in ``-- ARGV`` mode (fork+exec, json-file log,
attach socket listening, exit file on exit). Each conmon (if installed: ``apt-get install -y
conmon``) is started the way podman starts it, with a stand-in OCI runtime (a shell script
whose ``create`` starts ``sleep 300`` and writes its pid file), a k8s-file log, an exit dir
and an attach socket dir; conmon then adopts the sleep as a subreaper, like a real container.
Measured for every monitor process (not the sleeps): VmRSS and its anon/file split from
/proc/PID/status, and Pss from /proc/PID/smaps_rollup (shared pages divided among sharers).

Usage::

    python benchmarks/monitor_rss.py [--count 100] [--json out.json]

Everything runs in one temporary directory; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONMON_DOCUMENTED_KB = 1900  # conmon's RSS as measured earlier on the reference VM (issue 8)

FAKE_RUNTIME = """#!/bin/sh
# stand-in OCI runtime for conmon: `create ... --pid-file F ID` starts the "container"
pidfile=
while [ $# -gt 0 ]; do
    case "$1" in --pid-file) pidfile=$2; shift;; esac
    shift
done
sleep 300 &
echo $! > "$pidfile"
"""


def monitor_binary() -> str:
    try:
        from pycontainers.runtime.monitor_bin import monitor_path
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from pycontainers.runtime.monitor_bin import monitor_path
    return monitor_path()


def memory(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile (kB) and Pss (kB) of one process."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            out["Pss"] = int(line.split()[1])
    return out


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    end = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < end:
        left = [p for p in left if _alive(p)]
        time.sleep(0.02)
    return left


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def start_ours(binary: str, tmp: Path, count: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(count):
        state = tmp / f"pc-{i}"
        state.mkdir()
        r, w = os.pipe()
        cmd = [binary, "--state-dir", str(state), "--ready-fd", str(w), "--", "sleep", "300"]
        procs.append(subprocess.Popen(cmd, pass_fds=(w,), stdin=subprocess.DEVNULL))
        os.close(w)
        with os.fdopen(r, "rb") as ready:
            if ready.read(1) != b"1":
                raise RuntimeError(f"monitor {i} did not start")
    return procs


def start_conmons(conmon: str, tmp: Path, count: int, pairs: list[tuple[int, int]]) -> None:
    """Append (conmon pid, container pid) pairs; conmon daemonizes itself, as under podman."""
    runtime = tmp / "fake-runtime"
    runtime.write_text(FAKE_RUNTIME)
    runtime.chmod(0o755)
    for i in range(count):
        d = tmp / f"conmon-{i}"
        (d / "exits").mkdir(parents=True)
        (d / "sock").mkdir()
        (d / "config.json").write_text("{}")
        cid = f"c{i}"
        cmd = [
            conmon, "--api-version", "1", "-c", cid, "-u", cid, "-n", cid,
            "-r", str(runtime), "-b", str(d), "-p", str(d / "pid"),
            "-P", str(d / "conmon.pid"), "-l", f"k8s-file:{d / 'ctr.log'}",
            "--exit-dir", str(d / "exits"), "--socket-dir-path", str(d / "sock"),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True)
        mon = int((d / "conmon.pid").read_text())
        pairs.append((mon, 0))
        # the daemonized conmon runs the runtime after its parent returned
        end = time.monotonic() + 10
        while not (d / "pid").exists() or not (d / "pid").read_text().strip():
            if time.monotonic() > end or not _alive(mon):
                raise RuntimeError(f"conmon {i} did not start its container")
            time.sleep(0.005)
        pairs[-1] = (mon, int((d / "pid").read_text()))


def summarize(name: str, samples: list[dict[str, int]]) -> dict[str, Any]:
    rss = [s["VmRSS"] for s in samples]
    return {
        "name": name,
        "count": len(samples),
        "rss_sum_kb": sum(rss),
        "rss_median_kb": statistics.median(rss),
        "rss_min_kb": min(rss),
        "rss_max_kb": max(rss),
        "anon_median_kb": statistics.median(s["RssAnon"] for s in samples),
        "file_median_kb": statistics.median(s["RssFile"] for s in samples),
        "pss_sum_kb": sum(s["Pss"] for s in samples),
        "rss_kb": rss,
        "measured": True,
    }


def show(row: dict[str, Any]) -> None:
    if not row["measured"]:
        print(f"{row['name']:<22} NOT MEASURED: {row['note']}")
        return
    print(
        f"{row['name']:<22} n={row['count']:<4} VmRSS median {row['rss_median_kb']:>6.0f} kB "
        f"(min {row['rss_min_kb']}, max {row['rss_max_kb']}; anon {row['anon_median_kb']:.0f}"
        f" + file {row['file_median_kb']:.0f})  sum {row['rss_sum_kb'] / 1024:7.1f} MB  "
        f"Pss sum {row['pss_sum_kb'] / 1024:6.1f} MB"
    )


def measure_detached_containers(count: int, tmp: Path) -> dict[str, Any]:
    """``count`` real detached containers (``pc.Container.create("host", ["sleep", "300"],
    detach=True)``): the memory of each one's monitor, as the engine starts them."""
    os.environ.setdefault("PYCONTAINERS_STATE", str(tmp / "state"))
    os.environ.setdefault("PYCONTAINERS_ROOT", str(tmp / "data"))
    import pycontainers as pc

    containers = []
    try:
        for _ in range(count):
            c = pc.Container.create("host", ["sleep", "300"], detach=True)
            c.start()
            containers.append(c)
        time.sleep(0.5)
        pids = [pc.Container.load(c.id).record.monitor_pid for c in containers]
        return summarize("monitors of detached containers", [memory(p) for p in pids])
    finally:
        for c in containers:
            c.delete()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--no-containers", action="store_true", help="skip the real detached containers (root)"
    )
    args = parser.parse_args()
    binary = monitor_binary()
    conmon = shutil.which("conmon")
    rows: list[dict[str, Any]] = []
    ours: list[subprocess.Popen[bytes]] = []
    conmons: list[tuple[int, int]] = []
    containers_row: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="monitor-rss-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            ours = start_ours(binary, tmp, args.count)
            time.sleep(0.5)  # let every monitor settle in its loop
            rows.append(summarize("pycontainers-monitor", [memory(p.pid) for p in ours]))
            if os.geteuid() == 0 and not args.no_containers:
                containers_row = measure_detached_containers(args.count, tmp)
            if conmon:
                start_conmons(conmon, tmp, args.count, conmons)
                time.sleep(0.5)
                rows.append(summarize("conmon", [memory(c) for c, _ in conmons]))
            else:
                rows.append(
                    {
                        "name": "conmon",
                        "measured": False,
                        "rss_median_kb": CONMON_DOCUMENTED_KB,
                        "note": f"conmon not installed; the documented {CONMON_DOCUMENTED_KB} kB "
                        "(issue 8) is used for the ratio",
                    }
                )
        finally:
            for p in ours:  # SIGTERM is forwarded to the sleep; the monitor then exits
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
            for p in ours:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for mon, ctr in conmons:  # conmon exits once its container has exited
                with contextlib.suppress(ProcessLookupError):
                    os.kill(ctr, signal.SIGKILL) if ctr else os.kill(mon, signal.SIGKILL)
            for pid in wait_gone([c for c, _ in conmons], 10):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    print(f"{args.count} monitors, each around `sleep 300` (VmRSS from /proc/PID/status)")
    for row in rows:
        show(row)
    if containers_row is not None:
        show(containers_row)
    ratio = rows[1]["rss_median_kb"] / rows[0]["rss_median_kb"]
    label = "measured" if rows[1]["measured"] else "documented, NOT measured"
    print(f"conmon / pycontainers-monitor median VmRSS: {ratio:.2f}x ({label})")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
