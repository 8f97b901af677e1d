"""System commands of the CLI: ``system prune``, ``info``, ``version`` (and the prune
helpers ``container prune`` and ``network prune`` share).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from typing import Any


def add_commands(sub: Any) -> None:
    """Register ``system``, ``info`` and ``version`` on the CLI's subparsers."""
    p = sub.add_parser("system", help="manage pycontainers", description="Manage pycontainers.")
    ssub = p.add_subparsers(dest="system_command", metavar="COMMAND", required=True)
    q = ssub.add_parser("prune", help="remove stopped containers, unused networks and garbage "
                        "killed processes left behind")  # fmt: skip
    q.add_argument("-f", "--force", action="store_true", help="do not ask")
    q.add_argument("--volumes", action="store_true", help="also remove unused volumes")
    ssub.add_parser("info", help="show system-wide information")
    q = ssub.add_parser("df", help="show disk usage")
    q.add_argument("-v", "--verbose", action="store_true", help="show each item's usage")
    q.add_argument("--format", default="", help="a template such as '{{.Type}}: {{.Size}}'")
    q = ssub.add_parser("service", help="run the Docker Engine API daemon (as 'serve')")
    from pycontainers.cli.serve import add_serve_flags

    add_serve_flags(q)
    q = ssub.add_parser("warm", help="list (or stop) this user's warm start servers")
    q.add_argument("--stop", action="store_true", help="stop them")
    ssub.add_parser(
        "dial-stdio",
        help="proxy stdin/stdout to the daemon's socket (what ssh:// clients run here)",
    )
    p = sub.add_parser("info", help="show system-wide information")
    p.add_argument("-f", "--format", default="", help="a template such as '{{.Containers}}'")
    p = sub.add_parser("version", help="show the version")
    p.add_argument("-f", "--format", default="", help="a template such as '{{.Version}}'")


COMMANDS = ("system", "info", "version")


def confirm(what: str) -> bool:
    """Ask on stdin (as Docker does without -f); anything but y/yes is no."""
    print(f"WARNING! {what}\nAre you sure you want to continue? [y/N] ", end="", flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        answer = ""
    if not answer.endswith("\n"):
        print()
    return answer.strip().lower() in ("y", "yes")


def prune_containers() -> list[str]:
    """Remove every stopped (or created, never started) container; their ids."""
    from pycontainers.errors import PyContainersError
    from pycontainers.runtime.container import Container

    removed = []
    for c in Container.list():
        try:
            if c.status in ("stopped", "created"):
                c.delete()
                removed.append(c.id)
        except PyContainersError as exc:
            print(f"pycontainers: {c.id[:12]}: {exc}", file=sys.stderr)
        finally:
            c.close()
    return removed


def prune_networks() -> list[str]:
    """Remove every user network no container uses (never ``bridge``); their names."""
    from pycontainers.errors import PyContainersError
    from pycontainers.network.network import Network

    removed = []
    for net in Network.list():
        if net.name == "bridge" or net.containers():
            continue
        try:
            net.remove()
            removed.append(net.name)
        except PyContainersError:  # taken meanwhile
            continue
    return removed


def prune_volumes() -> list[str]:
    """Remove volumes no container uses (runtime.volumes); their names."""
    from pycontainers.runtime.volumes import Volume

    return Volume.prune()


def _describe(found: Any) -> list[str]:
    """Lines for what ``gc()`` returned (an attrs value of tuples, or anything else)."""
    import attrs

    if attrs.has(type(found)):
        return [
            f"  {k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
            for k, v in attrs.asdict(found, recurse=False).items()
            if v
        ]
    return [f"  {found}"] if found else []


def _prune(args: argparse.Namespace) -> int:
    what = "This will remove all stopped containers, all networks no container uses"
    what += ", all volumes no container uses" if args.volumes else ""
    if not args.force and not confirm(what + " and what killed processes left behind."):
        return 0
    containers = prune_containers()
    if containers:
        print("Deleted Containers:", *containers, sep="\n")
    from pycontainers.runtime.gc import gc

    garbage = _describe(gc())
    if garbage:
        print("Removed garbage:", *garbage, sep="\n")
    networks = prune_networks()
    if networks:
        print("Deleted Networks:", *networks, sep="\n")
    if args.volumes:
        volumes = prune_volumes()
        if volumes:
            print("Deleted Volumes:", *volumes, sep="\n")
    from pycontainers.images import default_store

    images = default_store(args.root).prune()
    print(f"Deleted {len(images.blobs)} image blobs and {len(images.snapshots)} snapshots")
    return 0


def _info(root: str | None) -> dict[str, Any]:
    from pycontainers import __version__
    from pycontainers.runtime import state as st
    from pycontainers.runtime.container import Container

    counts = {"running": 0, "paused": 0, "stopped": 0, "created": 0}
    containers = Container.list()
    for c in containers:
        counts[c.status if c.status in counts else "stopped"] += 1
        c.close()
    try:
        from pycontainers.images import default_store

        images = len(default_store(root).list())
    except Exception:  # a store that cannot be read: report, do not fail
        images = -1
    from pycontainers.network.network import Network

    cgroup = "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"
    uname = os.uname()
    return {
        "Containers": len(containers),
        "ContainersRunning": counts["running"],
        "ContainersPaused": counts["paused"],
        "ContainersStopped": counts["stopped"] + counts["created"],
        "Images": images,
        "Networks": len(Network.list()),
        "ServerVersion": __version__,
        "Daemon": "none (a library: state on disk)",
        "StateRoot": st.default_state_root(),
        "DataRoot": root or os.environ.get("PYCONTAINERS_ROOT") or "/var/lib/pycontainers",
        "CgroupVersion": cgroup,
        "KernelVersion": uname.release,
        "OperatingSystem": _os_name(),
        "Architecture": uname.machine,
        "NCPU": os.cpu_count() or 0,
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "Rootless": os.geteuid() != 0,
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _print(info: dict[str, Any], fmt: str) -> None:
    if fmt:
        from pycontainers.cli.output import render

        print(render(fmt, info))
        return
    for key, value in info.items():
        print(f"{key}: {value}")


def _warm(stop: bool) -> int:
    """``system warm``: the warm start servers (socket, pid, age); ``--stop`` stops them."""
    from pycontainers.warmstart import status

    if stop:
        for stopped in status.stop():
            print(f"stopped {stopped}")
        return 0
    print(f"{'PID':<8} {'AGE':>8}  SOCKET")
    for path, pid, age in status.servers():
        print(f"{pid if pid is not None else '-'!s:<8} {age:>7.0f}s  {path}")
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Execute ``system``, ``info`` or ``version``; returns the exit status."""
    if args.command == "system" and args.system_command == "prune":
        return _prune(args)
    if args.command == "system" and args.system_command == "df":
        from pycontainers.cli.diskusage import system_df

        return system_df(args)
    if args.command == "system" and args.system_command == "service":
        from pycontainers.cli.serve import run_command as serve

        return serve(args)
    if args.command == "system" and args.system_command == "warm":
        return _warm(stop=args.stop)
    if args.command == "system" and args.system_command == "dial-stdio":
        from pycontainers.cli.dialstdio import dial_stdio

        return dial_stdio(args.host)
    if args.command in ("info", "system"):
        _print(_info(args.root), getattr(args, "format", ""))
        return 0
    from pycontainers import __version__

    version = {
        "Version": __version__,
        "Python": platform.python_version(),
        "OS/Arch": f"linux/{os.uname().machine}",
        "Kernel": os.uname().release,
        "Daemon": "none",
    }
    _print(version, args.format)
    return 0


__all__ = [
    "COMMANDS",
    "add_commands",
    "confirm",
    "prune_containers",
    "prune_networks",
    "prune_volumes",
    "run_command",
]
