"""The ``pycontainers`` command line (a first, docker-like ``run``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_RUNTIME_ERROR = 125


def _parser() -> argparse.ArgumentParser:
    from pycontainers import __version__

    parser = argparse.ArgumentParser(
        prog="pycontainers", description="Run Linux containers without a daemon."
    )
    parser.add_argument("--version", action="version", version=f"pycontainers {__version__}")
    parser.add_argument(
        "--root",
        help="data root (images, layers); default $PYCONTAINERS_ROOT or /var/lib/pycontainers",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run a command in a new container",
        description="Run a command in a new container and exit with its status. IMAGE_OR_ROOTFS "
        "is an image in the local store, a directory, or 'host' (the host's /usr, /bin, /lib* "
        "read-only, fresh /tmp).",
        add_help=False,
    )
    run.add_argument(
        "--rm", action="store_true", help="remove the container when it exits (always done)"
    )
    run.add_argument("--hostname", "-h", dest="hostname", help="container host name")
    run.add_argument(
        "-e", "--env", action="append", default=[], metavar="K=V", help="set a variable"
    )
    run.add_argument("-w", "--workdir", metavar="DIR", help="working directory inside")
    run.add_argument("--entrypoint", help="override the image's entrypoint")
    run.add_argument("-u", "--user", metavar="UID[:GID]", help="user to run as (uid[:gid] or name)")
    run.add_argument(
        "--network", default="none", help="none (default), host, container:<id> or ns:<path>"
    )
    run.add_argument("--init", action="store_true", help="run a tiny init as PID 1")
    run.add_argument("--read-only", action="store_true", help="mount the rootfs read-only")
    run.add_argument(
        "-v",
        "--volume",
        action="append",
        default=[],
        metavar="SRC:DST[:ro]",
        help="bind-mount a host path",
    )
    run.add_argument("image", metavar="IMAGE_OR_ROOTFS")
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")
    run.add_argument("--help", action="help", help="show this help message and exit")
    sub.add_parser("check", help="diagnose this host: what works here and how to fix the rest")
    from pycontainers.cli import images

    images.add_commands(sub)
    from pycontainers.cli import registry

    registry.add_commands(sub)
    return parser


def _volumes(specs: Sequence[str]) -> list[object]:
    from pycontainers.errors import SpecError
    from pycontainers.spec import Mount

    mounts: list[object] = []
    for v in specs:
        parts = v.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise SpecError("volume", f"expected SRC:DST[:ro|rw], got {v!r}")
        mounts.append(
            Mount(target=parts[1], source=parts[0], read_only=len(parts) == 3 and parts[2] == "ro")
        )
    return mounts


def cmd_run(args: argparse.Namespace) -> int:
    """``pycontainers run``: exit with the container's status (125/126/127 on start errors)."""
    import pycontainers as pc
    from pycontainers.spec import DEFAULT_NAMESPACES

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd and args.image == "host":
        cmd = ["/bin/sh"]
    namespaces = set(DEFAULT_NAMESPACES)
    try:
        image: object = args.image
        if args.image != "host" and not args.image.startswith("/"):
            from pycontainers.cli.registry import ensure_image
            from pycontainers.images import default_store

            image = ensure_image(default_store(args.root), args.image)
        result = pc.run(
            image,  # type: ignore[arg-type]
            cmd,
            hostname=args.hostname,
            env=args.env,
            cwd=args.workdir,
            user=args.user,
            namespaces=namespaces,
            network=args.network,
            init=args.init,
            readonly_rootfs=args.read_only,
            mounts=_volumes(args.volume),
            entrypoint=[args.entrypoint] if args.entrypoint is not None else None,
            image_root=args.root,
        )
    except pc.ContainerStartError as exc:
        print(f"pycontainers: {exc}", file=sys.stderr)
        return exc.exit_code
    except pc.PyContainersError as exc:
        print(f"pycontainers: {exc}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    return result.returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pycontainers`` console script."""
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `pycontainers images | head` ends quietly
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "check":
        from pycontainers.check import main as check_main

        return check_main()
    from pycontainers.cli import images, registry

    for module in (images, registry):
        if args.command in module.COMMANDS:
            import pycontainers as pc

            try:
                return int(module.run_command(args))
            except pc.PyContainersError as exc:
                print(f"pycontainers: {exc}", file=sys.stderr)
                return EXIT_RUNTIME_ERROR
    parser.print_help()
    return 0 if argv is None or not list(argv) else EXIT_RUNTIME_ERROR


if __name__ == "__main__":
    sys.exit(main())
