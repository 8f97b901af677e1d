"""``pycontainers-runtime``: runc's command line over the pycontainers engine.

Global options come before the command (``--root``, ``--log``, ``--log-format``,
``--debug``, ``--systemd-cgroup``, ``--criu``); each command's module is imported only
when it runs, so a ``state`` or ``kill`` from a shim starts fast. Errors go to stderr and,
with ``--log``, to that file (JSON lines with ``--log-format json``, as conmon and
containerd-shim read them); the exit status is then 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

DEFAULT_ROOT = "/run/pycontainers-runtime"
ROOT_ENV = "PYCONTAINERS_RUNTIME_ROOT"
"""Overrides the default ``--root`` (for callers that do not pass their runtime flags to
every command: podman 4's ``delete``)."""
VERSION = "0.1.0"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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

    c = sub.add_parser("create", help="create a container (it waits for start)")
    _create_options(c)
    r = sub.add_parser("run", help="create and start a container (and wait, unless -d)")
    _create_options(r)
    r.add_argument("-d", "--detach", action="store_true")
    r.add_argument("--keep", action="store_true", help="do not delete it after it exits")

    for name, text in (("start", "start a created container"),
                       ("pause", "freeze every process of a container"),
                       ("resume", "thaw a paused container")):  # fmt: skip
        sub.add_parser(name, help=text).add_argument("id")
    s = sub.add_parser("state", help="print the runtime-spec state of a container")
    s.add_argument("id")
    k = sub.add_parser("kill", help="send a signal to a container's init (or all processes)")
    k.add_argument("-a", "--all", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete", help="delete a stopped (or, with --force, any) container")
    d.add_argument("-f", "--force", action="store_true")
    d.add_argument("id")
    ls = sub.add_parser("list", help="list the containers under --root")
    ls.add_argument("-f", "--format", default="table", choices=("table", "json"))
    ls.add_argument("-q", "--quiet", action="store_true")
    sub.add_parser("features", help="print the runtime-spec features JSON")
    sp = sub.add_parser("spec", help="write a template config.json")
    sp.add_argument("-b", "--bundle", default=".")
    sp.add_argument("--rootless", action="store_true")
    ps = sub.add_parser("ps", help="list a container's processes")
    ps.add_argument("-f", "--format", default="table", choices=("table", "json"))
    ps.add_argument("id")
    ps.add_argument("ps_args", nargs=argparse.REMAINDER)

    e = sub.add_parser("exec", help="run a further process in a running container")
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

    u = sub.add_parser("update", help="change a container's resource limits")
    u.add_argument("-r", "--resources", default=None, help="linux.resources JSON ('-': stdin)")
    for flag in ("memory", "memory-reservation", "memory-swap", "kernel-memory",
                 "kernel-memory-tcp", "cpu-shares", "cpu-quota", "cpu-period", "cpuset-cpus",
                 "cpuset-mems", "pids-limit", "blkio-weight", "cpu-rt-period",
                 "cpu-rt-runtime", "l3-cache-schema", "mem-bw-schema"):  # fmt: skip
        u.add_argument(f"--{flag}", default=None)
    u.add_argument("id")
    ev = sub.add_parser("events", help="stream a container's events (or stats)")
    ev.add_argument("--stats", action="store_true", help="print stats once and exit")
    ev.add_argument("--interval", default="5s")
    ev.add_argument("id")
    for name in ("checkpoint", "restore"):
        unsupported = sub.add_parser(name, help="not supported")
        unsupported.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def _create_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-b", "--bundle", default=".")
    p.add_argument("--pid-file", default=None)
    p.add_argument("--console-socket", default=None)
    p.add_argument("--no-pivot", action="store_true")
    p.add_argument("--no-new-keyring", action="store_true")
    p.add_argument("--preserve-fds", type=int, default=0)
    p.add_argument("id")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    from pycontainers.events import disable
    from pycontainers.ociruntime.report import Reporter

    disable()  # a low-level runtime keeps no event journal (its callers have their own)
    args = _parser().parse_args(argv)
    reporter = Reporter(args.log, args.log_format, args.debug)
    try:
        if args.version:
            from pycontainers.oci.config import OCI_VERSION

            print(f"pycontainers-runtime version {VERSION}\nspec: {OCI_VERSION}")
            return 0
        if args.command is None:
            _parser().print_usage(sys.stderr)
            return 2
        if args.systemd_cgroup:
            from pycontainers.errors import OciRuntimeError

            raise OciRuntimeError(
                "--systemd-cgroup: the systemd cgroup driver is not supported; "
                "pycontainers-runtime manages cgroups directly (podman --cgroup-manager "
                "cgroupfs; containerd: SystemdCgroup = false)"
            )
        from pycontainers.ociruntime.commands import run_command

        return run_command(args, reporter)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # every failure: one message, to stderr and the log
        reporter.error(exc)
        return 1


def entry() -> None:
    """The console script."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
