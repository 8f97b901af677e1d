"""Image endpoints: list, inspect, create (pull, JSON progress lines), push, tag, delete,
history, get/load (tar streams), prune, search (offline: a clear error); ``POST /build`` is in :mod:`pycontainers.api.build`.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pycontainers.api.context import Daemon, daemon, json_response, qbool, qfilters
from pycontainers.api.errors import ApiError, bad_request, conflict, not_found, not_implemented

if TYPE_CHECKING:
    from pycontainers.api.server import Routes


def _epoch(created: str) -> int:
    if not created:
        return 0
    from pycontainers.runtime.logs import parse_time

    try:
        return int(parse_time(created).timestamp())
    except ValueError:
        return 0


def image_summaries(
    data_root: str | None, *, with_containers: bool = False, state_root: str | None = None
) -> list[dict[str, Any]]:
    """``GET /images/json`` entries: one per image (its tags together)."""
    from pycontainers.images import default_store

    store = default_store(data_root)
    by_id: dict[str, dict[str, Any]] = {}
    for img in store.list():
        key = str(img.id)
        entry = by_id.get(key)
        if entry is None:
            entry = by_id[key] = {
                "Id": key,
                "ParentId": "",
                "RepoTags": [],
                "RepoDigests": [],
                "Created": _epoch(img.created),
                "Size": img.size,
                "SharedSize": -1,
                "VirtualSize": img.size,
                "Labels": dict((img.raw_config.get("config") or {}).get("Labels") or {}),
                "Containers": -1,
            }
        ref = img.reference
        if ref.tag and ref.familiar not in entry["RepoTags"]:
            entry["RepoTags"].append(ref.familiar)
        digest = f"{ref.familiar_repository}@{img.digest}"
        if digest not in entry["RepoDigests"]:
            entry["RepoDigests"].append(digest)
    if with_containers:
        from pycontainers.runtime.container import Container

        for e in by_id.values():
            e["Containers"] = 0
        refs: dict[str, int] = {}
        for c in Container.list(state_root=state_root):
            refs[c.record.image] = refs.get(c.record.image, 0) + 1
            c.close()
        for img in store.list():
            entry = by_id[str(img.id)]
            entry["Containers"] += refs.pop(str(img.reference), 0)
    return list(by_id.values())


async def list_(request: web.Request) -> web.Response:
    """GET /images/json?filters= (reference=, label=, dangling=)."""
    d = daemon(request)
    filters = qfilters(request)
    rows = await d.call(image_summaries, d.data_root)
    import fnmatch

    for want in filters.get("reference", []):
        rows = [
            r
            for r in rows
            if any(
                fnmatch.fnmatch(t, want) or fnmatch.fnmatch(t.partition(":")[0], want)
                for t in r["RepoTags"]
            )
        ]
    for want in filters.get("label", []):
        k, sep, v = want.partition("=")
        rows = [r for r in rows if k in r["Labels"] and (not sep or r["Labels"][k] == v)]
    return json_response(rows)


def _inspect(d: Daemon, name: str) -> dict[str, Any]:
    from pycontainers.errors import ImageNotFound

    store = d.store()
    try:
        doc: dict[str, Any] = store.inspect(name)
    except (ImageNotFound, ValueError):
        match = (
            [
                i
                for i in store.list()
                if str(i.id).removeprefix("sha256:").startswith(name.removeprefix("sha256:"))
            ]
            if len(name.removeprefix("sha256:")) >= 4
            else []
        )
        if not match:
            raise not_found(f"No such image: {name}") from None
        doc = store.inspect(str(match[0].reference))
    config = doc.get("Config") or {}
    doc.setdefault("Parent", "")
    doc.setdefault("Comment", "")
    doc.setdefault("DockerVersion", "")
    doc.setdefault("Author", "")
    doc["Config"] = config
    doc["ContainerConfig"] = config
    doc["VirtualSize"] = doc.get("Size", 0)
    doc["GraphDriver"] = {"Name": "overlay2", "Data": None}
    doc["Metadata"] = {"LastTagTime": "0001-01-01T00:00:00Z"}
    doc.pop("Layers", None)
    return doc


async def inspect(request: web.Request) -> web.Response:
    """GET /images/{name}/json."""
    d = daemon(request)
    return json_response(await d.call(_inspect, d, request.match_info["name"]))


async def history(request: web.Request) -> web.Response:
    """GET /images/{name}/history."""
    d = daemon(request)
    doc = await d.call(_inspect, d, request.match_info["name"])
    rows = []
    for h in reversed(doc.get("History") or []):
        rows.append(
            {
                "Id": "<missing>",
                "Created": _epoch(h.get("created", "")),
                "CreatedBy": h.get("created_by", ""),
                "Tags": None,
                "Size": 0,
                "Comment": h.get("comment", ""),
            }
        )
    if rows:
        rows[0]["Id"] = doc["Id"]
        rows[0]["Tags"] = doc.get("RepoTags")
    return json_response(rows)


class _Progress:
    """Docker's JSON progress lines from the registry client's progress callbacks."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any], done: str
    ) -> None:
        self._loop = loop
        self._queue = queue
        self._done = done  # what a finished layer says: "Pull complete" or "Pushed"

    def send(self, doc: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, doc)

    def __call__(self, p: Any) -> None:
        status = {
            "downloading": "Downloading",
            "uploading": "Pushing",
            "done": self._done,
            "exists": "Already exists",
            "skipped": "Layer already exists",
            "verifying": "Verifying Checksum",
            "extracting": "Extracting",
        }.get(p.state, p.state.capitalize())
        self.send(
            {
                "status": status,
                "id": p.short_id,
                "progressDetail": {"current": p.done, "total": p.total},
            }
        )


async def _stream_job(
    request: web.Request,
    job: Callable[[_Progress], list[dict[str, Any]]],
    done: str = "Pull complete",
) -> web.StreamResponse:
    """Run ``job`` in the pool, streaming its progress as JSON lines; its error becomes an
    ``errorDetail`` line (the status is already 200 by then, as Docker does).
    """
    d = daemon(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    progress = _Progress(loop, queue, done)
    future = loop.run_in_executor(d.pool, job, progress)
    future.add_done_callback(lambda f: queue.put_nowait(None))
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    while (doc := await queue.get()) is not None:
        await resp.write(json.dumps(doc).encode() + b"\r\n")
    try:
        for doc in future.result():
            await resp.write(json.dumps(doc).encode() + b"\r\n")
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc)
        await resp.write(
            json.dumps({"errorDetail": {"message": message}, "error": message}).encode() + b"\r\n"
        )
    return resp


async def create(request: web.Request) -> web.StreamResponse:
    """POST /images/create?fromImage=&tag=: pull, with JSON progress lines."""
    from pycontainers.images import Reference

    d = daemon(request)
    if request.query.get("fromSrc"):
        raise not_implemented("importing a rootfs tarball (fromSrc) is not supported yet")
    image = request.query.get("fromImage")
    if not image:
        raise bad_request("fromImage is required")
    tag = request.query.get("tag") or ""
    if tag and "@" not in image and ":" not in image.rpartition("/")[2]:
        image = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    try:
        ref = Reference.parse(image)
    except ValueError as exc:
        raise bad_request(f"invalid reference format: {exc}") from None
    platform = request.query.get("platform") or None

    def job(progress: _Progress) -> list[dict[str, Any]]:
        progress.send({"status": f"Pulling from {ref.path}", "id": ref.tag or ""})
        kw: dict[str, Any] = {"progress": progress}
        if platform:
            kw["platform"] = platform
        img = d.store().pull(ref, **kw)
        d.events.publish("image", "pull", str(img.reference), {"name": ref.familiar})
        return [
            {"status": f"Digest: {img.digest}"},
            {"status": f"Status: Downloaded newer image for {ref.familiar}"},
        ]

    return await _stream_job(request, job)


async def push(request: web.Request) -> web.StreamResponse:
    """POST /images/{name}/push?tag=: push, with JSON progress lines."""
    d = daemon(request)
    name = request.match_info["name"]
    tag = request.query.get("tag")
    ref = f"{name}:{tag}" if tag else name

    def job(progress: _Progress) -> list[dict[str, Any]]:
        from pycontainers.errors import ImageNotFound

        try:
            d.store().get(ref)
        except ImageNotFound:
            raise not_found(f"An image does not exist locally with the tag: {ref}") from None
        progress.send({"status": f"The push refers to repository [{name}]"})
        result = d.store().push(ref, progress=progress)
        d.events.publish("image", "push", ref, {"name": ref})
        return [
            {"status": f"{tag or 'latest'}: digest: {result.digest}"},
            {"aux": {"Tag": tag or "latest", "Digest": str(result.digest)}},
        ]

    return await _stream_job(request, job, done="Pushed")


async def tag(request: web.Request) -> web.Response:
    """POST /images/{name}/tag?repo=&tag=: 201."""
    d = daemon(request)
    repo = request.query.get("repo")
    if not repo:
        raise bad_request("repo is required")
    new = f"{repo}:{request.query.get('tag') or 'latest'}"
    name = request.match_info["name"]

    def run() -> None:
        doc = _inspect(d, name)
        d.store().tag(doc["Reference"], new)
        d.events.publish("image", "tag", doc["Id"], {"name": new})

    await d.call(run)
    return web.Response(status=201)


def _delete(d: Daemon, name: str, force: bool) -> list[dict[str, str]]:
    from pycontainers.images import Reference
    from pycontainers.runtime.container import Container

    doc = _inspect(d, name)
    store = d.store()
    image_id = doc["Id"]
    by_name = not name.removeprefix("sha256:").startswith(image_id.removeprefix("sha256:")[:4])
    refs = [Reference.parse(name)] if by_name else store.references(image_id)
    if not by_name and len(refs) > 1 and not force:
        raise conflict(
            f"conflict: unable to delete {image_id[7:19]} (must be forced) - "
            "image is referenced in multiple repositories"
        )
    if not force:
        for c in Container.list(state_root=d.state_root):
            try:
                if c.record.image in {str(r) for r in store.references(image_id)} and (
                    len(store.references(image_id)) == len(refs)
                ):
                    raise conflict(
                        f"conflict: unable to remove repository reference {name!r} "
                        f"(must force) - container {c.id[:12]} is using its "
                        f"referenced image {image_id[7:19]}"
                    )
            finally:
                c.close()
    out = []
    for r in refs:
        store.untag(r)
        out.append({"Untagged": r.familiar})
        d.events.publish("image", "untag", image_id, {"name": r.familiar})
    if not store.references(image_id):
        out.append({"Deleted": image_id})
        d.events.publish("image", "delete", image_id, {"name": name})
    return out


async def delete(request: web.Request) -> web.Response:
    """DELETE /images/{name}?force=: the untagged and deleted."""
    d = daemon(request)
    result = await d.call(_delete, d, request.match_info["name"], qbool(request, "force"))
    return json_response(result)


async def prune(request: web.Request) -> web.Response:
    """POST /images/prune: content no tagged image reaches."""
    d = daemon(request)
    pruned = await d.call(lambda: d.store().prune())
    return json_response(
        {"ImagesDeleted": [{"Deleted": str(b)} for b in pruned.blobs] or None, "SpaceReclaimed": 0}
    )


async def get(request: web.Request) -> web.StreamResponse:
    """GET /images/{name}/get or /images/get?names=: a ``docker save`` tar."""
    d = daemon(request)
    names = request.query.getall("names", []) or [request.match_info.get("name", "")]
    names = [n for n in names if n]
    if not names:
        raise bad_request("no image names given")
    tmp = tempfile.mkdtemp(prefix="pc-save-")
    path = os.path.join(tmp, "image.tar")
    try:
        for n in names:
            await d.call(_inspect, d, n)  # 404 for a missing one
        await d.call(lambda: d.store().save(names, path, format="docker-archive"))
        resp = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        await resp.prepare(request)
        with open(path, "rb") as f:
            while chunk := await d.call(f.read, 1 << 20):
                await resp.write(chunk)
        return resp
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


async def load(request: web.Request) -> web.StreamResponse:
    """POST /images/load: import a ``docker save`` or OCI archive from the body."""
    d = daemon(request)
    fd, path = tempfile.mkstemp(prefix="pc-load-", suffix=".tar")
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in request.content.iter_chunked(1 << 20):
                f.write(chunk)
        images = await d.call(lambda: d.store().load(path))
    finally:
        os.unlink(path)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    for img in images:
        d.events.publish("image", "load", str(img.id), {"name": str(img.reference)})
        line = {"stream": f"Loaded image: {img.reference.familiar}\n"}
        await resp.write(json.dumps(line).encode() + b"\r\n")
    return resp


async def search(request: web.Request) -> web.Response:
    """GET /images/search: Docker Hub's search is not reachable from here."""
    raise ApiError(
        503,
        "image search is not available: this daemon has no index to search "
        "(it works offline with registries you name; pull a full reference)",
    )


async def build_prune(request: web.Request) -> web.Response:
    """POST /build/prune: there is no build cache to prune."""
    return json_response({"CachesDeleted": None, "SpaceReclaimed": 0})


def add_routes(r: Routes) -> None:
    """Register the image endpoints."""
    r.add("POST", "/build/prune", build_prune)
    r.add("GET", "/images/json", list_)
    r.add("POST", "/images/create", create)
    r.add("POST", "/images/load", load)
    r.add("GET", "/images/get", get)
    r.add("POST", "/images/prune", prune)
    r.add("GET", "/images/search", search)
    from pycontainers.api.build import build

    r.add("POST", "/build", build)
    r.add("GET", "/images/{name:.+}/json", inspect)
    r.add("GET", "/images/{name:.+}/history", history)
    r.add("GET", "/images/{name:.+}/get", get)
    r.add("POST", "/images/{name:.+}/push", push)
    r.add("POST", "/images/{name:.+}/tag", tag)
    r.add("DELETE", "/images/{name:.+}", delete)


__all__ = ["add_routes", "image_summaries"]
