"""``pycontainers-runtime``: runc's command line over the pycontainers engine.

Global options come before the command (``--root``, ``--log``, ``--log-format``,
``--debug``, ``--systemd-cgroup``, ``--criu``); each command's module is imported only
when it runs, so a ``state`` or ``kill`` from a shim starts fast. Errors go to stderr and,
with ``--log``, to that file (JSON lines with ``--log-format json``, as conmon and
containerd-shim read them); the exit status is then 1.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing, argparse and the engine load only when needed
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

DEFAULT_ROOT = "/run/pycontainers-runtime"
ROOT_ENV = "PYCONTAINERS_RUNTIME_ROOT"
"""Overrides the default ``--root`` (for callers that do not pass their runtime flags to
every command: podman 4's ``delete``)."""
VERSION = "0.1.0"


def _parser() -> argparse.ArgumentParser:
    """The whole command line (the convention the docs' reference generator reads)."""
    from pycontainers.ociruntime.parser import parser

    return parser()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    failed: Exception | None = None
    try:
        if _quick(argv):
            return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the quick path's failure (a group it cannot remove, say):
        failed = exc  # reported below as the engine's are, with the parsed --log options
    from pycontainers.ociruntime.report import Reporter

    args: Any = None
    if "create" in argv:  # a shim's create: its plain forms read without argparse
        from pycontainers.ociruntime.createargs import create_args

        args = create_args(argv)
    if args is None:
        from pycontainers.ociruntime.parser import command_of, parser

        args = parser(command_of(argv)).parse_args(argv)
    if failed is None and args.command in ("create", "run", "exec"):
        from pycontainers.cgroups import prime  # the cgroup join's grace period passes meanwhile

        prime.prime()
    reporter = Reporter(args.log, args.log_format, args.debug)
    if failed is not None:
        reporter.error(failed)
        return 1
    try:
        if args.version:
            from pycontainers.oci.config import OCI_VERSION

            print(f"pycontainers-runtime version {VERSION}\nspec: {OCI_VERSION}")
            return 0
        if args.command is None:
            from pycontainers.ociruntime.parser import parser

            parser().print_usage(sys.stderr)
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


_QUICK_GLOBALS = ("--root", "--log", "--log-format", "--criu", "--rootless")
_QUICK_FLAGS = {"delete": ("-f", "--force")}
_QUICK_POSITIONALS = {"state": (1, 1), "start": (1, 1), "delete": (1, 1), "kill": (1, 2)}


def _quick(argv: Sequence[str]) -> bool:
    """Run a plain ``state``, ``start``, ``kill`` or ``delete`` without argparse or the
    engine (see :mod:`pycontainers.ociruntime.quick`); False (nothing done) for any other
    command line or case, which the full parser and the engine then handle. The C front end
    (``_native/runtime_front.c``) reads the command line by these same rules.
    """
    root = os.environ.get(ROOT_ENV) or DEFAULT_ROOT
    i = 0
    while i < len(argv):
        name, eq, value = argv[i].partition("=")
        if name == "--debug" and not eq:
            i += 1
            continue
        if name not in _QUICK_GLOBALS:
            break
        if not eq:
            if i + 1 >= len(argv):
                return False
            value = argv[i + 1]
            i += 1
        if name == "--root":
            root = value
        elif name == "--log-format" and value not in ("text", "json"):
            return False
        i += 1
    if i >= len(argv) or argv[i] not in _QUICK_POSITIONALS:
        return False
    command, rest = argv[i], argv[i + 1 :]
    flags = [a for a in rest if a.startswith("-")]
    positionals = [a for a in rest if not a.startswith("-")]
    low, high = _QUICK_POSITIONALS[command]
    if not low <= len(positionals) <= high or not root:
        return False
    if any(f not in _QUICK_FLAGS.get(command, ()) for f in flags):
        return False
    from pycontainers.ociruntime import quick

    if command == "state":
        return quick.state(root, positionals[0])
    if command == "start":
        return quick.start(root, positionals[0])
    if command == "kill":
        return quick.kill(root, positionals[0], [*positionals, "SIGTERM"][1])
    return quick.delete(root, positionals[0])


def entry() -> None:
    """The console script. Started by the C front end with ``PYCONTAINERS_WARM_SERVE`` and
    no arguments, a warm start server for ``create`` instead (:mod:`pycontainers.warmstart`;
    the installed launcher script does the same before it gets here).
    """
    serve = os.environ.pop("PYCONTAINERS_WARM_SERVE", "") if len(sys.argv) == 1 else ""
    if serve:
        from pycontainers._launcher import finish
        from pycontainers.warmstart import RUNTIME_TARGET
        from pycontainers.warmstart.server import serve as serve_warm

        finish(serve_warm(serve, {"TARGET": RUNTIME_TARGET, "finish": finish}, True))
    sys.exit(main())


if __name__ == "__main__":
    entry()
