"""Image commands of the CLI: load, save, images, tag, rmi, image inspect/prune, commit."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    """Register the image subcommands on the CLI's subparsers."""
    p = sub.add_parser("load", help="load images from an OCI layout, OCI archive or docker-archive")
    p.add_argument(
        "-i", "--input", metavar="FILE", help="archive or layout directory (default: stdin)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image names")
    p.add_argument("--repository", help="name for images the archive leaves unnamed")
    p = sub.add_parser("save", help="save images to an archive")
    p.add_argument("-o", "--output", metavar="FILE", help="the archive (default: stdout)")
    p.add_argument(
        "--format", default="oci-archive", choices=["oci-archive", "oci-dir", "docker-archive"]
    )
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p = sub.add_parser("images", help="list images")
    p.add_argument("-q", "--quiet", action="store_true", help="only the image ids")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="reference=PATTERN, label=K[=V], before=IMAGE, since=IMAGE")  # fmt: skip
    p.add_argument("--format", default="", help="table, json, or a template ('{{.Repository}}')")
    p.add_argument("--no-trunc", action="store_true", help="full image ids")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    p = sub.add_parser("history", help="show the history of an image")
    p.add_argument("-q", "--quiet", action="store_true", help="only the layer ids")
    p.add_argument("--no-trunc", action="store_true", help="do not shorten the output")
    p.add_argument("--format", default="", help="table, json, or a template ('{{.CreatedBy}}')")
    p.add_argument("image", metavar="IMAGE")
    p = sub.add_parser("tag", help="give an image another name")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("target", metavar="TARGET")
    p = sub.add_parser("rmi", help="remove image names (blobs go with 'image prune')")
    p.add_argument("-f", "--force", action="store_true", help="remove every name of an image ID")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p = sub.add_parser("image", help="image management")
    isub = p.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    q = isub.add_parser("inspect", help="show images as JSON")
    q.add_argument("-f", "--format", default="", help="a template such as '{{.Architecture}}'")
    q.add_argument("images", nargs="+", metavar="IMAGE")
    isub.add_parser("prune", help="remove blobs and snapshots no image uses")
    p = sub.add_parser("commit", help="make an image of a container's changes")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("reference", metavar="REPOSITORY[:TAG]")
    p.add_argument("-m", "--message", default="", help="commit message (the layer's history)")
    p.add_argument("-a", "--author", default="", help='author (e.g. "A <a@example.com>")')
    p.add_argument("-c", "--change", action="append", default=[], metavar="INSTRUCTION",
                   help="apply a Dockerfile instruction to the image's config")  # fmt: skip
    p.add_argument("-p", "--pause", default="true", choices=["true", "false"], metavar="BOOL",
                   help="pause the container during the commit (true)")  # fmt: skip


COMMANDS = ("load", "save", "images", "history", "tag", "rmi", "image", "commit")


def run_command(args: argparse.Namespace) -> int:
    """Execute one image subcommand; returns the exit status."""
    from pycontainers.images import default_store

    store = default_store(args.root)
    if args.command == "load":
        from pycontainers.cli.imagelist import load_images

        load_images(store, args)
    elif args.command == "save":
        from pycontainers.cli.imagelist import save_images

        save_images(store, args)
    elif args.command == "images":
        from pycontainers.cli.imagelist import list_images

        list_images(store, args)
    elif args.command == "history":
        from pycontainers.cli.imagelist import history

        history(store, args)
    elif args.command == "tag":
        store.tag(args.source, args.target)
    elif args.command == "rmi":
        for ref in args.images:
            for name in store.remove(ref, force=args.force):
                print(f"Untagged: {name.familiar}")
    elif args.command == "image" and args.image_command == "inspect":
        from pycontainers.cli.output import print_inspected

        return print_inspected(args.images, store.inspect, args.format or None)
    elif args.command == "image" and args.image_command == "prune":
        pruned = store.prune()
        print(f"Deleted {len(pruned.blobs)} blobs and {len(pruned.snapshots)} snapshots")
    elif args.command == "commit":
        from pycontainers.runtime.container import Container

        container = Container.load(args.container)
        try:
            image = container.commit(
                args.reference, message=args.message, image_root=args.root,
                changes=args.change, author=args.author, pause=args.pause == "true",
            )  # fmt: skip
        finally:
            container.close()
        print(image.id)
    return 0
