"""Image commands of the CLI: load, save, images, tag, rmi, image inspect/prune, commit."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_commands(sub: Any) -> None:
    """Register the image subcommands on the CLI's subparsers."""
    p = sub.add_parser("load", help="load images from an OCI layout, OCI archive or docker-archive")
    p.add_argument(
        "-i", "--input", required=True, metavar="FILE", help="archive or layout directory"
    )
    p.add_argument("--repository", help="name for images the archive leaves unnamed")
    p = sub.add_parser("save", help="save images to an archive")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument(
        "--format", default="oci-archive", choices=["oci-archive", "oci-dir", "docker-archive"]
    )
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p = sub.add_parser("images", help="list images")
    p.add_argument("-q", "--quiet", action="store_true", help="only the image ids")
    p = sub.add_parser("tag", help="give an image another name")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("target", metavar="TARGET")
    p = sub.add_parser("rmi", help="remove image names (blobs go with 'image prune')")
    p.add_argument("-f", "--force", action="store_true", help="remove every name of an image ID")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p = sub.add_parser("image", help="image management")
    isub = p.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    q = isub.add_parser("inspect", help="show images as JSON")
    q.add_argument("images", nargs="+", metavar="IMAGE")
    isub.add_parser("prune", help="remove blobs and snapshots no image uses")
    p = sub.add_parser("commit", help="make an image of a container's changes")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("reference", metavar="REPOSITORY[:TAG]")
    p.add_argument("-m", "--message", default="", help="commit message (the layer's history)")


COMMANDS = ("load", "save", "images", "tag", "rmi", "image", "commit")


def run_command(args: argparse.Namespace) -> int:
    """Execute one image subcommand; returns the exit status."""
    from pycontainers.images import default_store

    store = default_store(args.root)
    if args.command == "load":
        for image in store.load(args.input, repository=args.repository):
            print(f"Loaded image: {image.reference.familiar}")
    elif args.command == "save":
        store.save(args.images, args.output, format=args.format)
    elif args.command == "images":
        _list(store, args.quiet)
    elif args.command == "tag":
        store.tag(args.source, args.target)
    elif args.command == "rmi":
        for ref in args.images:
            for name in store.remove(ref, force=args.force):
                print(f"Untagged: {name.familiar}")
    elif args.command == "image" and args.image_command == "inspect":
        json.dump([store.inspect(ref) for ref in args.images], sys.stdout, indent=2)
        print()
    elif args.command == "image" and args.image_command == "prune":
        pruned = store.prune()
        print(f"Deleted {len(pruned.blobs)} blobs and {len(pruned.snapshots)} snapshots")
    elif args.command == "commit":
        from pycontainers.runtime.container import Container

        container = Container.load(args.container)
        try:
            image = container.commit(args.reference, message=args.message, image_root=args.root)
        finally:
            container.close()
        print(image.id)
    return 0


def _list(store: Any, quiet: bool) -> None:
    images = store.list()
    if quiet:
        for image in images:
            print(str(image.id).split(":")[1][:12])
        return
    print(f"{'REPOSITORY':<40} {'TAG':<16} {'IMAGE ID':<12} {'SIZE':>10}")
    for image in images:
        ref = image.reference
        size = f"{image.size / 1e6:.1f}MB"
        print(
            f"{ref.familiar_repository:<40} {ref.tag or '<none>':<16} {str(image.id).split(':')[1][:12]:<12} {size:>10}"
        )
