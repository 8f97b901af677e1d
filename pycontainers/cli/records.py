"""Commands on names and records: ``rename``, ``events`` (the event journal, followed as
Docker's daemon stream is), ``import`` (a filesystem tarball becomes an image).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from pycontainers.cli.containers import CommandError, _cmd, _load

COMMANDS = ("rename", "events", "import")


def add_commands(sub: Any) -> None:
    """Register these subcommands on the CLI's subparsers."""
    p = _cmd(sub, "rename", "rename a container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("new_name", metavar="NEW_NAME")
    p = _cmd(sub, "events", "get real time events (from the event journal)")
    p.add_argument("--since", metavar="TIME", help="show events since (10m, Unix time, RFC 3339)")
    p.add_argument("--until", metavar="TIME", help="stream events until this time")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="type, event, container, image, network, volume, label")  # fmt: skip
    p.add_argument("--format", default="", help="a Go template ({{.Action}}, {{json .}})")
    p = _cmd(sub, "import", "import a filesystem tarball (file, - for stdin, or URL) as an image")
    p.add_argument("-c", "--change", action="append", default=[], metavar="INSTRUCTION",
                   help="apply a Dockerfile instruction (CMD, ENV, ...)")  # fmt: skip
    p.add_argument("-m", "--message", default="", help="commit message for the image")
    p.add_argument("--platform", metavar="OS/ARCH", help="the image's platform (this host's)")
    p.add_argument("source", metavar="file|URL|-")
    p.add_argument("reference", metavar="REPOSITORY[:TAG]", nargs="?")


def run_command(args: argparse.Namespace) -> int:
    """Execute one of these subcommands; returns the exit status."""
    handler = {"rename": _rename, "events": _events, "import": _import}[args.command]
    return handler(args)


def _rename(args: argparse.Namespace) -> int:
    c = _load(args.container)
    try:
        c.rename(args.new_name)
    finally:
        c.close()
    return 0


def _time(value: str | None, field: str) -> float | None:
    if not value:
        return None
    from pycontainers.cli.output import parse_time_arg

    parsed = parse_time_arg(value, field)
    if isinstance(parsed, str):
        return dt.datetime.fromisoformat(parsed.replace("Z", "+00:00")).timestamp()
    return float(parsed)


def _filters(entries: list[str]) -> dict[str, list[str]]:
    known = ("type", "event", "container", "image", "network", "volume", "label")
    out: dict[str, list[str]] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or key not in known:
            raise CommandError(f"invalid filter {entry!r}: one of {', '.join(known)} =VALUE")
        out.setdefault(key, []).append(value)
    return out


def _view(event: dict[str, Any]) -> dict[str, Any]:
    """The event with the names Docker's ``--format`` knows (``.ID``, ``.Status``...)."""
    return {
        **event,
        "ID": event.get("id", event["Actor"]["ID"]),
        "Status": event.get("status", event["Action"]),
        "From": event.get("from", ""),
        "Scope": event.get("scope", "local"),
        "Time": event.get("time", 0),
        "TimeNano": event["timeNano"],
    }


def _line(event: dict[str, Any]) -> str:
    """Docker's default line: time, type, action, actor and its attributes."""
    ns = event["timeNano"]
    when = dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"
    attrs = event["Actor"]["Attributes"]
    shown = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    tail = f" ({shown})" if shown else ""
    return f"{stamp} {event['Type']} {event['Action']} {event['Actor']['ID']}{tail}"


def _events(args: argparse.Namespace) -> int:
    from pycontainers.cli.output import check_template, render
    from pycontainers.events import follow

    since, until = _time(args.since, "since"), _time(args.until, "until")
    filters = _filters(args.filter)
    if args.format:
        check_template(args.format)

    def warn(message: str) -> None:
        print(f"pycontainers: warning: {message}", file=sys.stderr)

    for event in follow(since=since, until=until, filters=filters, on_corrupt=warn):
        if args.format == "json":
            import json

            print(json.dumps(event))
        elif args.format:
            print(render(args.format, _view(event)))
        else:
            print(_line(event))
        sys.stdout.flush()
    return 0


def _import(args: argparse.Namespace) -> int:
    from pycontainers.images import default_store

    source = args.source
    if source.startswith(("http://", "https://")):
        raise CommandError(
            f"cannot import from {source}: pycontainers fetches no URLs for import (this host "
            "may be offline); download the tarball and import the file, or pipe it to 'import -'"
        )
    if not args.reference:
        raise CommandError("import needs REPOSITORY[:TAG]: untagged images are not kept here")
    if args.platform:
        from pycontainers.images.image import host_platform

        if args.platform != str(host_platform()).split("/v")[0] and args.platform != str(
            host_platform()
        ):
            raise CommandError(f"--platform {args.platform}: only this host's platform is made")
    config = None
    if args.change:
        from pycontainers.builder.changes import apply_changes

        config = apply_changes({}, args.change)
    store = default_store(args.root)
    created_by = f"pycontainers import {source}"
    if source == "-":
        image = store.import_tar(
            sys.stdin.buffer, args.reference, config=config, comment=args.message,
            created_by=created_by,
        )  # fmt: skip
    else:
        try:
            f = open(source, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise CommandError(f"cannot open {source}: {exc.strerror}") from None
        with f:
            image = store.import_tar(
                f, args.reference, config=config, comment=args.message, created_by=created_by
            )
    print(image.id)
    return 0


__all__ = ["COMMANDS", "add_commands", "run_command"]
