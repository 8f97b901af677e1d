"""A container's files and processes: archive (GET/HEAD/PUT with the path-stat header),
export, changes, top and stats (one-shot or streamed, Docker's JSON).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import json
import os
import tarfile
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pycontainers.api.context import daemon, json_response, qbool
from pycontainers.api.errors import bad_request, conflict, not_found

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pycontainers.api.server import Routes
    from pycontainers.runtime.container import Container

_STAT_HEADER = "X-Docker-Container-Path-Stat"


def _path(request: web.Request) -> str:
    path = request.query.get("path")
    if not path:
        raise bad_request("path is required (path=)")
    return path


def _first_header(chunks: Iterator[bytes]) -> tuple[tarfile.TarInfo, list[bytes]]:
    """The first tar member's header and the chunks read to find it (to send on)."""
    buf = b""
    read: list[bytes] = []
    for chunk in chunks:
        read.append(chunk)
        buf += chunk
        if len(buf) >= 4096 or not chunk:
            break
    with tarfile.open(fileobj=io.BytesIO(buf + b"\0" * 10240), mode="r|") as tar:
        info = tar.next()
    if info is None:
        raise not_found("empty archive")
    return info, read


def _stat(info: tarfile.TarInfo, path: str) -> str:
    mode = info.mode & 0o7777
    if info.isdir():
        mode |= 1 << 31  # Go's os.ModeDir
    elif info.issym():
        mode |= 1 << 27  # os.ModeSymlink
    mtime = dt.datetime.fromtimestamp(info.mtime, dt.UTC).isoformat().replace("+00:00", "Z")
    doc = {
        "name": os.path.basename(path.rstrip("/")) or "/",
        "size": info.size,
        "mode": mode,
        "mtime": mtime,
        "linkTarget": info.linkname if info.issym() else "",
    }
    return base64.b64encode(json.dumps(doc).encode()).decode()


def _open_archive(c: Container, path: str) -> tuple[str, Iterator[bytes]]:
    from pycontainers.errors import ContainerError
    from pycontainers.runtime.files import copy_from

    try:
        chunks = copy_from(c, path)
    except ContainerError as exc:
        if "no such file" in str(exc):
            raise not_found(f"Could not find the file {path} in container {c.id}") from None
        raise
    info, read = _first_header(chunks)

    def all_chunks() -> Iterator[bytes]:
        yield from read
        yield from chunks

    return _stat(info, path), all_chunks()


async def archive_get(request: web.Request) -> web.StreamResponse:
    """GET/HEAD /containers/{id}/archive?path=: a tar of the path (HEAD: only its stat)."""
    from pycontainers.api.attach import iterate_in_thread

    d = daemon(request)
    path = _path(request)
    c = await d.call(d.load, request.match_info["id"])
    try:
        stat, chunks = await d.call(_open_archive, c, path)
        headers = {_STAT_HEADER: stat, "Content-Type": "application/x-tar"}
        if request.method == "HEAD":
            chunks.close()  # type: ignore[attr-defined]
            return web.Response(status=200, headers=headers)
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        async for chunk in iterate_in_thread(d, lambda stop: chunks):
            await resp.write(chunk)
        return resp
    finally:
        c.close()


async def archive_put(request: web.Request) -> web.Response:
    """PUT /containers/{id}/archive?path=: extract the tar body into that directory."""
    from pycontainers.errors import ContainerError
    from pycontainers.runtime.files import copy_to

    d = daemon(request)
    path = _path(request)
    data = await request.read()

    def run(c: Container) -> None:
        try:
            copy_to(c, path, data)
        except ContainerError as exc:
            if "no such file" in str(exc):
                raise not_found(f"Could not find the file {path} in container {c.id}") from None
            raise

    c = await d.call(d.load, request.match_info["id"])
    try:
        await d.call(run, c)
    finally:
        c.close()
    return web.Response(status=200)


async def export(request: web.Request) -> web.StreamResponse:
    """GET /containers/{id}/export: the container's filesystem as a tar stream."""
    from pycontainers.api.attach import iterate_in_thread
    from pycontainers.runtime.files import export_chunks

    d = daemon(request)
    c = await d.call(d.load, request.match_info["id"])
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        await resp.prepare(request)
        async for chunk in iterate_in_thread(d, lambda stop: export_chunks(c)):
            await resp.write(chunk)
        return resp
    finally:
        c.close()


async def changes(request: web.Request) -> web.Response:
    """GET /containers/{id}/changes: ``[{"Path", "Kind"}]`` (0 changed, 1 added, 2 deleted)."""
    from pycontainers.runtime.files import diff

    d = daemon(request)
    kinds = {"C": 0, "A": 1, "D": 2}

    def run(c: Container) -> list[dict[str, Any]]:
        return [{"Path": p, "Kind": kinds[k]} for k, p in diff(c)]

    c = await d.call(d.load, request.match_info["id"])
    try:
        return json_response(await d.call(run, c) or None)
    finally:
        c.close()


async def top(request: web.Request) -> web.Response:
    """GET /containers/{id}/top: ``{"Titles", "Processes"}`` as ``ps -ef`` shows them."""
    from pycontainers.runtime.files import top as top_of

    d = daemon(request)

    def run(c: Container) -> dict[str, Any]:
        if c.status not in ("running", "paused"):
            raise conflict(f"Container {c.id} is not running")
        rows = top_of(c)
        return {
            "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
            "Processes": [
                [r["user"], str(r["pid"]), str(r["ppid"]), "0", "", "?", "", r["cmd"]] for r in rows
            ],
        }

    c = await d.call(d.load, request.match_info["id"])
    try:
        return json_response(await d.call(run, c))
    finally:
        c.close()


def _system_cpu() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields) * 1_000_000_000 // ticks


def stats_doc(c: Container, previous: dict[str, Any] | None) -> dict[str, Any]:
    """One Docker stats document for ``c`` (``previous``: the last one, for precpu)."""
    from pycontainers.cgroups import CgroupError

    running = c.status in ("running", "paused")
    s = None
    if running:
        try:
            s = c.stats()
        except (CgroupError, OSError):
            s = None
    mem = s.memory if s else None
    cpu = s.cpu if s else None
    pids = s.pids if s else None
    io_devs = s.io.devices if s and s.io else {}
    cpu_doc = {
        "cpu_usage": {
            "total_usage": cpu.usage if cpu else 0,
            "usage_in_kernelmode": (cpu.system or 0) if cpu else 0,
            "usage_in_usermode": (cpu.user or 0) if cpu else 0,
        },
        "system_cpu_usage": _system_cpu(),
        "online_cpus": os.cpu_count() or 1,
        "throttling_data": {
            "periods": (cpu.nr_periods or 0) if cpu else 0,
            "throttled_periods": (cpu.nr_throttled or 0) if cpu else 0,
            "throttled_time": (cpu.throttled or 0) if cpu else 0,
        },
    }
    host_mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    io_entries = []
    for dev, v in io_devs.items():
        major, _, minor = dev.partition(":")
        for op, value in (("read", v.read_bytes), ("write", v.write_bytes)):
            io_entries.append(
                {"major": int(major or 0), "minor": int(minor or 0), "op": op, "value": value}
            )
    return {
        "read": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "preread": previous["read"] if previous else "0001-01-01T00:00:00Z",
        "id": c.id,
        "name": "/" + (c.name or c.id[:12]),
        "pids_stats": {"current": pids.current, "limit": pids.max or 0} if pids else {},
        "blkio_stats": {"io_service_bytes_recursive": io_entries or None},
        "num_procs": 0,
        "cpu_stats": cpu_doc,
        "precpu_stats": previous["cpu_stats"]
        if previous
        else {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "memory_stats": {
            "usage": mem.usage,
            "limit": mem.limit or host_mem,
            "max_usage": mem.peak or 0,
            "failcnt": mem.failcnt or 0,
            "stats": {},
        }
        if mem
        else {},
        "networks": {},
    }


async def stats(request: web.Request) -> web.StreamResponse:
    """GET /containers/{id}/stats?stream=&one-shot=: Docker's stats JSON, once or every
    second.
    """
    d = daemon(request)
    stream = qbool(request, "stream", True)
    one_shot = qbool(request, "one-shot")
    c = await d.call(d.load, request.match_info["id"])
    try:
        first = await d.call(stats_doc, c, None)
        if not stream:
            if not one_shot:  # Docker samples twice so precpu is filled in
                await asyncio.sleep(1.0 if first["memory_stats"] else 0)
                first = await d.call(stats_doc, c, first)
            return json_response(first)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        doc = first
        while True:
            await resp.write(json.dumps(doc).encode() + b"\n")
            await asyncio.sleep(1.0)
            doc = await d.call(stats_doc, c, doc)
            if not doc["memory_stats"] and not doc["pids_stats"]:
                await resp.write(json.dumps(doc).encode() + b"\n")
                return resp
    finally:
        c.close()


def add_routes(r: Routes) -> None:
    """Register the file and process endpoints."""
    r.add("GET", "/containers/{id}/archive", archive_get)
    r.add("HEAD", "/containers/{id}/archive", archive_get)
    r.add("PUT", "/containers/{id}/archive", archive_put)
    r.add("GET", "/containers/{id}/export", export)
    r.add("GET", "/containers/{id}/changes", changes)
    r.add("GET", "/containers/{id}/top", top)
    r.add("GET", "/containers/{id}/stats", stats)


__all__ = ["add_routes", "stats_doc"]
