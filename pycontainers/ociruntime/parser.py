"""The full command line of ``pycontainers-runtime`` (argparse), one builder per command:
only the subparser of the command given is built (building all of them cost ~20 ms of
every run).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

from pycontainers.cli.argparser import ArgumentParser
from pycontainers.ociruntime.main import DEFAULT_ROOT, ROOT_ENV


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command``, only that command's subparser is built."""
    p: argparse.ArgumentParser = ArgumentParser(  # its subparsers typed as argparse's
        prog="pycontainers-runtime",
        description="An OCI runtime (runc's command line) built on pycontainers.",
    )
    p.add_argument("--root", default=os.environ.get(ROOT_ENV) or DEFAULT_ROOT,
                   help=f"state directory of the containers (default: ${ROOT_ENV} or {DEFAULT_ROOT})")  # fmt: skip
    p.add_argument("--log", default="", help="also write errors (and --debug events) here")
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true", help="log debug events")
    p.add_argument("--systemd-cgroup", action="store_true",
                   help="not supported: refused (use the cgroupfs driver)")  # fmt: skip
    p.add_argument("--criu", default="criu", help="accepted; checkpointing is not supported")
    p.add_argument("--rootless", default="auto", help="accepted (auto, true, false)")
    p.add_argument("-v", "--version", action="store_true", help="print the version")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, add in _COMMANDS.items():
        if command is None or name == command:
            add(sub, name)
    return p


def _create(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    _create_options(sub.add_parser(name, help="create a container (it waits for start)"))


def _run(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    r = sub.add_parser(name, help="create and start a container (and wait, unless -d)")
    _create_options(r)
    r.add_argument("-d", "--detach", action="store_true")
    r.add_argument("--keep", action="store_true", help="do not delete it after it exits")


_ID_ONLY = {"start": "start a created container", "pause": "freeze every process of a container",
            "resume": "thaw a paused container",
            "state": "print the runtime-spec state of a container"}  # fmt: skip


def _id_only(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    sub.add_parser(name, help=_ID_ONLY[name]).add_argument("id")


def _kill(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    k = sub.add_parser(name, help="send a signal to a container's init (or all processes)")
    k.add_argument("-a", "--all", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")


def _delete(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    d = sub.add_parser(name, help="delete a stopped (or, with --force, any) container")
    d.add_argument("-f", "--force", action="store_true")
    d.add_argument("id")


def _list(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    ls = sub.add_parser(name, help="list the containers under --root")
    ls.add_argument("-f", "--format", default="table", choices=("table", "json"))
    ls.add_argument("-q", "--quiet", action="store_true")


def _features(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    sub.add_parser(name, help="print the runtime-spec features JSON")


def _spec(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    sp = sub.add_parser(name, help="write a template config.json")
    sp.add_argument("-b", "--bundle", default=".")
    sp.add_argument("--rootless", action="store_true")


def _ps(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    ps = sub.add_parser(name, help="list a container's processes")
    ps.add_argument("-f", "--format", default="table", choices=("table", "json"))
    ps.add_argument("id")
    ps.add_argument("ps_args", nargs=argparse.REMAINDER)


def _exec(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    e = sub.add_parser(name, help="run a further process in a running container")
    e.add_argument("-p", "--process", default=None, help="an OCI process JSON file")
    e.add_argument("-d", "--detach", action="store_true")
    e.add_argument("-t", "--tty", action="store_true")
    e.add_argument("--console-socket", default=None)
    e.add_argument("--pid-file", default=None)
    e.add_argument("-e", "--env", action="append", default=[])
    e.add_argument("--cwd", default=None)
    e.add_argument("-u", "--user", default=None, help="uid[:gid]")
    e.add_argument("-g", "--additional-gids", action="append", default=[])
    e.add_argument("-c", "--cap", action="append", default=[])
    e.add_argument("--no-new-privs", action="store_true")
    e.add_argument("--preserve-fds", type=int, default=0)
    e.add_argument("--apparmor", default="")
    e.add_argument("--process-label", default="")
    e.add_argument("--ignore-paused", action="store_true")
    e.add_argument("--cgroup", default="")
    e.add_argument("id")
    e.add_argument("payload", nargs=argparse.REMAINDER, metavar="COMMAND")


def _update(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    u = sub.add_parser(name, help="change a container's resource limits")
    u.add_argument("-r", "--resources", default=None, help="linux.resources JSON ('-': stdin)")
    for flag in ("memory", "memory-reservation", "memory-swap", "kernel-memory",
                 "kernel-memory-tcp", "cpu-quota", "cpu-period", "cpuset-cpus",
                 "cpuset-mems", "pids-limit", "blkio-weight", "cpu-rt-period",
                 "cpu-rt-runtime", "cpu-burst", "cpu-idle", "l3-cache-schema",
                 "mem-bw-schema"):  # fmt: skip
        u.add_argument(f"--{flag}", default=None)
    u.add_argument("--cpu-share", "--cpu-shares", dest="cpu_shares", default=None)
    u.add_argument("id")


def _events(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    ev = sub.add_parser(name, help="stream a container's events (or stats)")
    ev.add_argument("--stats", action="store_true", help="print stats once and exit")
    ev.add_argument("--interval", default="5s")
    ev.add_argument("id")


def _unsupported(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    sub.add_parser(name, help="not supported").add_argument("rest", nargs=argparse.REMAINDER)


_COMMANDS: dict[str, Callable[[argparse._SubParsersAction[argparse.ArgumentParser], str], None]]
_COMMANDS = {"create": _create, "run": _run, "start": _id_only, "pause": _id_only,
             "resume": _id_only, "state": _id_only, "kill": _kill, "delete": _delete,
             "list": _list, "features": _features, "spec": _spec, "ps": _ps, "exec": _exec,
             "update": _update, "events": _events, "checkpoint": _unsupported,
             "restore": _unsupported}  # fmt: skip
_GLOBAL_VALUES = ("--root", "--log", "--log-format", "--criu", "--rootless")


def command_of(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (None if there is none or it is not plain to see:
    the whole parser is then built).
    """
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _GLOBAL_VALUES:
            skip = True
        elif arg in ("-h", "--help", "--"):
            return None
        elif not arg.startswith("-"):
            return arg if arg in _COMMANDS else None
    return None


def _create_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-b", "--bundle", default=".")
    p.add_argument("--pid-file", default=None)
    p.add_argument("--console-socket", default=None)
    p.add_argument("--no-pivot", action="store_true")
    p.add_argument("--no-new-keyring", action="store_true")
    p.add_argument("--preserve-fds", type=int, default=0)
    p.add_argument("id")


__all__ = ["command_of", "parser"]
