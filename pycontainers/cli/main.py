"""The ``pycontainers`` command line: Docker's verbs, flags and exit codes, no daemon.

Exit codes: a container's own status; 125 for our errors (printed as ``pycontainers:
<message>``); 126 / 127 when a container's command cannot be run / is not found. Only
argparse is imported up front: a command imports only its own CLI module and builds only its
own subparser (the whole tree is built for the top-level help and for errors before a
command), and loads the rest of what it needs when it runs, so ``--version`` and ``ps``
start fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

EXIT_RUNTIME_ERROR = 125

# Each module of pycontainers.cli and the commands it defines and runs, in the order of the
# help (a test checks this against the modules' COMMANDS): a command imports only its own.
_COMMANDS = {
    "containers": "run create start ps exec logs stop restart kill rm pause unpause wait inspect "
    "container",
    "live": "port attach update",
    "contents": "top stats cp diff export",
    "volumes": "volume",
    "networks": "network",
    "system": "system info version",
    "images": "load save images history tag rmi image commit",
    "builds": "build",
    "registry": "pull push login logout",
    "serve": "serve",
    "records": "rename events import",
}
_MODULES = tuple(_COMMANDS)
_OWNER = {command: module for module, names in _COMMANDS.items() for command in names.split()}


class _Discard:
    """Stands in for the parsers of the commands not being run: takes any call, keeps none."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kw: self


class _OnlySubparsers:
    """Subparsers that really build only ``command``'s parser (see :func:`_parser`)."""

    def __init__(self, sub: Any, command: str) -> None:
        self._sub = sub
        self._command = command

    def add_parser(self, name: str, **kw: Any) -> Any:
        return self._sub.add_parser(name, **kw) if name == self._command else _Discard()


def _module(name: str) -> Any:
    import importlib

    return importlib.import_module(f"pycontainers.cli.{name}")


# Docker's management-command spellings: ``container ls`` is ``ps``, ``image rm`` is
# ``rmi``... (``container prune``, ``image inspect`` and ``image prune`` are their own).
_SAME_CONTAINER_VERBS = (
    "ps", "create", "run", "start", "stop", "restart", "kill", "rm", "pause", "unpause", "wait",
    "logs", "exec", "top", "stats", "cp", "diff", "export", "port", "commit", "inspect",
    "rename", "attach", "update",
)  # fmt: skip
_CONTAINER_VERBS = {"ls": "ps", "list": "ps", **{v: v for v in _SAME_CONTAINER_VERBS}}
_IMAGE_VERBS = {
    "ls": "images", "list": "images", "rm": "rmi", "remove": "rmi",
    **{v: v for v in ("pull", "push", "tag", "save", "load", "history", "import")},
}  # fmt: skip


# the options before the command: those taking a value, and the flags
_GLOBAL_VALUES = ("--root", "-H", "--host", "--tlscacert", "--tlscert", "--tlskey")
_GLOBAL_FLAGS = ("--tls", "--tlsverify")


def _after_globals(argv: Sequence[str]) -> int:
    """The index of the first argument after the global options (``--root``, ``--host``...)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _GLOBAL_VALUES:
            i += 2
        elif (
            arg in _GLOBAL_FLAGS
            or arg.split("=", 1)[0] in _GLOBAL_VALUES
            or (arg.startswith("-H") and len(arg) > 2)
        ):
            i += 1
        else:
            break
    return i


def _expand_aliases(argv: list[str]) -> list[str]:
    """``argv`` with ``container VERB``/``image VERB`` spelled as the plain command."""
    i = _after_globals(argv)
    if i + 1 < len(argv):
        verbs = {"container": _CONTAINER_VERBS, "image": _IMAGE_VERBS}.get(argv[i], {})
        if argv[i + 1] in verbs:
            return [*argv[:i], verbs[argv[i + 1]], *argv[i + 2 :]]
    return argv


def _command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs when only global options come before it, else None (help,
    --version, an unknown command, an abbreviated option: those get the whole tree).
    """
    i = _after_globals(argv)
    if i < len(argv) and (argv[i] == "check" or argv[i] in _OWNER):
        return argv[i]
    return None


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser: every command's, or (``command`` given) one in which only that
    command's subparser is built, the others never looked at (the cost of a start).
    """
    from pycontainers import __version__
    from pycontainers.cli.argparser import CliParser as _Parser

    parser = _Parser(prog="pycontainers", description="Run Linux containers without a daemon.")
    parser.add_argument("--version", action="version", version=f"pycontainers {__version__}")
    parser.add_argument(
        "--root",
        help="data root (images, layers); default $PYCONTAINERS_ROOT or /var/lib/pycontainers",
    )
    _add_host_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if command is None or command == "check":
        sub.add_parser("check", help="diagnose this host: what works here and how to fix the rest")
    if command is None:
        for name in _MODULES:
            _module(name).add_commands(sub)
    elif command != "check":
        _module(_OWNER[command]).add_commands(_OnlySubparsers(sub, command))
    return parser


def _add_host_flags(parser: argparse.ArgumentParser) -> None:
    """``-H/--host`` and docker's client TLS flags: the CLI as a client of a daemon."""
    parser.add_argument(
        "-H",
        "--host",
        metavar="URL",
        help="act through the daemon at unix:///path, tcp://host:port or ssh://user@host "
        "(default $PYCONTAINERS_HOST, then $DOCKER_HOST; none: this machine, no daemon)",
    )
    parser.add_argument("--tls", action="store_true", help="TLS to a tcp:// daemon")
    parser.add_argument(
        "--tlsverify", action="store_true", help="TLS, verifying the daemon by --tlscacert"
    )
    parser.add_argument("--tlscacert", metavar="FILE", help="CA of the daemon's certificate")
    parser.add_argument("--tlscert", metavar="FILE", help="this client's certificate")
    parser.add_argument("--tlskey", metavar="FILE", help="this client's key")


def _remote(args: argparse.Namespace) -> Any:
    """The Client of the daemon ``args`` name (flag, then environment), or None to act here."""
    import os

    local_only = args.command in ("serve", "check") or (
        args.command == "system" and args.system_command in ("service", "dial-stdio")
    )
    if local_only:
        return None
    url = args.host or os.environ.get("PYCONTAINERS_HOST") or os.environ.get("DOCKER_HOST")
    if not url:
        return None
    from pycontainers.client.client import Client
    from pycontainers.client.transport import Tls
    from pycontainers.errors import CommandError

    if args.root:
        raise CommandError("--root is this machine's data root; a daemon (--host) uses its own")

    cert_path = os.environ.get("DOCKER_CERT_PATH", "")
    verify = args.tlsverify or (not args.host and bool(os.environ.get("DOCKER_TLS_VERIFY")))

    def file(given: str | None, name: str) -> str | None:
        if given or not cert_path:
            return given
        path = os.path.join(cert_path, name)
        return path if os.path.exists(path) else None

    tls = None
    if verify or args.tls or args.tlscert or args.tlscacert:
        tls = Tls(ca=file(args.tlscacert, "ca.pem"), cert=file(args.tlscert, "cert.pem"),
                  key=file(args.tlskey, "key.pem"), verify=verify)  # fmt: skip
    return Client(url, tls=tls)


def _dispatch(args: argparse.Namespace) -> int:
    from pycontainers.cli.containers import CommandError
    from pycontainers.errors import ContainerStartError, PyContainersError

    try:
        client = _remote(args)
        if client is not None:
            import signal

            from pycontainers.cli.remote import run_command as remote_command

            # a daemon that hangs up must be an error, not a silent death by SIGPIPE
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            try:
                with client:
                    return remote_command(args, client)
            except BrokenPipeError:  # our stdout was closed (`| head`): end quietly
                return 0
        from pycontainers._attrscache import enable

        enable()  # the attrs classes the command builds: their code from the cache
        module = _module(_OWNER[args.command])
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pycontainers`` console script."""
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `pycontainers ps | head` ends quietly
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-v"]):
        from pycontainers import __version__

        print(f"pycontainers {__version__}")
        return 0
    argv = _expand_aliases(argv)
    command = _command_of(argv)
    if command in ("run", "create", "start", "restart"):
        from pycontainers.cgroups import prime  # the cgroup join's grace period passes meanwhile

        prime.prime()
    args: Any = None
    if command in ("run", "create"):  # the plain forms read without argparse (~6 ms)
        from pycontainers.cli.runargs import run_args

        args = run_args(argv)
    if args is None:
        parser = _parser(command)
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
