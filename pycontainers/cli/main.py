"""The ``pycontainers`` command line: Docker's verbs, flags and exit codes, no daemon.

Exit codes: a container's own status; 125 for our errors (printed as ``pycontainers:
<message>``); 126 / 127 when a container's command cannot be run / is not found. Only
argparse is imported up front: each command loads what it needs, so ``--version`` and
``ps`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

EXIT_RUNTIME_ERROR = 125

_MODULES = ("containers", "contents", "volumes", "networks", "system", "images", "registry")


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors exit 125, as Docker's do."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_RUNTIME_ERROR, f"pycontainers: {message}\n")


def _modules() -> list[Any]:
    import importlib

    return [importlib.import_module(f"pycontainers.cli.{m}") for m in _MODULES]


def _parser() -> argparse.ArgumentParser:
    from pycontainers import __version__

    parser = _Parser(prog="pycontainers", description="Run Linux containers without a daemon.")
    parser.add_argument("--version", action="version", version=f"pycontainers {__version__}")
    parser.add_argument(
        "--root",
        help="data root (images, layers); default $PYCONTAINERS_ROOT or /var/lib/pycontainers",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("check", help="diagnose this host: what works here and how to fix the rest")
    for module in _modules():
        module.add_commands(sub)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    from pycontainers.cli.containers import CommandError
    from pycontainers.errors import ContainerStartError, PyContainersError

    for module in _modules():
        if args.command in module.COMMANDS:
            try:
                return int(module.run_command(args))
            except ContainerStartError as exc:
                print(f"pycontainers: {exc}", file=sys.stderr)
                return exc.exit_code
            except (PyContainersError, CommandError, TimeoutError) as exc:
                print(f"pycontainers: {exc}", file=sys.stderr)
                return EXIT_RUNTIME_ERROR
            except OSError as exc:
                print(f"pycontainers: {exc}", file=sys.stderr)
                return EXIT_RUNTIME_ERROR
    raise AssertionError(f"no module handles {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pycontainers`` console script."""
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `pycontainers ps | head` ends quietly
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-v"]):
        from pycontainers import __version__

        print(f"pycontainers {__version__}")
        return 0
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0 if not argv else EXIT_RUNTIME_ERROR
    if args.command == "check":
        from pycontainers.check import main as check_main

        return check_main()
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
