"""The image commands that read or stream the store: ``images`` (with Docker's filters and
formats), ``history``, and ``save``/``load`` through stdout/stdin.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import sys
import tempfile
import time
from typing import Any

from pycontainers.cli.containers import CommandError

_FILTERS = ("reference", "label", "before", "since", "dangling")


def _short(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else image_id.split(":", 1)[1][:12]


def _created(image: Any) -> float:
    from pycontainers.cli.ps import _epoch

    try:
        return _epoch(image.created) if image.created else 0.0
    except ValueError:
        return 0.0


def _rows(store: Any, no_trunc: bool) -> list[dict[str, Any]]:
    from pycontainers.cli.output import ago, human_size

    now = time.time()
    rows = []
    for image in store.list():
        ref = image.reference
        created = _created(image)
        rows.append({
            "Repository": ref.familiar_repository,
            "Tag": ref.tag or "<none>",
            "Digest": str(image.digest),
            "ID": _short(str(image.id), no_trunc),
            "CreatedAt": image.created,
            "CreatedSince": f"{ago(created, now)} ago" if created else "N/A",
            "Size": human_size(image.size),
            "_image": image,
            "_created": created,
        })  # fmt: skip
    return rows


def _parse_filters(entries: list[str]) -> list[tuple[str, str]]:
    out = []
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or key not in _FILTERS:
            raise CommandError(f"invalid filter {entry!r}: one of {', '.join(_FILTERS)}")
        out.append((key, value))
    return out


def _keep(row: dict[str, Any], key: str, value: str, store: Any) -> bool:
    image = row["_image"]
    if key == "reference":
        name = f"{row['Repository']}:{row['Tag']}"
        return fnmatch.fnmatch(name, value) or fnmatch.fnmatch(row["Repository"], value)
    if key == "label":
        labels = dict(image.config.labels)
        k, sep, v = value.partition("=")
        return bool(k in labels and (not sep or labels[k] == v))
    if key == "dangling":
        return (value == "true") == (str(row["Tag"]) == "<none>")
    other = _created(store.get(value))
    mine: float = row["_created"]
    return mine < other if key == "before" else mine > other


def list_images(store: Any, args: argparse.Namespace) -> None:
    """``images [REPOSITORY[:TAG]] [-q] [--filter] [--format] [--no-trunc]``."""
    from pycontainers.cli.output import check_template, print_formatted

    filters = _parse_filters(args.filter)
    if args.repository:
        filters.append(("reference", args.repository))
    if args.format not in ("", "json", "table") and not args.format.startswith("table"):
        check_template(args.format)
    rows = [
        r for r in _rows(store, args.no_trunc) if all(_keep(r, k, v, store) for k, v in filters)
    ]
    if args.quiet:
        for row in rows:
            print(row["ID"])
        return
    for row in rows:
        del row["_image"], row["_created"]
    print_formatted(rows, args.format, ("Repository", "Tag", "ID", "CreatedSince", "Size"))


def history(store: Any, args: argparse.Namespace) -> None:
    """``history IMAGE``: the image's steps, newest first, with the layer each one made."""
    from pycontainers.cli.output import ago, check_template, human_size, print_formatted

    if args.format not in ("", "json", "table") and not args.format.startswith("table"):
        check_template(args.format)
    image = store.get(args.image)
    layers = list(zip(image.diff_ids, image.layers, strict=True))
    entries = list(image.raw_config.get("history") or [])
    if not entries:  # an image without history: one row per layer
        entries = [{} for _ in layers]
    now = time.time()
    rows = []
    for entry in entries:
        empty = bool(entry.get("empty_layer"))
        layer = None if empty or not layers else layers.pop(0)
        created = str(entry.get("created") or "")
        try:
            from pycontainers.cli.ps import _epoch

            since = f"{ago(_epoch(created), now)} ago" if created else "N/A"
        except ValueError:
            since = created
        by = str(entry.get("created_by") or "")
        if not args.no_trunc and len(by) > 45:
            by = by[:44] + "…"
        rows.append({
            "ID": "<missing>",
            "CreatedAt": created,
            "CreatedSince": since,
            "CreatedBy": by,
            "Size": human_size(layer[1].size) if layer else "0B",
            "Comment": str(entry.get("comment") or ""),
        })  # fmt: skip
    if rows:
        rows[-1]["ID"] = _short(str(image.id), args.no_trunc)  # the newest step is the image
    rows.reverse()
    if args.quiet:
        for row in rows:
            print(row["ID"])
        return
    print_formatted(rows, args.format, ("ID", "CreatedSince", "CreatedBy", "Size", "Comment"))


def _bars(stream: Any) -> Any:
    """Per-layer bars when ``stream`` is a terminal; else None: Docker prints no lines of
    progress for load and save, and the plain path then reads no progress at all.
    """
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return None
    from pycontainers.images.registry.progress import TerminalProgress

    return TerminalProgress(stream)


def _done(bars: Any) -> None:
    if bars is not None:
        bars.close()


def save_images(store: Any, args: argparse.Namespace) -> None:
    """``save [-o FILE] IMAGE...``: without ``-o`` the archive goes to stdout (not a
    terminal), as with Docker. Bars on a terminal: stdout with ``-o``, else stderr.
    """
    bars = _bars(sys.stdout if args.output else sys.stderr)
    try:
        _save(store, args, bars)
    finally:
        _done(bars)


def _save(store: Any, args: argparse.Namespace, bars: Any) -> None:
    if args.output:
        store.save(args.images, args.output, format=args.format, progress=bars)
        return
    if args.format == "oci-dir":
        raise CommandError("--format oci-dir needs -o DIR (a directory cannot go to stdout)")
    if sys.stdout.isatty():
        raise CommandError("cowardly refusing to write an archive to a terminal: use -o FILE")
    with tempfile.TemporaryDirectory(prefix="save-", dir=_scratch(store)) as tmp:
        path = os.path.join(tmp, "archive.tar")
        store.save(args.images, path, format=args.format, progress=bars)
        with open(path, "rb") as f:
            shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
        sys.stdout.buffer.flush()


def load_images(store: Any, args: argparse.Namespace) -> None:
    """``load [-i FILE]``: without ``-i`` the archive comes from stdin. Bars per layer on
    a terminal (not with ``-q``), then Docker's ``Loaded image:`` lines.
    """
    bars = None if args.quiet else _bars(sys.stdout)
    try:
        images = _load(store, args, bars)
    finally:
        _done(bars)
    for image in images:
        print(
            image.reference.familiar if args.quiet else f"Loaded image: {image.reference.familiar}"
        )


def _load(store: Any, args: argparse.Namespace, bars: Any) -> Any:
    if args.input:
        return store.load(args.input, repository=args.repository, progress=bars)
    else:
        if sys.stdin.isatty():
            raise CommandError("no archive on stdin: pipe one in, or use -i FILE")
        with tempfile.TemporaryDirectory(prefix="load-", dir=_scratch(store)) as tmp:
            path = os.path.join(tmp, "archive.tar")
            with open(path, "wb") as f:
                shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
            return store.load(path, repository=args.repository, progress=bars)


def _scratch(store: Any) -> str:
    """A directory on the store's filesystem for an archive in transit."""
    path = os.path.join(str(store.root), "tmp")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


__all__ = ["history", "list_images", "load_images", "save_images"]
