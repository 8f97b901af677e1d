#!/usr/bin/env python3
"""Network phases: where one container's bridge endpoint spends its time, phase by phase.

Each sample is a fresh interpreter (as the CLI is: the imports its first netlink or
nftables call makes are paid inside the phase that makes it) that runs what ``run --rm``
does for its network, on the default network ``bridge``: ``prepare`` (lease, /etc files,
bridge and rules up), ``connect`` (the veth into a process's new network namespace, the
published ports), the process exits, ``disconnect`` (everything given back). Every phase
is timed by wrapping the function that does it (a phase the tree under test does not have
shows "-"), so two trees can be compared in the same run (``--tree``, interleaved).

Usage (as root; never while the test suite runs)::

    flock /tmp/pc-tests.lock python3 benchmarks/network_phases.py [--runs 20] [--warmup 2]
        [--ports] [--tree before=/work/main --tree after=.] [--json out.json]

Everything runs in a private network namespace with private state and data roots in one
temporary directory, removed at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import private_netns

REPO = Path(__file__).resolve().parent.parent

# (label, "module:attribute" wrapped, depth in the table). Missing ones are skipped.
PHASES: list[tuple[str, str, int]] = [
    ("prepare", "pycontainers.network.endpoint:prepare", 0),
    ("gc of files (once a process)", "pycontainers.network.endpoint:_collect_once", 1),
    ("Network.get", "pycontainers.network.network:Network.get", 1),
    ("ensure_up", "pycontainers.network.network:Network.ensure_up", 1),
    ("bridge (netlink)", "pycontainers.network.links:ensure_bridge", 2),
    ("nft base chains", "pycontainers.network.nft:Netfilter.ensure_base", 2),
    ("nft network rules", "pycontainers.network.nft:Netfilter.add_network", 2),
    ("nft network up (one check)", "pycontainers.network.nft:Netfilter.ensure_network", 2),
    ("ipam allocate", "pycontainers.network.ipam:Ipam.allocate", 1),
    ("host ports reserve", "pycontainers.network.ports:PortAllocator.reserve", 1),
    ("endpoint record", "pycontainers.network.endpoint:Endpoints.save", 1),
    ("/etc files", "pycontainers.network.endpoint:_write_files", 1),
    ("hosts refresh", "pycontainers.network.endpoint:refresh_hosts", 1),
    ("connect", "pycontainers.network.endpoint:connect", 0),
    ("veth into the netns", "pycontainers.network.links:create_veth_into", 1),
    ("nft publish", "pycontainers.network.nft:Netfilter.publish", 1),
    ("disconnect", "pycontainers.network.endpoint:disconnect", 0),
    ("nft unpublish", "pycontainers.network.nft:Netfilter.unpublish", 1),
    ("host ports release", "pycontainers.network.ports:PortAllocator.release", 1),
    ("veth delete", "pycontainers.network.links:delete_link", 1),
    ("ipam release", "pycontainers.network.ipam:Ipam.release", 1),
]
TOTAL = "imports + prepare + connect + disconnect"
IMPORTS = "import the network modules"

# --------------------------------------------------------------------------- the worker


def _wrap(target: str, label: str, out: dict[str, float]) -> None:
    """Replace ``module:Class.attr`` (or ``module:func``) by a timing wrapper."""
    import functools
    import importlib

    module_name, _, qual = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        return
    *path, attr = qual.split(".")
    for part in path:
        owner = getattr(owner, part, None)
        if owner is None:
            return
    raw = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
    if raw is None:
        return
    kind = type(raw) if isinstance(raw, (classmethod, staticmethod)) else None
    fn = raw.__func__ if kind is not None else raw

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            out[label] = out.get(label, 0.0) + time.perf_counter() - t0

    setattr(owner, attr, kind(timed) if kind is not None else timed)


def worker(ports: bool) -> None:
    """One sample: prepare, connect, the process exits, disconnect; print the phases."""
    import secrets
    import signal

    # what a CLI ``run`` has loaded before its network's turn: not a network cost
    import pycontainers.runtime.launch
    import pycontainers.spec  # noqa: F401

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    for label, target, _ in PHASES:  # imports the network modules (timed as a phase)
        _wrap(target, label, out)
    out[IMPORTS] = time.perf_counter() - t0
    from pycontainers import _sys
    from pycontainers.network import endpoint
    from pycontainers.network.spec import NetworkSpec

    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the "container": a process in a network namespace of its own
        os.close(ready_r)
        os.close(hold_w)
        _sys.unshare(_sys.CLONE_NEWNET)
        os.write(ready_w, b"r")
        os.read(hold_r, 1)
        os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    if os.read(ready_r, 1) != b"r":
        raise SystemExit("the namespace child failed")
    owner = secrets.token_hex(32)
    spec = NetworkSpec(ports={"80/tcp": None} if ports else ())
    try:
        t0 = time.perf_counter()
        ep = endpoint.prepare(spec, owner, name=None, hostname=owner[:12])
        endpoint.connect(ep, pid)
        t1 = time.perf_counter()
    finally:
        os.kill(pid, signal.SIGKILL)  # the container exits (its netns goes with it)
        os.waitpid(pid, 0)
    t2 = time.perf_counter()
    endpoint.disconnect(owner)
    t3 = time.perf_counter()
    out[TOTAL] = out[IMPORTS] + (t1 - t0) + (t3 - t2)
    print(json.dumps(out))


# --------------------------------------------------------------------------- the driver


def sample(tree: Path, work: Path, ports: bool) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env["PYCONTAINERS_STATE"] = str(work / "state")
    env["PYCONTAINERS_ROOT"] = str(work / "data")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    argv = [sys.executable, __file__, "--worker"] + (["--ports"] if ports else [])
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"worker ({tree}) failed:\n{proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def table(results: dict[str, list[dict[str, float]]]) -> str:
    names = list(results)
    rows = [(IMPORTS, IMPORTS)]
    rows += [(f"{'  ' * depth}{label}", label) for label, _, depth in PHASES]
    rows.append((TOTAL, TOTAL))
    width = max(len(r[0]) for r in rows)
    head = f"{'phase (median ms)':<{width}}" + "".join(f" {n:>12}" for n in names)
    if len(names) == 2:
        head += f" {'ratio':>8}"
    lines = [head, "-" * len(head)]
    for shown, label in rows:
        medians = []
        for n in names:
            got = [s[label] for s in results[n] if label in s]
            medians.append(statistics.median(got) * 1e3 if got else None)
        if all(m is None for m in medians):
            continue
        line = f"{shown:<{width}}" + "".join(
            f" {m:>12.2f}" if m is not None else f" {'-':>12}" for m in medians
        )
        if len(names) == 2 and None not in medians and medians[0]:
            line += f" {medians[1] / medians[0]:>7.2f}x"  # type: ignore[operator]
        lines.append(line)
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=20, help="samples per tree (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="discarded rounds (default 2)")
    p.add_argument("--ports", action="store_true", help="publish one port (80/tcp)")
    p.add_argument(
        "--tree",
        action="append",
        metavar="NAME=PATH",
        help="a source tree to measure (repeatable; default: this one)",
    )
    p.add_argument("--json", metavar="FILE", type=Path, help="also write the samples as JSON")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args.ports)
        return 0
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    trees: dict[str, Path] = {}
    for item in args.tree or [f"tree={REPO}"]:
        name, _, path = item.partition("=")
        if not path or not (Path(path) / "pycontainers" / "__init__.py").exists():
            raise SystemExit(f"--tree {item}: expected NAME=PATH of a pycontainers checkout")
        trees[name] = Path(path).resolve()
    work = Path(tempfile.mkdtemp(prefix="pcnet", dir="/tmp"))
    results: dict[str, list[dict[str, float]]] = {n: [] for n in trees}
    try:
        private_netns()
        names = list(trees)
        for rnd in range(args.warmup + args.runs):
            shift = rnd % len(names)
            for n in names[shift:] + names[:shift]:
                got = sample(trees[n], work, args.ports)
                if rnd >= args.warmup:
                    results[n].append(got)
        print(f"network phases, {args.runs} samples per tree (a fresh interpreter each), "
              f"ports={'80/tcp' if args.ports else 'none'}; trees: "
              + ", ".join(f"{n}={p}" for n, p in trees.items()))  # fmt: skip
        print(table(results))
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
