"""``pycontainers build``: Docker's build flags over :func:`pycontainers.build`."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_commands(sub: Any) -> None:
    """Register ``build`` on the CLI's subparsers."""
    p = sub.add_parser("build", help="build an image from a Dockerfile")
    p.add_argument(
        "context", metavar="PATH", help="context directory, tar file, or - (tar on stdin)"
    )
    p.add_argument("-t", "--tag", action="append", default=[], help="name:tag (repeatable)")
    p.add_argument("-f", "--file", help="the Dockerfile (default PATH/Dockerfile)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a build arg (KEY alone takes it from the environment)")  # fmt: skip
    p.add_argument("--target", help="build this stage (and the stages it needs)")
    p.add_argument("--no-cache", action="store_true", help="run every step")
    p.add_argument("--cache-from", action="append", default=[], metavar="IMAGE",
                   help="reuse the layers of this local image")  # fmt: skip
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--iidfile", metavar="FILE", help="write the image ID to FILE")
    p.add_argument("-o", "--output", metavar="type=oci|docker,dest=FILE",
                   help="also save the image as an archive")  # fmt: skip
    p.add_argument("--secret", action="append", default=[], metavar="id=ID,src=FILE")
    p.add_argument("--progress", default="auto", choices=["auto", "plain", "tty", "quiet"])
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")


COMMANDS = ("build",)


def _pairs(values: list[str], flag: str, *, env_default: bool = False) -> dict[str, str]:
    import os

    from pycontainers.cli.containers import CommandError

    out = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not key:
            raise CommandError(f"{flag} {value!r}: expected KEY=VALUE")
        if not eq:
            if not env_default:
                raise CommandError(f"{flag} {value!r}: expected KEY=VALUE")
            if key not in os.environ:
                continue
            val = os.environ[key]
        out[key] = val
    return out


def _secrets(values: list[str]) -> dict[str, str]:
    from pycontainers.cli.containers import CommandError

    out = {}
    for value in values:
        fields = dict(f.partition("=")[::2] for f in value.split(","))
        ident, src = fields.get("id"), fields.get("src") or fields.get("source")
        if not ident or not src:
            raise CommandError(f"--secret {value!r}: expected id=ID,src=FILE")
        out[ident] = src
    return out


def run_command(args: argparse.Namespace) -> int:
    """Run the build; print the image ID."""
    from pycontainers.builder import build

    image = build(
        args.context,
        tag=args.tag,
        dockerfile=args.file,
        build_args=_pairs(args.build_arg, "--build-arg", env_default=True),
        target=args.target,
        no_cache=args.no_cache,
        secrets=_secrets(args.secret),
        progress="quiet" if args.quiet else args.progress,
        labels=_pairs(args.label, "--label"),
        cache_from=args.cache_from,
        output=args.output,
        iidfile=args.iidfile,
        image_root=args.root,
    )
    print(image.id, file=sys.stdout)
    return 0
