"""Commands on a running container's connections and limits: ``port``, ``attach``,
``update``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from pycontainers.cli.containers import CommandError, _cmd, _each, _load, _refs

COMMANDS = ("port", "attach", "update")


def add_commands(sub: Any) -> None:
    """Register these subcommands on the CLI's subparsers."""
    p = _cmd(sub, "attach", "attach this terminal to a running container's stdio")
    p.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    p.add_argument("--detach-keys", metavar="KEYS", help="keys that detach (ctrl-p,ctrl-q)")
    p.add_argument("container", metavar="CONTAINER")
    p = _cmd(sub, "update", "change the limits of running containers")
    p.add_argument("-m", "--memory", metavar="BYTES", help="memory limit (64m, 1g)")
    p.add_argument("--memory-swap", metavar="BYTES", help="memory plus swap limit")
    p.add_argument("--memory-reservation", metavar="BYTES", help="memory soft limit")
    p.add_argument("--cpus", metavar="N", help="number of CPUs (0.5)")
    p.add_argument("-c", "--cpu-shares", type=int, metavar="N", help="relative CPU weight")
    p.add_argument("--cpu-quota", type=int, metavar="US", help="CPU time per period")
    p.add_argument("--cpu-period", type=int, metavar="US", help="CPU period")
    p.add_argument("--cpu-rt-runtime", type=int, metavar="US", help="real-time CPU time (v1)")
    p.add_argument("--cpu-rt-period", type=int, metavar="US", help="real-time period (v1)")
    p.add_argument("--cpuset-cpus", metavar="LIST", help="CPUs to run on (0-2,4)")
    p.add_argument("--cpuset-mems", metavar="LIST", help="memory nodes to use (0-1)")
    p.add_argument("--pids-limit", type=int, metavar="N", help="process limit (-1: unlimited)")
    p.add_argument("--blkio-weight", type=int, metavar="N", help="block IO weight (10-1000)")
    p.add_argument("--restart", metavar="POLICY", help="restart policy (no, always, ...)")
    _refs(p)
    p = _cmd(sub, "port", "list a container's published ports (or one port's host address)")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("private", nargs="?", metavar="PRIVATE_PORT[/PROTO]")


def run_command(args: argparse.Namespace) -> int:
    """Execute one of these subcommands; returns the exit status."""
    handler: Callable[[argparse.Namespace], int] = globals()["_cmd_" + args.command]
    return handler(args)


def _cmd_attach(args: argparse.Namespace) -> int:
    from pycontainers.runtime.attach import DEFAULT_DETACH_KEYS, attach

    c = _load(args.container)
    try:
        if c.status != "running":
            raise CommandError("you cannot attach to a stopped container, start it first")
        keys = DEFAULT_DETACH_KEYS if args.detach_keys is None else args.detach_keys
        code = attach(c, stdin=not args.no_stdin, detach_keys=keys)
    finally:
        c.close()
    return 0 if code is None else code


def _cmd_update(args: argparse.Namespace) -> int:
    limits = {
        "memory": args.memory, "memswap_limit": args.memory_swap,
        "memory_reservation": args.memory_reservation, "cpus": args.cpus,
        "cpu_shares": args.cpu_shares, "cpu_quota": args.cpu_quota,
        "cpu_period": args.cpu_period, "cpu_rt_runtime": args.cpu_rt_runtime,
        "cpu_rt_period": args.cpu_rt_period, "cpuset_cpus": args.cpuset_cpus,
        "cpuset_mems": args.cpuset_mems, "pids_limit": args.pids_limit,
        "blkio_weight": args.blkio_weight, "restart": args.restart,
    }  # fmt: skip
    given = {k: v for k, v in limits.items() if v is not None}
    if not given:
        raise CommandError("update needs at least one limit (--memory, --cpus, --pids-limit...)")
    return _each(args.containers, lambda c: _update(c, given))


def _update(c: Any, given: dict[str, Any]) -> None:
    """``c.update(**given)``; an error names the flag (``--memory-swap: ...``), not the field."""
    from pycontainers.errors import CgroupError, SpecError

    try:
        c.update(**given)
    except (SpecError, CgroupError) as exc:
        field, sep, why = str(exc).partition(": ")
        flag = _FLAGS.get(field)
        if not sep or flag is None:
            raise
        raise CommandError(f"{flag}: {why}") from None


_FLAGS = {
    "memory": "--memory", "memory_max": "--memory", "memswap_limit": "--memory-swap",
    "memory_swap": "--memory-swap", "memory_reservation": "--memory-reservation",
    "memory_low": "--memory-reservation", "cpus": "--cpus", "cpu_shares": "--cpu-shares",
    "cpu_quota": "--cpu-quota", "cpu_period": "--cpu-period",
    "cpu_rt_runtime": "--cpu-rt-runtime", "cpu_rt_period": "--cpu-rt-period",
    "cpuset_cpus": "--cpuset-cpus", "cpuset_mems": "--cpuset-mems",
    "pids_limit": "--pids-limit", "pids_max": "--pids-limit", "blkio_weight": "--blkio-weight",
    "restart": "--restart",
}  # fmt: skip
"""The field (or keyword) an error names → the flag that set it."""


def _cmd_port(args: argparse.Namespace) -> int:
    from pycontainers.runtime.describe import describe

    c = _load(args.container)
    try:
        ports: dict[str, list[dict[str, str]]] = describe(c, config=False)["NetworkSettings"][
            "Ports"
        ]
    finally:
        c.close()
    if args.private:
        key = args.private if "/" in args.private else args.private + "/tcp"
        if key not in ports:
            raise CommandError(f"no public port '{key}' published for {args.container}")
        for b in ports[key]:
            print(f"{b['HostIp'] or '0.0.0.0'}:{b['HostPort']}")
        return 0
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        for b in ports[key]:
            print(f"{key} -> {b['HostIp'] or '0.0.0.0'}:{b['HostPort']}")
    return 0


__all__ = ["COMMANDS", "add_commands", "run_command"]
