"""``serve`` (and ``system service``): run the Docker Engine API daemon, with dockerd's
``-H``, ``--group`` and TLS flags.
"""

from __future__ import annotations

import argparse
from typing import Any

COMMANDS = ("serve",)


def add_serve_flags(p: argparse.ArgumentParser) -> None:
    """The daemon's flags (shared by ``serve`` and ``system service``)."""
    p.add_argument(
        "-H",
        "--host",
        action="append",
        default=[],
        metavar="ADDR",
        help="unix:///path.sock (default unix:///run/pycontainers.sock) or "
        "tcp://host:port (needs TLS); repeat for several",
    )
    p.add_argument("-G", "--group", help="group owning the unix socket (mode 0660)")
    p.add_argument(
        "--tlsverify",
        action="store_true",
        help="TLS on TCP, clients must present a certificate signed by --tlscacert",
    )
    p.add_argument("--tls", action="store_true", help="TLS on TCP without client verification")
    p.add_argument("--tlscacert", metavar="FILE", help="CA that signs the clients' certificates")
    p.add_argument("--tlscert", metavar="FILE", help="the server's certificate")
    p.add_argument("--tlskey", metavar="FILE", help="the server's key")
    p.add_argument(
        "--insecure-plain-tcp-gives-root-to-the-network",
        dest="plain_tcp",
        action="store_true",
        help="allow TCP without TLS: anyone who reaches the port is root here",
    )
    p.add_argument("--state", metavar="DIR", help="state root (default $PYCONTAINERS_STATE)")


def add_commands(sub: Any) -> None:
    """Register ``serve``."""
    p = sub.add_parser(
        "serve",
        help="run the Docker Engine API daemon",
        description="Serve the Docker Engine API (docker CLI, docker-py, "
        "compose, testcontainers) on a unix socket or TLS TCP.",
    )
    add_serve_flags(p)


def run_command(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    from pycontainers.errors import SpecError

    try:
        from pycontainers.api.listen import DEFAULT_SOCKET, tls_context
        from pycontainers.api.server import serve
    except ImportError as exc:
        raise SpecError(
            "serve",
            f"the daemon needs the 'api' extra ({exc.name} is missing): "
            "pip install 'pycontainers-sdk[api]'",
        ) from None
    tls = None
    if args.tlsverify or args.tls:
        if not args.tlscert or not args.tlskey:
            raise SpecError("tlscert", "TLS needs --tlscert and --tlskey")
        tls = tls_context(
            cert=args.tlscert, key=args.tlskey, ca=args.tlscacert, verify=args.tlsverify
        )
    import logging
    import signal
    import sys

    # main() lets SIGPIPE kill a CLI writing to a closed pipe; a daemon must outlive a
    # client that hangs up (a write to its socket then fails with EPIPE instead)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    # the daemon is an application: its structlog events (one per request) go to stderr
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    hosts = args.host or [f"unix://{DEFAULT_SOCKET}"]
    serve(
        hosts,
        group=args.group,
        tls=tls,
        plain_tcp=args.plain_tcp,
        state_root=args.state,
        data_root=args.root,
    )
    return 0


__all__ = ["COMMANDS", "add_commands", "add_serve_flags", "run_command"]
