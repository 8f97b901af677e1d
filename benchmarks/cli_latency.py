#!/usr/bin/env python3
"""CLI latency: the paths users take with the ``pycontainers`` command vs podman with runc.

Every row is a whole process (``subprocess.run`` timed with ``time.perf_counter``), except
the in-process lifecycle rows. Contenders are interleaved round-robin (one sample of each
per round, the starting contender rotating every round), as in ``start_latency.py``.
Everything runs in a private network namespace with private pycontainers and podman state
in one temporary directory, removed at exit.

Usage (as root; never while the test suite runs)::

    flock /tmp/pc-tests.lock python3 benchmarks/cli_latency.py [--runs 20] [--warmup 2]
        [--many 100] [--json out.json] [--skip-podman]

See benchmarks/README.md for what each row measures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import busybox_rootfs, host_mounts, private_netns, quiet, unmount_under

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PODMAN = "/usr/bin/podman"
RUNC = "/usr/sbin/runc"
# runc cannot raise RLIMIT_NOFILE/NPROC to podman's defaults in this VM ("error setting
# rlimit type 7"), so podman runs with explicit limits.
PODMAN_ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
# Seconds of pause before each in-process sample: the cgroup-migration lock goes idle.
SETTLE = 0.2

# Targets of issue 15 (informational): (label, numerator, denominator, max ratio).
TARGETS = [
    ("run --rm --network none vs podman", "pc run none", "podman run none", 0.5),
    ("run --rm --network bridge vs podman", "pc run bridge", "podman run bridge", 0.8),
    ("  cold (PYCONTAINERS_WARM=0): none", "pc run none (cold)", "podman run none", 0.5),
    ("  cold (PYCONTAINERS_WARM=0): bridge", "pc run bridge (cold)", "podman run bridge", 0.8),
    ("in-process detached vs attached", "in-process detached", "in-process attached", 3.0),
    ("  the same, warm", "in-process detached (warm)", "in-process attached (warm)", 3.0),
    ("ps (0 containers) vs python3 -c pass", "pc ps (0)", "python3 -c pass", 3.0),
    ("ps (N containers) vs python3 -c pass", "pc ps (N)", "python3 -c pass (N)", 3.0),
]


class Unavailable(Exception):
    """A contender cannot run here; the message says why."""


# A sampler takes one sample and returns {series name: seconds}.
Sampler = Callable[[], dict[str, float]]


@dataclass
class Contender:
    name: str
    sampler: Sampler
    reason: str | None = None


@dataclass
class Bench:
    """Private paths, the command lines, and every container made (for the cleanup)."""

    work: Path
    rootfs: Path
    pc: list[str]
    podman: list[str] | None
    series: dict[str, list[float]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    podman_ids: list[str] = field(default_factory=list)

    def add(self, sample: dict[str, float]) -> None:
        for name, seconds in sample.items():
            self.series.setdefault(name, []).append(seconds)


# --------------------------------------------------------------------------- helpers


def _tail(text: str | bytes | None, limit: int = 300) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else "..." + text[-limit:]


# the environment of the cold rows: the warm start off (pycontainers/warmstart)
COLD_ENV = {"PYCONTAINERS_WARM": "0"}


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run argv (with ``env`` added to the environment), return (seconds, stdout); raise
    Unavailable when it fails.
    """
    full = {**os.environ, **env} if env else None
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, check=False, env=full
    )
    t1 = time.perf_counter()
    if proc.returncode != 0:
        raise Unavailable(
            f"{' '.join(argv)} exited {proc.returncode}: "
            f"{_tail(proc.stderr) or _tail(proc.stdout) or '(no output)'}"
        )
    return t1 - t0, proc.stdout.decode().strip()


def compile_package() -> str:
    """``python -m compileall`` the pycontainers the CLI will import (the PYTHONPYCACHEPREFIX
    set in the environment): the rows measure the CLI as installed, not the compiler.
    """
    spec = importlib.util.find_spec("pycontainers")
    if spec is None or spec.origin is None:
        raise SystemExit("pycontainers is not importable")
    package = os.path.dirname(spec.origin)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)
    return package


# --------------------------------------------------------------------------- samplers


def cli_pair(b: Bench, network: str) -> list[Contender]:
    """Row 1/2: ``run --rm`` of /bin/true, pycontainers and podman, on one network."""
    rootfs = str(b.rootfs)
    pc_cmd = [*b.pc, "run", "--rm", "--network", network, rootfs, "/bin/true"]
    cold = f"pc run {network} (cold)"
    out = [
        Contender(f"pc run {network}", lambda: {f"pc run {network}": timed(pc_cmd)[0]}),
        Contender(cold, lambda: {cold: timed(pc_cmd, COLD_ENV)[0]}),
    ]
    if b.podman is not None:
        pm_cmd = [
            *b.podman, "run", "--rm", "--network", network,
            *PODMAN_ULIMITS,
            "--rootfs", rootfs, "/bin/true",
        ]  # fmt: skip
        name = f"podman run {network}"
        out.append(Contender(name, lambda: {name: timed(pm_cmd)[0]}))
    return out


def detached_cli(b: Bench) -> Contender:
    """Row 3: ``run -d ... sleep 5`` then ``rm -f <id>``, each timed, and their sum."""
    run_cmd = [*b.pc, "run", "-d", "--network", "none", str(b.rootfs), "sleep", "5"]

    def sample() -> dict[str, float]:
        t_run, cid = timed(run_cmd)
        t_rm, _ = timed([*b.pc, "rm", "-f", cid])
        return {"pc run -d": t_run, "pc rm -f": t_rm, "pc run -d + rm -f": t_run + t_rm}

    return Contender("pc run -d + rm -f", sample)


def in_process(b: Bench, detach: bool) -> Contender:
    """Row 5: Container.create + start + wait + delete in this process, twice per sample.

    The first lifecycle starts after a pause (SETTLE), so that the kernel's cgroup-migration
    lock is idle, as for a user's one-off container: its first ``cgroup.procs`` write waits
    for an RCU grace period (~8-15 ms here). The second follows at once (``(warm)`` rows).
    Without the pause, a contender sampled right after another container start inherits a
    warm lock and the other does not: session 9's detached/attached ratio compared a cold
    detached lifecycle with an attached one that ran right after it.
    """
    from pycontainers import Container

    rootfs = str(b.rootfs)
    name = "in-process detached" if detach else "in-process attached"

    def lifecycle() -> float:
        t0 = time.perf_counter()
        c = (
            Container.create(rootfs, ["true"], detach=True)
            if detach
            else Container.create(rootfs, ["true"])
        )
        c.start()
        rc = c.wait()
        c.delete()
        t1 = time.perf_counter()
        if rc != 0:
            raise Unavailable(f"{name}: true exited {rc}")
        return t1 - t0

    def sample() -> dict[str, float]:
        time.sleep(SETTLE)
        cold = lifecycle()
        return {name: cold, f"{name} (warm)": lifecycle()}

    return Contender(name, sample)


def simple(name: str, argv: list[str], env: dict[str, str] | None = None) -> Contender:
    return Contender(name, lambda: {name: timed(argv, env)[0]})


def warm_up(b: Bench) -> str:
    """Start the warm start server of this run's context and wait until a call is warm;
    what the last call's client said (its debug line).
    """
    line = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        proc = subprocess.run([*b.pc, "version"], capture_output=True, text=True, check=False,
                              env={**os.environ, "PYCONTAINERS_LAUNCH_DEBUG": "1"})  # fmt: skip
        found = [x for x in proc.stderr.splitlines() if x.startswith("pycontainers-front:")]
        line = found[0] if found else "(no pycontainers-front line: no warm start client)"
        if "warm" in line.split(":", 1)[-1].split()[:1] or not found:
            break
        time.sleep(0.3)
    return line


def first_call(b: Bench) -> Contender:
    """``run --rm --network none`` with no server (stopped, untimed, before each sample)."""
    cmd = [*b.pc, "run", "--rm", "--network", "none", str(b.rootfs), "/bin/true"]

    def sample() -> dict[str, float]:
        quiet([*b.pc, "system", "warm", "--stop"])
        seconds = timed(cmd)[0]
        warm_up(b)  # (the server that call started is ready before the next sample)
        return {"pc run none (first call)": seconds}

    return Contender("pc run none (first call)", sample)


# --------------------------------------------------------------------------- phases


def progress(text: str, end: bool = False) -> None:
    """A progress line on a terminal (stderr), nothing otherwise."""
    if sys.stderr.isatty():
        print(f"\r{text}", end="\n" if end else "", file=sys.stderr, flush=True)


def interleave(b: Bench, contenders: list[Contender], runs: int, warmup: int, label: str) -> None:
    """Rounds of one sample per contender, the first one rotating; warm-up rounds dropped."""
    total = warmup + runs
    for rnd in range(total):
        active = [c for c in contenders if c.reason is None]
        if not active:
            return
        shift = rnd % len(active)
        for c in active[shift:] + active[:shift]:
            try:
                sample = c.sampler()
            except Unavailable as exc:
                c.reason = str(exc)
                b.unavailable[c.name] = c.reason
                print(f"[{c.name}] failed, dropping it: {c.reason}", file=sys.stderr)
                continue
            if rnd >= warmup:
                b.add(sample)
        progress(f"{label}: round {rnd + 1}/{total}", end=rnd + 1 == total)


def probe_podman(b: Bench, network: str) -> bool:
    """Try podman once on a network; record why it is unavailable if it fails."""
    assert b.podman is not None
    cmd = [*b.podman, "run", "--rm", "--network", network, *PODMAN_ULIMITS, "--rootfs"]
    cmd += [str(b.rootfs), "/bin/true"]
    try:
        timed(cmd)
    except Unavailable as exc:
        b.unavailable[f"podman run {network}"] = str(exc)
        print(f"podman {network}: unavailable ({exc})", file=sys.stderr)
        return False
    return True


def many_running(b: Bench, count: int) -> None:
    """Create ``count`` detached ``sleep 600`` containers (untimed, 4 at a time)."""
    cmd = [*b.pc, "run", "-d", "--network", "none", str(b.rootfs), "sleep", "600"]
    with ThreadPoolExecutor(4) as pool:
        for proc in pool.map(lambda _: quiet(cmd), range(count)):
            if proc.returncode != 0:
                raise SystemExit(f"creating a sleep 600 container failed: {_tail(proc.stderr)}")


def throughput(b: Bench, count: int) -> None:
    """Row 6: ``count`` ``run -d /bin/true`` in a loop, pycontainers and podman alternating."""
    rootfs = str(b.rootfs)
    pc_cmd = [*b.pc, "run", "-d", "--network", "none", rootfs, "/bin/true"]
    cmds: dict[str, list[str]] = {"pc run -d true": pc_cmd}
    if b.podman is not None:
        cmds["podman run -d true"] = [
            *b.podman, "run", "-d", "--network", "none",
            *PODMAN_ULIMITS,
            "--rootfs", rootfs, "/bin/true",
        ]  # fmt: skip
    names = list(cmds)
    for i in range(count):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            try:
                seconds, cid = timed(cmds[name])
            except Unavailable as exc:
                b.unavailable[name] = str(exc)
                names.remove(name)
                print(f"[{name}] failed, dropping it: {exc}", file=sys.stderr)
                continue
            if name.startswith("podman"):
                b.podman_ids.append(cid)
            b.add({name: seconds})
        progress(f"run -d loop: {i + 1}/{count}", end=i + 1 == count)


def remove_all(b: Bench) -> list[str]:
    """Remove every pycontainers and podman container of this run; return what is left."""
    ids = quiet([*b.pc, "ps", "-a", "-q", "--no-trunc"]).stdout.split()
    for i in range(0, len(ids), 50):
        quiet([*b.pc, "rm", "-f", *ids[i : i + 50]])
    quiet([*b.pc, "system", "prune", "-f"])
    if b.podman is not None:
        quiet([*b.podman, "rm", "-a", "-f", "-t", "0"])
    left = quiet([*b.pc, "ps", "-a", "-q", "--no-trunc"]).stdout.split()
    if b.podman is not None:
        left += quiet([*b.podman, "ps", "-a", "-q"]).stdout.split()
    return left


# --------------------------------------------------------------------------- report


def stats(samples: Sequence[float]) -> tuple[float, float, float]:
    """(median, p10, p90) in milliseconds."""
    ms = [s * 1e3 for s in samples]
    if len(ms) == 1:
        return ms[0], ms[0], ms[0]
    deciles = statistics.quantiles(ms, n=10, method="inclusive")
    return statistics.median(ms), deciles[0], deciles[-1]


def ratio(b: Bench, num: str, den: str) -> float | None:
    a, c = b.series.get(num), b.series.get(den)
    if not a or not c:
        return None
    return statistics.median(a) / statistics.median(c)


# Rows of the table: (series, series to compare with).
ROWS = [
    ("pc run none", "podman run none"),
    ("pc run none (cold)", "podman run none"),
    ("pc run none (first call)", "podman run none"),
    ("podman run none", None),
    ("pc run none (baseline cli)", "pc run none"),
    ("pc run bridge", "podman run bridge"),
    ("pc run bridge (cold)", "podman run bridge"),
    ("podman run bridge", None),
    ("pc run -d", None),
    ("pc rm -f", None),
    ("pc run -d + rm -f", None),
    ("in-process detached", "in-process attached"),
    ("in-process attached", None),
    ("in-process detached (warm)", "in-process attached (warm)"),
    ("in-process attached (warm)", None),
    ("pc ps (0)", "python3 -c pass"),
    ("pc ps (0) (cold)", "python3 -c pass"),
    ("pc ps (0) (baseline cli)", "pc ps (0)"),
    ("python3 -c pass", None),
    ("pc ps (N)", "python3 -c pass (N)"),
    ("python3 -c pass (N)", None),
    ("pc run -d true", "podman run -d true"),
    ("podman run -d true", None),
]


def report(b: Bench, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\nCLI latency ({args.runs} rounds, {args.warmup} warm-up, interleaved; N={args.many})")
    print()
    print(f"{'row':<28}{'median ms':>11}{'p10 ms':>10}{'p90 ms':>10}{'n':>5}  ratio")
    print("-" * 82)
    rows: dict[str, Any] = {}
    for name, other in ROWS:
        samples = b.series.get(name)
        if not samples:
            if name in b.unavailable:
                print(f"{name:<28}  unavailable: {b.unavailable[name][:200]}")
                rows[name] = {"available": False, "reason": b.unavailable[name]}
            continue
        med, p10, p90 = stats(samples)
        r = ratio(b, name, other) if other else None
        rtext = f"{r:.2f}x {other}" if r is not None else ""
        print(f"{name:<28}{med:>11.1f}{p10:>10.1f}{p90:>10.1f}{len(samples):>5}  {rtext}")
        rows[name] = {
            "median_ms": med,
            "p10_ms": p10,
            "p90_ms": p90,
            "n": len(samples),
            "ratio": r,
            "vs": other,
            "samples_s": samples,
        }
    rates: dict[str, float] = {}
    for name in ("pc run -d true", "podman run -d true"):
        if b.series.get(name):
            rates[name] = len(b.series[name]) / sum(b.series[name])
    if rates:
        print()
        print("containers per second (run -d /bin/true in a loop): " + ", ".join(
            f"{n.split()[0]} {r:.2f}/s" for n, r in rates.items()
        ))  # fmt: skip
    print()
    print("issue 15 targets (informational):")
    verdicts: dict[str, Any] = {}
    for label, num, den, limit in TARGETS:
        r = ratio(b, num, den)
        v = "n/a" if r is None else ("PASS" if r <= limit else "FAIL")
        shown = "n/a" if r is None else f"{r:.2f}x"
        print(f"  {label:<40}{shown:>8}  target <= {limit:.1f}x  {v}")
        verdicts[label] = {"ratio": r, "max": limit, "verdict": v}
    return {
        "host": {
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "podman": quiet([PODMAN, "--version"]).stdout.strip() if b.podman else None,
            "runc": next(iter(quiet([RUNC, "--version"]).stdout.splitlines()), None),
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": args.runs,
        "warmup": args.warmup,
        "many": args.many,
        "rows": rows,
        "per_second": rates,
        "targets": verdicts,
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=20, help="samples per row (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="discarded warm-up rounds (default 2)")
    p.add_argument(
        "--many", type=int, default=100, help="containers for the ps and loop rows (default 100)"
    )
    p.add_argument("--json", metavar="FILE", type=Path, help="also write results as JSON")
    p.add_argument("--skip-podman", action="store_true", help="pycontainers rows only")
    p.add_argument(
        "--run-rows-only",
        action="store_true",
        help="only rows 1-2 (run --rm, --network none and bridge, with podman's)",
    )
    p.add_argument(
        "--cli",
        metavar="PATH",
        type=Path,
        help="the pycontainers command to measure (default: the one installed beside this "
        "interpreter, else python -m pycontainers)",
    )
    p.add_argument(
        "--baseline-cli",
        metavar="PATH",
        type=Path,
        help="another pycontainers command (e.g. pip's console script) sampled in the same "
        "rounds for `run --rm --network none` and `ps`: rows '... (baseline cli)'",
    )
    p.add_argument(
        "--first-call",
        action="store_true",
        help="also `run --rm --network none` with the warm start server stopped before each "
        "sample (the row '... (first call)')",
    )
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.many < 1:
        p.error("--runs and --many must be >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    if importlib.util.find_spec("pycontainers") is None:
        sys.path.insert(0, str(REPO))
    # The console script pip installed beside this interpreter, as a user runs it: not a
    # version manager's shim found first on PATH (pyenv's is a shell script that costs more
    # than our whole start-up), and not ``-m`` when the script exists.
    script = args.cli or Path(sys.executable).with_name("pycontainers")
    pc_cli = [str(script)] if script.exists() else [sys.executable, "-m", "pycontainers"]
    if args.cli is not None and not args.cli.exists():
        raise SystemExit(f"--cli {args.cli}: no such file")
    # Short: podman refuses a runroot longer than 50 characters.
    work = Path(tempfile.mkdtemp(prefix="pcb", dir="/tmp"))
    os.environ["PYCONTAINERS_STATE"] = str(work / "state")
    os.environ["PYCONTAINERS_ROOT"] = str(work / "data")
    # the warm start server of this run: its own, stopped at the end (default rows: warm
    # after the warm-up; "(cold)" rows: PYCONTAINERS_WARM=0, in the same rounds)
    os.environ["PYCONTAINERS_WARM_DIR"] = str(work / "warm")
    os.environ["PYCONTAINERS_WARM_IDLE"] = "300"
    # A user's installed package has its bytecode cached; give the CLI a private cache,
    # compiled before the first sample, instead of compiling every module in every process.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    compiled = compile_package()
    podman: list[str] | None = None
    if not args.skip_podman:
        if os.access(PODMAN, os.X_OK) and os.access(RUNC, os.X_OK):
            podman = [
                PODMAN, "--root", str(work / "pr"), "--runroot", str(work / "rr"),
                "--cgroup-manager", "cgroupfs", "--storage-driver", "vfs",
                "--events-backend", "none", "--runtime", RUNC,
            ]  # fmt: skip
        else:
            print(f"podman unavailable: {PODMAN} or {RUNC} missing", file=sys.stderr)
    mounts = host_mounts()
    b = Bench(work, work / "rootfs", pc_cli, podman)
    started = time.monotonic()
    print(f"pycontainers CLI: {' '.join(pc_cli)}")
    if args.baseline_cli is not None:
        print(f"baseline CLI: {args.baseline_cli}")
    print(f"bytecode: compileall of {compiled} into {work / 'pycache'} before the first sample")
    try:
        private_netns()
        busybox_rootfs(b.rootfs)
        print(f"warm start: {warm_up(b)}")
        if podman is not None and not probe_podman(b, "none"):
            b.podman = None

        # Rows 1-5: one round-robin over everything that needs no extra containers.
        contenders = cli_pair(b, "none")
        pm_bridge = b.podman is not None and probe_podman(b, "bridge")
        contenders += [c for c in cli_pair(b, "bridge") if pm_bridge or c.name.startswith("pc")]
        if args.run_rows_only:
            interleave(b, contenders, args.runs, args.warmup, "rows 1-2")
            results = report(b, args)
            print(f"\ntotal wall time {time.monotonic() - started:.0f} s")
            if args.json is not None:
                args.json.write_text(json.dumps(results, indent=2) + "\n")
            return 0
        contenders += [
            detached_cli(b),
            simple("pc ps (0)", [*b.pc, "ps"]),
            simple("pc ps (0) (cold)", [*b.pc, "ps"], COLD_ENV),
            simple("python3 -c pass", [sys.executable, "-c", "pass"]),
            in_process(b, detach=True),
            in_process(b, detach=False),
        ]
        if args.baseline_cli is not None:
            base = str(args.baseline_cli)
            run_none = [base, "run", "--rm", "--network", "none", str(b.rootfs), "/bin/true"]
            contenders += [
                simple("pc run none (baseline cli)", run_none),
                simple("pc ps (0) (baseline cli)", [base, "ps"]),
            ]
        interleave(b, contenders, args.runs, args.warmup, "rows 1-5")
        if args.first_call:
            interleave(b, [first_call(b)], args.runs, 0, "first calls")

        # Row 4 with N running containers.
        print(f"creating {args.many} detached sleep 600 containers...", file=sys.stderr)
        many_running(b, args.many)
        ps_n = [
            simple("pc ps (N)", [*b.pc, "ps"]),
            simple("python3 -c pass (N)", [sys.executable, "-c", "pass"]),
        ]
        interleave(b, ps_n, args.runs, args.warmup, f"ps with {args.many}")
        print("removing them...", file=sys.stderr)
        remove_all(b)

        # Row 6: N run -d /bin/true in a loop.
        throughput(b, args.many)
        results = report(b, args)
        print(f"\ntotal wall time {time.monotonic() - started:.0f} s")
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
            print(f"\nwrote {args.json}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second ^C must not strand the cleanup
        print("cleaning up...", file=sys.stderr)
        left = remove_all(b)
        quiet([*b.pc, "system", "warm", "--stop"])  # (after the last allowlisted command)
        if left:
            print(f"WARNING: containers left behind: {' '.join(left)}", file=sys.stderr)
        else:
            print("cleanup: no container of this run left (pycontainers ps -a empty)")
        with contextlib.suppress(OSError):
            unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    left_mounts = sorted(host_mounts() - mounts)
    if left_mounts:
        print("mounts left behind by this run:\n  " + "\n  ".join(left_mounts), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
