"""Registry commands of the CLI: pull, push, login, logout (and ``ensure_image`` for run)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pycontainers.images.image import Image, ImageStore

COMMANDS = ("pull", "push", "login", "logout")


def _insecure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="allow plain HTTP for this registry (host, host:port or CIDR; repeatable; "
        "loopback always may)",
    )


def add_commands(sub: Any) -> None:
    """Register the registry subcommands on the CLI's subparsers."""
    p = sub.add_parser("pull", help="pull an image from a registry")
    p.add_argument("image", metavar="NAME[:TAG|@DIGEST]")
    p.add_argument("--platform", help="os/arch[/variant] to pull from an index (default: host's)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image name")
    _insecure(p)
    p = sub.add_parser("push", help="push an image to a registry")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("destination", nargs="?", metavar="DEST", help="where to (default: IMAGE)")
    p.add_argument("-t", "--tag", action="append", default=[], help="also push under this tag")
    p.add_argument("--chunk-size", type=int, metavar="BYTES", help="upload in chunks")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the digest")
    _insecure(p)
    p = sub.add_parser("login", help="log in to a registry (stores credentials in config.json)")
    p.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password", help="the password (prefer --password-stdin)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    _insecure(p)
    p = sub.add_parser("logout", help="log out from a registry")
    p.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")


def _progress(quiet: bool, verb: str, stream: Any = None) -> Any:
    if quiet:
        return None
    from pycontainers.images.registry.progress import progress_for

    return progress_for(stream or sys.stdout, verb)


def _finish(progress: Any) -> None:
    close = getattr(progress, "close", None)
    if close is not None:
        close()


def run_command(args: argparse.Namespace) -> int:
    """Execute one registry subcommand; returns the exit status."""
    from pycontainers.images import default_store
    from pycontainers.images.registry import login, logout

    if args.command == "login":
        return _login(args, login)
    if args.command == "logout":
        if logout(args.server):
            print(f"Removing login credentials for {args.server}")
        else:
            print(f"Not logged in to {args.server}")
        return 0
    store = default_store(args.root)
    if args.command == "pull":
        progress = _progress(args.quiet, "Pull")
        try:
            image = store.pull(
                args.image,
                platform=args.platform,
                insecure_registries=args.insecure_registry,
                progress=progress,
            )
        finally:
            _finish(progress)
        if not args.quiet:
            print(f"Digest: {image.digest}")
            print(f"Status: Downloaded image for {image.reference.familiar}")
        print(str(image.reference))
        return 0
    if args.command == "push":
        progress = _progress(args.quiet, "Push")
        try:
            result = store.push(
                args.image,
                args.destination,
                tags=args.tag,
                chunk_size=args.chunk_size,
                insecure_registries=args.insecure_registry,
                progress=progress,
            )
        finally:
            _finish(progress)
        if args.quiet:
            print(result.digest)
        else:
            for ref in result.references:
                print(f"{ref}: digest: {result.digest}")
        return 0
    raise AssertionError(args.command)


def _login(args: argparse.Namespace, login: Any) -> int:
    username = args.username
    if not username:
        if not sys.stdin.isatty() or args.password_stdin:
            print("pycontainers: login needs --username", file=sys.stderr)
            return 125
        username = input("Username: ")
    if args.password_stdin:
        password = sys.stdin.read().rstrip("\n")
    elif args.password is not None:
        password = args.password
    else:
        password = getpass.getpass("Password: ")
    path = login(args.server, username, password, insecure_registries=args.insecure_registry)
    print(f"Login Succeeded (credentials in {path})")
    return 0


def ensure_image(
    store: ImageStore,
    ref: str,
    *,
    insecure_registries: Sequence[str] = (),
    platform: str | None = None,
) -> Image:
    """The image ``ref`` from ``store``; pulled first (progress on stderr) if it is missing.

    For ``pycontainers run``: the container's own output keeps stdout.
    """
    from pycontainers.errors import ImageNotFound
    from pycontainers.images.registry.progress import progress_for

    try:
        return store.get(ref)
    except ImageNotFound:
        pass
    print(f"Unable to find image '{ref}' locally", file=sys.stderr)
    progress = progress_for(sys.stderr, "Pull")
    try:
        return store.pull(
            ref, platform=platform, insecure_registries=insecure_registries, progress=progress
        )
    finally:
        _finish(progress)


def _main(argv: Sequence[str] | None = None) -> int:
    """A parser of just these commands (for tests before the main CLI wires them)."""
    import pycontainers as pc

    parser = argparse.ArgumentParser(prog="pycontainers")
    parser.add_argument("--root")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_commands(sub)
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except pc.PyContainersError as exc:
        print(f"pycontainers: {exc}", file=sys.stderr)
        return 125
