"""What is inside a container, for the CLI: ``top``, ``stats``, ``cp``, ``diff``, ``export``."""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container


def add_commands(sub: Any) -> None:
    """Register top, stats, cp, diff and export on the CLI's subparsers."""
    p = sub.add_parser("top", help="show a container's processes")
    p.add_argument("container", metavar="CONTAINER")
    p = sub.add_parser("stats", help="show containers' resource usage (from their cgroups)")
    p.add_argument("--no-stream", action="store_true", help="one sample, then exit")
    p.add_argument("-a", "--all", action="store_true", help="also stopped containers")
    p.add_argument("--format", default="", help="table, json, or a template")
    p.add_argument("containers", nargs="*", metavar="CONTAINER")
    p = sub.add_parser(
        "cp",
        help="copy files between a container and the host",
        description="pycontainers cp CONTAINER:SRC DEST|-  or  pycontainers cp SRC|- CONTAINER:DEST",
    )
    p.add_argument("-L", "--follow-link", action="store_true", help="follow a symlink in SRC")
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p = sub.add_parser("diff", help="show a container's changes to its image")
    p.add_argument("container", metavar="CONTAINER")
    p = sub.add_parser("export", help="write a container's filesystem as a tar")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    p.add_argument("container", metavar="CONTAINER")


COMMANDS = ("top", "stats", "cp", "diff", "export")


def _load(ref: str) -> Container:
    from pycontainers.runtime.container import Container

    return Container.load(ref)


def run_command(args: argparse.Namespace) -> int:
    """Execute one of these subcommands; returns the exit status."""
    if args.command == "stats":
        return _stats(args)
    if args.command == "cp":
        return _cp(args)
    c = _load(args.container)
    try:
        if args.command == "top":
            _top(c)
        elif args.command == "diff":
            from pycontainers.runtime.files import diff

            for kind, path in diff(c):
                print(f"{kind} {path}")
        elif args.command == "export":
            _export(c, args.output)
    finally:
        c.close()
    return 0


def _top(c: Container) -> None:
    from pycontainers.cli.output import table
    from pycontainers.runtime.files import top

    rows = [["UID", "PID", "PPID", "STAT", "CMD"]]
    for p in top(c):
        rows.append([str(p["user"]), str(p["pid"]), str(p["ppid"]), str(p["state"]), p["cmd"]])
    print(table(rows))


def _export(c: Container, output: str | None) -> None:
    from pycontainers.runtime.files import export

    if output is None:
        if sys.stdout.isatty():
            from pycontainers.cli.containers import CommandError

            raise CommandError("refusing to write a tar to a terminal: use -o FILE or a pipe")
        export(c, sys.stdout.buffer)
        sys.stdout.flush()
        return
    tmp = f"{output}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            export(c, f)
        os.rename(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- stats -------------------------------------------------------------------------------


def _sample(c: Container) -> tuple[int, int | None, int | None, int | None, int, int]:
    """(cpu ns, memory usage, memory limit, pids, io read, io write) of ``c``'s cgroup."""
    s = c.stats()
    cpu = s.cpu.usage if s.cpu is not None else 0
    mem = s.memory.usage if s.memory is not None else None
    limit = s.memory.limit if s.memory is not None else None
    pids = s.pids.current if s.pids is not None else None
    rd = s.io.read_bytes if s.io is not None else 0
    wr = s.io.write_bytes if s.io is not None else 0
    return cpu, mem, limit, pids, rd, wr


def _stats_rows(containers: list[Container], interval: float) -> list[dict[str, Any]]:
    from pycontainers.cli.output import human_size
    from pycontainers.errors import PyContainersError

    def sample(c: Container) -> Any:
        try:
            return _sample(c) if c.status in ("running", "paused") else None
        except PyContainersError:
            return None

    first = {c.id: sample(c) for c in containers}
    t0 = time.monotonic()
    time.sleep(interval)
    elapsed = time.monotonic() - t0
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rows = []
    for c in containers:
        a, b = first[c.id], sample(c)
        row = {"ID": c.id[:12], "Name": c.name or c.id[:12], "CPUPerc": "--", "MemUsage": "-- / --",
               "MemPerc": "--", "PIDs": "--", "BlockIO": "--"}  # fmt: skip
        if a is not None and b is not None:
            mem, limit = b[1], b[2] if isinstance(b[2], int) and b[2] > 0 else total
            row["CPUPerc"] = f"{(b[0] - a[0]) / 1e9 / elapsed * 100:.2f}%"
            if mem is not None:
                row["MemUsage"] = f"{human_size(mem)} / {human_size(limit)}"
                row["MemPerc"] = f"{mem / limit * 100:.2f}%"
            row["PIDs"] = str(b[3]) if b[3] is not None else "--"
            row["BlockIO"] = f"{human_size(b[4])} / {human_size(b[5])}"
        rows.append(row)
    return rows


def _stats(args: argparse.Namespace) -> int:
    from pycontainers.cli.output import print_formatted
    from pycontainers.runtime.container import Container

    if args.containers:
        containers = [_load(ref) for ref in args.containers]
    else:
        containers = [c for c in Container.list() if args.all or c.status in ("running", "paused")]
    columns = ("ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "BlockIO", "PIDs")
    try:
        while True:
            rows = _stats_rows(containers, 0.5 if args.no_stream else 1.0)
            if not args.no_stream and sys.stdout.isatty():
                print("\x1b[2J\x1b[H", end="")
            print_formatted(rows, args.format, columns)
            sys.stdout.flush()
            if args.no_stream:
                return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for c in containers:
            c.close()


# -- cp ----------------------------------------------------------------------------------


def _split(arg: str) -> tuple[str | None, str]:
    """``CONTAINER:PATH`` → (container, path); a host path (with / before any :) → (None, arg)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    ref, _, path = arg.partition(":")
    return ref, path


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _cp(args: argparse.Namespace) -> int:
    from pycontainers.cli.containers import CommandError

    src_ref, src = _split(args.source)
    dst_ref, dst = _split(args.dest)
    if (src_ref is None) == (dst_ref is None):
        raise CommandError(
            "cp copies between a container and the host: one side must be CONTAINER:PATH"
        )
    if src_ref is not None:
        c = _load(src_ref)
        try:
            _cp_out(c, src, dst, args.follow_link)
        finally:
            c.close()
    else:
        assert dst_ref is not None
        c = _load(dst_ref)
        try:
            _cp_in(c, src, dst)
        finally:
            c.close()
    return 0


def _cp_out(c: Container, src: str, dest: str, follow: bool) -> None:
    """Container → host: into DEST if it is a directory, else as DEST (parent must exist)."""
    import shutil
    import tarfile
    import tempfile

    from pycontainers.runtime.files import copy_from

    chunks = copy_from(c, src, follow_link=follow)
    if dest == "-":
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        return
    into_dir = os.path.isdir(dest)
    parent = dest if into_dir else (os.path.dirname(os.path.abspath(dest)) or ".")
    if not os.path.isdir(parent):
        from pycontainers.cli.containers import CommandError

        raise CommandError(f"cannot copy to {dest}: {parent} is not a directory")
    tmp = tempfile.mkdtemp(prefix=".pycontainers-cp-", dir=parent)
    try:
        with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(iter(chunks))), mode="r|") as tar:
            tar.extractall(tmp, filter="tar")
        names = os.listdir(tmp)
        for name in names:
            target = os.path.join(dest, name) if into_dir else dest
            if (
                os.path.isdir(target)
                and not os.path.islink(target)
                and os.path.isdir(os.path.join(tmp, name))
            ):
                shutil.copytree(os.path.join(tmp, name), target, symlinks=True, dirs_exist_ok=True)
            else:
                os.replace(os.path.join(tmp, name), target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tar_of(path: str, arcname: str) -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(path, arcname=arcname)
    return buf.getvalue()


def _container_dir(c: Container, path: str) -> bool | None:
    """Whether ``path`` in ``c`` is a directory (None: it does not exist)."""
    from pycontainers.errors import ContainerError
    from pycontainers.runtime.files import copy_from

    try:
        chunks = copy_from(c, path, follow_link=True)
    except ContainerError:
        return None
    try:
        head = next(iter(chunks), b"")
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return len(head) > 156 and head[156:157] == b"5"


def _cp_in(c: Container, src: str, dest: str) -> None:
    """Host → container: into DEST if it is a directory, else as DEST (its parent a dir)."""
    from pycontainers.cli.containers import CommandError
    from pycontainers.runtime.files import copy_to

    if src == "-":  # a tar on stdin, extracted into the directory DEST
        copy_to(c, dest, sys.stdin.buffer)
        return
    if not os.path.lexists(src):
        raise CommandError(f"no such file or directory: {src}")
    is_dir = _container_dir(c, dest)
    if is_dir:
        copy_to(c, dest, _tar_of(src, os.path.basename(os.path.normpath(src))))
        return
    if dest.endswith("/"):
        raise CommandError(f"{dest} is not a directory in container {c.id[:12]}")
    parent, name = os.path.split(dest.rstrip("/"))
    copy_to(c, parent or "/", _tar_of(src, name))


__all__ = ["COMMANDS", "add_commands", "run_command"]
