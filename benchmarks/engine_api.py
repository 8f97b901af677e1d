#!/usr/bin/env python3
"""Engine API latency: the docker CLI against ``pycontainers serve`` vs ``podman system
service``, on the same machine, interleaved round-robin (the starting daemon alternates).

Rows: ``docker run --rm busybox true`` (default network, and ``--network none``) and
``docker ps``. The docker CLI's own cost (a Go binary starting, its config, a connection and
a ping) is measured too, as ``docker ps`` against a responder that answers at once with
canned replies, once per round: the ``net ratio`` column compares the daemons above that
floor, and the row ``ps above the CLI floor`` is ``docker ps`` minus the floor of the same
round, for each daemon (what the daemon adds to a ``docker ps``), with the whole-process
ratio printed next to it: the ``ps`` target is close to or below the floor itself on small
machines, so the ratio of wall times cannot reach it however fast the daemon answers. Both
daemons run in a private network namespace with private state in one temporary directory
(removed at exit); the runs pass podman's ulimits to both (runc cannot raise
RLIMIT_NOFILE/NPROC to podman's defaults in this VM). Medians and ratios are printed, and
with ``--json FILE`` written (rows with every sample, as ``cli_latency.py`` writes them).

Usage (as root; never while the test suite runs)::

    flock /tmp/pc-tests.lock python3 benchmarks/engine_api.py [--runs 20] [--warmup 2]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUSYBOX = Path("/bin/busybox")
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
PODMAN = "/usr/bin/podman"
RUNC = "/usr/sbin/runc"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
TARGETS = [("run --rm", 0.5), ("run --rm --network none", 0.5), ("ps", 0.5)]
ABOVE = "ps above the CLI floor"


def build_image(work: Path) -> None:
    """busybox:latest in our store, from the host's static busybox."""
    rootfs = work / "rootfs"
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    out = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    for applet in out.stdout.split():
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\n")
    from pycontainers.images import default_store

    default_store().import_rootfs(str(rootfs), "busybox:latest")


def wait_socket(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited: {proc.args!r}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"daemon did not listen on {path}")


_CANNED = (
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nOstype: linux\r\n"
    b"Content-Type: application/json\r\nContent-Length: 3\r\n\r\n"
)


def canned_responder(path: Path) -> None:
    """Serve ``[]`` to every request on the unix socket ``path`` (a thread; the floor)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line = await reader.readline()
            if not line:
                break
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            writer.write(_CANNED + (b"" if line.startswith(b"HEAD") else b"[]\n"))
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_unix_server(handle, str(path))
        await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()


def docker(host: str, *args: str) -> float:
    env = {**os.environ, "DOCKER_HOST": host}
    t0 = time.perf_counter()
    r = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)} against {host} failed: {r.stderr.strip()}")
    return dt


def _stats(values: list[float]) -> dict[str, float]:
    """Median, p10 and p90 of ``values`` (seconds) in ms."""
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[round(q * (len(ordered) - 1))] * 1000

    return {"median_ms": statistics.median(values) * 1000, "p10_ms": pick(0.1),
            "p90_ms": pick(0.9)}  # fmt: skip


def report(
    samples: dict[tuple[str, str], list[float]], floor: list[float], args: argparse.Namespace
) -> dict[str, object]:
    """Print the table; the results as ``cli_latency.py`` writes them (rows, targets)."""
    cli = statistics.median(floor) * 1000
    print(f"docker CLI {DOCKER}; {args.runs} interleaved runs after {args.warmup} warm-up")
    print(f"CLI floor (docker ps against a canned responder): {cli:.1f} ms")
    print(
        f"{'row':<26}{'pycontainers ms':>16}{'podman ms':>12}{'ratio':>8}{'target':>8}"
        f"{'':>5}{'net ratio':>10}"
    )
    rows: dict[str, object] = {}
    verdicts: dict[str, object] = {}
    for row, target in [*TARGETS, (ABOVE, 0.5)]:
        ours = statistics.median(samples[(row, "pycontainers")]) * 1000
        theirs = statistics.median(samples[(row, "podman")]) * 1000
        ratio = ours / theirs if theirs > 0 else float("inf")
        mark = "ok" if ratio <= target else "MISS"
        if row == ABOVE:  # already above the floor: next to it, the whole-process ratio
            whole = statistics.median(samples[("ps", "pycontainers")]) / statistics.median(
                samples[("ps", "podman")]
            )
            extra = f"{'whole process':>14} {whole:.2f}"
        else:
            net = max(ours - cli, 0.0) / max(theirs - cli, 1e-3)
            extra = f"{net:>10.2f}"
        print(
            f"{row:<26}{ours:>16.1f}{theirs:>12.1f}{ratio:>8.2f}{'≤' + str(target):>8}"
            f" {mark:<4}{extra}"
        )
        for name in ("pycontainers", "podman"):
            values = samples[(row, name)]
            rows[f"{row}: {name}"] = {
                **_stats(values),
                "n": len(values),
                "ratio": ratio if name == "pycontainers" else None,
                "vs": f"{row}: podman" if name == "pycontainers" else None,
                "samples_s": values,
            }
        verdicts[f"{row} ≤ {target}x podman"] = {
            "ratio": ratio, "max": target, "verdict": "PASS" if ratio <= target else "FAIL",
        }  # fmt: skip
    rows["CLI floor (docker ps, canned)"] = {
        **_stats(floor), "n": len(floor), "ratio": None, "vs": None, "samples_s": floor,
    }  # fmt: skip
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": args.runs,
        "warmup": args.warmup,
        "docker": DOCKER,
        "floor_ms": cli,
        "rows": rows,
        "targets": verdicts,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = p.parse_args()
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1, --warmup >= 0")
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    if importlib.util.find_spec("pycontainers") is None:
        sys.path.insert(0, str(REPO))
    work = Path(tempfile.mkdtemp(prefix="pce", dir="/tmp"))  # short: podman's runroot limit
    os.environ["PYCONTAINERS_STATE"] = str(work / "state")
    os.environ["PYCONTAINERS_ROOT"] = str(work / "data")
    procs: list[subprocess.Popen[bytes]] = []
    hosts = {"pycontainers": f"unix://{work}/pc.sock", "podman": f"unix://{work}/pm.sock"}
    try:
        from pycontainers import _sys

        _sys.unshare(_sys.CLONE_NEWNET)  # bridges and rules stay in this namespace
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        build_image(work)
        log = open(work / "daemons.log", "wb")  # noqa: SIM115 (the daemons write to it)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "pycontainers", "serve", "-H", hosts["pycontainers"]],
            stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        wait_socket(work / "pc.sock", procs[-1])
        podman = [PODMAN, "--root", str(work / "pr"), "--runroot", str(work / "rr"),
                  "--cgroup-manager", "cgroupfs", "--storage-driver", "vfs",
                  "--events-backend", "none", "--runtime", RUNC]  # fmt: skip
        procs.append(subprocess.Popen(
            [*podman, "system", "service", "--time=0", hosts["podman"]],
            stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        wait_socket(work / "pm.sock", procs[-1])
        canned_responder(work / "floor.sock")
        tar = str(work / "busybox.tar")
        docker(hosts["pycontainers"], "save", "-o", tar, "busybox:latest")
        docker(hosts["podman"], "load", "-i", tar)
        rows = {
            "run --rm": ["run", "--rm", *ULIMITS, "busybox", "true"],
            "run --rm --network none": ["run", "--rm", "--network", "none", *ULIMITS,
                                        "busybox", "true"],
            "ps": ["ps"],
        }  # fmt: skip
        samples: dict[tuple[str, str], list[float]] = {}
        names = list(hosts)
        floor: list[float] = []
        for i in range(args.warmup + args.runs):
            order = names if i % 2 == 0 else names[::-1]
            for row, cmd in rows.items():
                for name in order:
                    dt = docker(hosts[name], *cmd)
                    if i >= args.warmup:
                        samples.setdefault((row, name), []).append(dt)
            dt = docker(f"unix://{work}/floor.sock", "ps")
            if i >= args.warmup:
                floor.append(dt)
        for name in names:  # what the daemon adds to a docker ps: minus the same round's floor
            samples[(ABOVE, name)] = [
                t - f for t, f in zip(samples[("ps", name)], floor, strict=True)
            ]
        results = report(samples, floor, args)
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
            print(f"wrote {args.json}")
        return 0
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["umount", "-R", str(work / "pr")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
