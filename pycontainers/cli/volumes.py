"""Volume commands of the CLI: ``volume create|ls|inspect|rm|prune``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_commands(sub: Any) -> None:
    """Register ``volume`` and its subcommands on the CLI's subparsers."""
    p = sub.add_parser("volume", help="manage volumes", description="Manage named volumes.")
    vsub = p.add_subparsers(dest="volume_command", metavar="COMMAND", required=True)
    q = vsub.add_parser("create", help="create a volume")
    q.add_argument("-d", "--driver", default="local", help="only 'local'")
    q.add_argument("--label", action="append", default=[], metavar="K=V", help="set a label")
    q.add_argument("name", nargs="?", metavar="NAME", help="default: a random name")
    q = vsub.add_parser("ls", aliases=["list"], help="list volumes")
    q.add_argument("-q", "--quiet", action="store_true", help="only the names")
    q.add_argument(
        "-f", "--filter", action="append", default=[], metavar="label=K[=V]|name=|dangling="
    )
    q.add_argument("--format", default="", help="table, json, or a template")
    q = vsub.add_parser("inspect", help="show volumes as JSON")
    q.add_argument("-f", "--format", default="", help="a template such as '{{.Mountpoint}}'")
    q.add_argument("volumes", nargs="+", metavar="VOLUME")
    q = vsub.add_parser("rm", aliases=["remove"], help="remove volumes")
    q.add_argument("-f", "--force", action="store_true", help="even when a container uses it")
    q.add_argument("volumes", nargs="+", metavar="VOLUME")
    q = vsub.add_parser("prune", help="remove unused anonymous volumes (-a: all unused)")
    q.add_argument("-a", "--all", action="store_true", help="named ones too")
    q.add_argument("-f", "--force", action="store_true", help="do not ask")


COMMANDS = ("volume",)


def _keep(vol: Any, filters: list[str]) -> bool:
    from pycontainers.cli.containers import CommandError

    for f in filters:
        key, _, value = f.partition("=")
        if key == "label":
            k, has, v = value.partition("=")
            if k not in vol.labels or (has and vol.labels[k] != v):
                return False
        elif key == "name":
            if value not in vol.name:
                return False
        elif key == "dangling":
            if (value.lower() in ("1", "true")) == bool(vol.users()):
                return False
        else:
            raise CommandError(f"invalid filter {f!r}: label=, name= or dangling=")
    return True


def run_command(args: argparse.Namespace) -> int:
    """Execute one ``volume`` subcommand; returns the exit status."""
    from pycontainers.cli.containers import CommandError
    from pycontainers.cli.output import print_formatted, print_inspected
    from pycontainers.cli.runflags import parse_labels
    from pycontainers.errors import PyContainersError
    from pycontainers.runtime.volumes import Volume

    cmd = {"list": "ls", "remove": "rm"}.get(args.volume_command, args.volume_command)
    status = 0
    if cmd == "create":
        if args.driver != "local":
            raise CommandError(f"unsupported driver {args.driver!r}: only local")
        vol = Volume.create(args.name, labels=parse_labels(args.label), exist_ok=True)
        print(vol.name)
    elif cmd == "ls":
        vols = [v for v in Volume.list() if _keep(v, args.filter)]
        if args.quiet:
            for v in vols:
                print(v.name)
        else:
            rows = [{"Driver": "local", "Name": v.name, "Mountpoint": v.mountpoint,
                     "Labels": ",".join(f"{k}={x}" for k, x in v.labels.items())} for v in vols]  # fmt: skip
            print_formatted(rows, args.format, ("Driver", "Name"))
    elif cmd == "inspect":
        status = print_inspected(args.volumes, lambda n: Volume.get(n).inspect(), args.format)
    elif cmd == "rm":
        for name in args.volumes:
            try:
                Volume.get(name).remove(force=args.force)
                print(name)
            except PyContainersError as exc:
                print(f"pycontainers: {exc}", file=sys.stderr)
                status = 125
    elif cmd == "prune":
        from pycontainers.cli.system import confirm

        what = "all volumes" if args.all else "all anonymous volumes"
        if not args.force and not confirm(f"This will remove {what} no container uses."):
            return 0
        removed = Volume.prune(all=args.all)
        if removed:
            print("Deleted Volumes:", *removed, sep="\n")
    return status


__all__ = ["COMMANDS", "add_commands", "run_command"]
