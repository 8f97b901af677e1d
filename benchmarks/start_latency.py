#!/usr/bin/env python3
"""Container start latency: pycontainers vs runc, bwrap, unshare and a C floor.

Every contender starts ``/bin/true`` in fresh pid, mount, uts, ipc and net namespaces
and waits for it to exit. Contenders are interleaved round-robin (one sample of each
per round, rotating the starting contender every round) so that drift on the host
(frequency scaling, page cache, noisy neighbours) hits all of them alike.

Usage (as root)::

    python benchmarks/start_latency.py [--runs 30] [--warmup 3] [--json out.json]

See benchmarks/README.md for what each contender measures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import busybox_rootfs

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FLOOR_SRC = HERE / "floor.c"
NAMESPACES = ("pid", "mnt", "uts", "ipc", "net")
CONTAINER_PREFIX = f"pcbench-{os.getpid()}-"  # runc container ids: unique per run

# Targets for pycontainers (see README.md).
TARGET_VS_RUNC = 1 / 3  # pycontainers median <= 1/3 of runc's
TARGET_VS_BWRAP = 1.0  # aim: faster than bwrap
TARGET_VS_FLOOR = 3.0  # within 3x the C floor


class Unavailable(Exception):
    """A contender cannot run on this host; the message says why."""


# A sampler starts one container, waits for it and returns its latency in ns.
Sampler = Callable[[], int]


@dataclass
class Contender:
    name: str
    description: str
    setup: Callable[[], Sampler]
    sampler: Sampler | None = None
    samples: list[int] = field(default_factory=list)
    reason: str | None = None  # set when unavailable

    @property
    def available(self) -> bool:
        return self.reason is None and self.sampler is not None


# --------------------------------------------------------------------------- helpers


def _tail(text: str | bytes | None, limit: int = 400) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise Unavailable(f"{tool} not found in PATH")
    return path


def _finish(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Wait for proc to exit by itself (ignoring further ^C), kill it after grace seconds."""
    deadline = time.monotonic() + grace
    while True:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            return
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return
        except KeyboardInterrupt:
            continue


def _timed_command(argv: Sequence[str]) -> Sampler:
    """Sampler that runs argv as a subprocess and times spawn + run + wait.

    The spawn cost is deliberately included: a user of runc/bwrap/unshare pays it.
    Output goes to /dev/null so no pipe plumbing is timed; on failure the command is
    re-run with captured output to explain what went wrong.
    """
    cmd = list(argv)

    def sample() -> int:
        t0 = time.perf_counter_ns()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            proc.wait()
        except BaseException:
            # ^C while a runtime is mid-start: let it finish and clean up after itself
            # (subprocess.run would SIGKILL it, stranding e.g. runc's cgroups).
            _finish(proc)
            raise
        t1 = time.perf_counter_ns()
        if proc.returncode != 0:
            again = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True)
            raise Unavailable(
                f"{' '.join(cmd)} exited {proc.returncode}: "
                f"{_tail(again.stderr) or _tail(again.stdout) or '(no output)'}"
            )
        return t1 - t0

    return sample


# --------------------------------------------------------------------------- rootfs


# --------------------------------------------------------------------------- contenders


def setup_runc(work: Path, rootfs: Path) -> Sampler:
    runc = _which("runc")
    bundle = work / "bundle"
    state = work / "runc-state"
    bundle.mkdir()
    state.mkdir()
    spec = subprocess.run([runc, "spec"], check=False, cwd=bundle, capture_output=True)
    if spec.returncode != 0:
        raise Unavailable(f"runc spec failed: {_tail(spec.stderr)}")
    config_path = bundle / "config.json"
    config: dict[str, Any] = json.loads(config_path.read_text())
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    config["root"] = {"path": str(rootfs), "readonly": False}
    # Same namespace set as every other contender. Drop cgroup (and anything else the
    # default spec may add, e.g. on newer runc) so runc is not penalised for doing more.
    wanted = {"pid", "mount", "uts", "ipc", "network"}
    config["linux"]["namespaces"] = [{"type": t} for t in sorted(wanted)]
    config_path.write_text(json.dumps(config, indent=2))

    counter = 0
    base = [runc, "--root", str(state), "run", "--bundle", str(bundle)]

    def sample() -> int:
        nonlocal counter
        counter += 1
        return _timed_command([*base, f"{CONTAINER_PREFIX}{counter}"])()

    return sample


def cleanup_runc(work: Path) -> None:
    """Force-delete any container left in our private runc state dir (e.g. after ^C)."""
    state = work / "runc-state"
    runc = shutil.which("runc")
    if runc is None or not state.is_dir():
        return
    listing = subprocess.run(
        [runc, "--root", str(state), "list", "-q"],
        check=False,
        capture_output=True,
        text=True,
    )
    for cid in listing.stdout.split():
        subprocess.run(
            [runc, "--root", str(state), "delete", "--force", cid],
            check=False,
            capture_output=True,
        )
    # A runc killed half-way may leave empty cgroups named after our container ids
    # (CONTAINER_PREFIX + counter), under the cgroup runc was started in (default
    # cgroupsPath). Remove exactly those; rmdir only succeeds on empty cgroups.
    own = [line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()]
    for mount in _cgroup_mounts():
        for rel in {"/", *own}:
            for leftover in Path(mount + rel).glob(f"{CONTAINER_PREFIX}*"):
                with contextlib.suppress(OSError):
                    leftover.rmdir()


def _cgroup_mounts() -> list[str]:
    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] in ("cgroup", "cgroup2"):
            mounts.append(fields[1])
    return mounts


def setup_bwrap(rootfs: Path) -> Sampler:
    bwrap = _which("bwrap")
    # --unshare-all = --unshare-user-try --unshare-ipc --unshare-pid --unshare-net
    # --unshare-uts --unshare-cgroup-try. Even as root the user and cgroup namespaces are
    # created when the kernel allows it, so bwrap does a little more than the others
    # (kept, as the brief is "bwrap as people run it").
    return _timed_command(
        [
            bwrap,
            "--unshare-all",
            "--bind",
            str(rootfs),
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "/bin/true",
        ]
    )


def setup_unshare() -> Sampler:
    unshare = _which("unshare")
    true = _which("true")
    # -f fork, -p pid, -m mount, -u uts, -i ipc, -n net; runs the host's true, no rootfs,
    # no pivot_root, no /proc: a namespace-only lower bound for an external tool.
    return _timed_command([unshare, "-fpmuin", true])


def setup_floor(work: Path, rootfs: Path) -> Sampler:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise Unavailable("no C compiler (cc/gcc) found")
    binary = work / "floor"
    build = subprocess.run(
        [cc, "-O2", "-Wall", "-Wextra", "-o", str(binary), str(FLOOR_SRC)],
        check=False,
        capture_output=True,
    )
    if build.returncode != 0:
        raise Unavailable(f"compiling floor.c failed: {_tail(build.stderr)}")
    cmd = [str(binary), str(rootfs), "2"]

    # Fairness: pycontainers is timed in-process around pc.run(), i.e. clone -> exec ->
    # wait from an already-running process. The floor is timed the same way: by itself,
    # around its clone -> wait cycle, so the cost of spawning the floor binary is not
    # counted. Each round runs it with N=2 and keeps only the second iteration, so the
    # sample comes from a warm process (first-touch faults of the clone stack, libc
    # lazy binding) -- as pycontainers' samples do after warm-up -- while the floor
    # stays interleaved with the other contenders instead of running as one block.
    def sample() -> int:
        proc = subprocess.run(
            cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise Unavailable(f"floor exited {proc.returncode}: {_tail(proc.stderr)}")
        return int(proc.stdout.split()[-1])

    return sample


def setup_pycontainers(rootfs: Path) -> Sampler:
    # An installed pycontainers wins; otherwise use the source tree this script lives in.
    try:
        pc: Any = importlib.import_module("pycontainers")
    except ImportError:
        sys.path.insert(0, str(REPO))
        try:
            pc = importlib.import_module("pycontainers")
        except Exception as exc:  # any import failure means "not usable yet"
            raise Unavailable(f"import pycontainers failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise Unavailable(f"import pycontainers failed: {type(exc).__name__}: {exc}") from exc
    run = getattr(pc, "run", None)
    if run is None:
        raise Unavailable("pycontainers has no run() yet")
    root = str(rootfs)

    def sample() -> int:
        t0 = time.perf_counter_ns()
        try:
            result: Any = run(root, ["/bin/true"], namespaces=NAMESPACES)
        except Exception as exc:
            raise Unavailable(f"pc.run raised {type(exc).__name__}: {exc}") from exc
        t1 = time.perf_counter_ns()
        rc = getattr(result, "returncode", None)
        if rc != 0:
            raise Unavailable(f"pc.run returned returncode={rc!r}")
        return t1 - t0

    return sample


# --------------------------------------------------------------------------- stats / report


def quantiles_ms(samples: Sequence[int]) -> tuple[float, float, float]:
    """(median, p10, p90) in milliseconds."""
    ms = [s / 1e6 for s in samples]
    if len(ms) == 1:
        return ms[0], ms[0], ms[0]
    deciles = statistics.quantiles(ms, n=10, method="inclusive")
    return statistics.median(ms), deciles[0], deciles[-1]


def ratio(a: Contender | None, b: Contender | None) -> float | None:
    if a is None or b is None or not a.samples or not b.samples:
        return None
    return statistics.median(a.samples) / statistics.median(b.samples)


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def verdict(r: float | None, limit: float, strict: bool = False) -> str:
    if r is None:
        return "n/a"
    ok = r < limit if strict else r <= limit
    return "PASS" if ok else "FAIL"


def report(contenders: list[Contender], args: argparse.Namespace) -> dict[str, Any]:
    by_name = {c.name: c for c in contenders}
    results: dict[str, Any] = {}
    print()
    print(
        f"Start latency of /bin/true in new {'/'.join(NAMESPACES)} namespaces "
        f"({args.runs} samples each, {args.warmup} warm-up rounds, interleaved)"
    )
    print()
    print(f"{'contender':<14}{'median ms':>11}{'p10 ms':>10}{'p90 ms':>10}{'n':>5}{'vs runc':>10}")
    print("-" * 60)
    runc = by_name.get("runc")
    for c in contenders:
        entry: dict[str, Any] = {
            "description": c.description,
            "available": bool(c.samples),
        }
        if not c.samples:
            print(f"{c.name:<14}  unavailable: {c.reason}")
            entry["reason"] = c.reason
        else:
            med, p10, p90 = quantiles_ms(c.samples)
            vs_runc = ratio(c, runc)
            print(
                f"{c.name:<14}{med:>11.3f}{p10:>10.3f}{p90:>10.3f}{len(c.samples):>5}"
                f"{fmt_ratio(vs_runc):>10}"
            )
            entry.update(
                median_ms=med,
                p10_ms=p10,
                p90_ms=p90,
                n=len(c.samples),
                vs_runc=vs_runc,
                samples_ns=c.samples,
            )
        results[c.name] = entry

    pc = by_name.get("pycontainers")
    pc_runc = ratio(pc, runc)
    pc_bwrap = ratio(pc, by_name.get("bwrap"))
    pc_floor = ratio(pc, by_name.get("floor"))
    print()
    print("pycontainers targets:")
    print(
        f"  vs runc  : {fmt_ratio(pc_runc):>8}  target <= {TARGET_VS_RUNC:.2f}x "
        f"(1/3 of runc)   {verdict(pc_runc, TARGET_VS_RUNC)}"
    )
    print(
        f"  vs bwrap : {fmt_ratio(pc_bwrap):>8}  aim    <  {TARGET_VS_BWRAP:.2f}x "
        f"(beat bwrap)    {verdict(pc_bwrap, TARGET_VS_BWRAP, strict=True)}"
    )
    print(
        f"  vs floor : {fmt_ratio(pc_floor):>8}  target <= {TARGET_VS_FLOOR:.2f}x "
        f"(3x the floor)  {verdict(pc_floor, TARGET_VS_FLOOR)}"
    )

    return {
        "host": {
            "kernel": platform.release(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "runc": _tool_version(["runc", "--version"]),
            "bwrap": _tool_version(["bwrap", "--version"]),
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": args.runs,
        "warmup": args.warmup,
        "namespaces": list(NAMESPACES),
        "contenders": results,
        "pycontainers_ratios": {
            "vs_runc": pc_runc,
            "vs_bwrap": pc_bwrap,
            "vs_floor": pc_floor,
        },
        "targets": {
            "vs_runc_max": TARGET_VS_RUNC,
            "vs_bwrap_below": TARGET_VS_BWRAP,
            "vs_floor_max": TARGET_VS_FLOOR,
        },
    }


def _tool_version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    out = subprocess.run(argv, check=False, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    return lines[0] if lines else None


# --------------------------------------------------------------------------- main


def run_benchmark(contenders: list[Contender], runs: int, warmup: int) -> None:
    for c in contenders:
        try:
            c.sampler = c.setup()
        except Unavailable as exc:
            c.reason = str(exc)
            print(f"[{c.name}] unavailable: {c.reason}", file=sys.stderr)

    total = warmup + runs
    for rnd in range(total):
        active = [c for c in contenders if c.available]
        if not active:
            break
        shift = rnd % len(active)
        for c in active[shift:] + active[:shift]:
            assert c.sampler is not None
            try:
                ns = c.sampler()
            except Unavailable as exc:
                c.reason = str(exc)
                c.samples.clear()
                print(f"[{c.name}] failed, dropping it: {c.reason}", file=sys.stderr)
                continue
            if rnd >= warmup:
                c.samples.append(ns)
        if sys.stderr.isatty():
            print(f"\rround {rnd + 1}/{total}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=30, help="samples per contender (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="discarded warm-up rounds (default 3)")
    p.add_argument("--json", metavar="FILE", type=Path, help="also write results as JSON")
    p.add_argument(
        "--only",
        metavar="NAMES",
        help="comma-separated subset: pycontainers,runc,bwrap,unshare,floor",
    )
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print(
            "warning: not root; most contenders need root and will be unavailable",
            file=sys.stderr,
        )

    work = Path(tempfile.mkdtemp(prefix="pcbench-"))
    try:
        rootfs = work / "rootfs"
        busybox_rootfs(rootfs, hostname="bench")
        contenders = [
            Contender(
                "pycontainers",
                "pc.run() in-process (perf_counter around the call)",
                lambda: setup_pycontainers(rootfs),
            ),
            Contender(
                "runc",
                "runc run (subprocess, default spec, same namespaces)",
                lambda: setup_runc(work, rootfs),
            ),
            Contender(
                "bwrap",
                "bwrap --unshare-all --bind rootfs / --proc --dev (subprocess)",
                lambda: setup_bwrap(rootfs),
            ),
            Contender(
                "unshare",
                "unshare -fpmuin true (subprocess, host true, no rootfs)",
                setup_unshare,
            ),
            Contender(
                "floor",
                "floor.c self-timed clone->pivot_root->exec->wait (in-process)",
                lambda: setup_floor(work, rootfs),
            ),
        ]
        if args.only:
            wanted = {n.strip() for n in args.only.split(",") if n.strip()}
            unknown = wanted - {c.name for c in contenders}
            if unknown:
                print(
                    f"unknown contender(s): {', '.join(sorted(unknown))}",
                    file=sys.stderr,
                )
                return 2
            contenders = [c for c in contenders if c.name in wanted]

        run_benchmark(contenders, args.runs, args.warmup)
        results = report(contenders, args)
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
            print(f"\nwrote {args.json}")
    finally:
        cleanup_runc(work)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
