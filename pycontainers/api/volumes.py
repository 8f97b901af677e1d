"""Volume endpoints: create, list, inspect, delete, prune."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pycontainers.api.context import Daemon, body_json, daemon, json_response, qbool, qfilters
from pycontainers.api.errors import bad_request, not_found

if TYPE_CHECKING:
    from pycontainers.api.server import Routes


def volume_doc(v: Any) -> dict[str, Any]:
    """Docker's Volume object."""
    doc = v.inspect()
    return {
        "Name": doc.get("Name", v.name),
        "Driver": doc.get("Driver", "local"),
        "Mountpoint": doc["Mountpoint"],
        "CreatedAt": doc.get("CreatedAt", ""),
        "Labels": doc.get("Labels") or {},
        "Scope": "local",
        "Options": doc.get("Options") or {},
    }


def _get(d: Daemon, name: str) -> Any:
    from pycontainers.errors import VolumeError
    from pycontainers.runtime.volumes import Volume

    try:
        return Volume.get(name, data_root=d.data_root)
    except VolumeError:
        raise not_found(f"get {name}: no such volume") from None


async def create(request: web.Request) -> web.Response:
    """POST /volumes/create ``{"Name", "Labels", "Driver"}``: 201 (an existing one as is)."""
    from pycontainers.runtime.volumes import Volume

    d = daemon(request)
    body = await body_json(request, required=False)
    name = body.get("Name") or None
    driver = body.get("Driver") or "local"
    labels = body.get("Labels") or {}
    if name is not None and not isinstance(name, str):
        raise bad_request("Name must be a string")
    if driver != "local":
        raise bad_request(f"volume driver {driver!r} is not supported (local)")
    if not isinstance(labels, dict):
        raise bad_request("Labels must be an object")

    def run() -> Any:
        v = Volume.create(name, labels=labels, data_root=d.data_root, exist_ok=True)
        d.events.publish("volume", "create", v.name, {"driver": "local"})
        return volume_doc(v)

    return json_response(await d.call(run), 201)


async def list_(request: web.Request) -> web.Response:
    """GET /volumes?filters= (name=, label=, dangling=)."""
    from pycontainers.runtime.volumes import Volume

    d = daemon(request)
    filters = qfilters(request)

    def run() -> list[dict[str, Any]]:
        out = []
        for v in Volume.list(data_root=d.data_root):
            doc = volume_doc(v)
            if any(n not in v.name for n in filters.get("name", [])):
                continue
            labels = doc["Labels"]
            if not all(_label(labels, w) for w in filters.get("label", [])):
                continue
            dangling = filters.get("dangling")
            if dangling:
                used = bool(v.users(state_root=d.state_root))
                if (dangling[0] in ("true", "1")) == used:
                    continue
            out.append(doc)
        return out

    return json_response({"Volumes": await d.call(run), "Warnings": None})


def _label(labels: dict[str, str], want: str) -> bool:
    k, sep, v = want.partition("=")
    return k in labels and (not sep or labels[k] == v)


async def inspect(request: web.Request) -> web.Response:
    """GET /volumes/{name}."""
    d = daemon(request)
    return json_response(await d.call(lambda: volume_doc(_get(d, request.match_info["name"]))))


async def delete(request: web.Request) -> web.Response:
    """DELETE /volumes/{name}?force=: 204; 409 while a container uses it."""
    from pycontainers.api.errors import conflict
    from pycontainers.errors import VolumeError

    d = daemon(request)
    name, force = request.match_info["name"], qbool(request, "force")

    def run() -> None:
        v = _get(d, name)
        try:
            v.remove(force=force, state_root=d.state_root)
        except VolumeError as exc:
            raise conflict(f"remove {name}: volume is in use - {exc}") from None
        d.events.publish("volume", "destroy", name, {"driver": "local"})

    await d.call(run)
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    """POST /volumes/prune: volumes no container uses (anonymous ones unless ``all``)."""
    from pycontainers.runtime.volumes import Volume

    d = daemon(request)
    filters = qfilters(request)
    every = filters.get("all", ["false"])[0] in ("true", "1")

    def run() -> list[str]:
        removed = []
        for v in Volume.list(data_root=d.data_root):
            if not every and not v.anonymous:
                continue
            if v.users(state_root=d.state_root):
                continue
            if not all(_label(v.labels, w) for w in filters.get("label", [])):
                continue
            try:
                v.remove(state_root=d.state_root)
            except Exception:
                continue
            removed.append(v.name)
            d.events.publish("volume", "destroy", v.name, {"driver": "local"})
        return removed

    removed = await d.call(run)
    return json_response({"VolumesDeleted": removed or None, "SpaceReclaimed": 0})


def add_routes(r: Routes) -> None:
    """Register the volume endpoints."""
    r.add("POST", "/volumes/create", create)
    r.add("GET", "/volumes", list_)
    r.add("POST", "/volumes/prune", prune)
    r.add("GET", "/volumes/{name}", inspect)
    r.add("DELETE", "/volumes/{name}", delete)


__all__ = ["add_routes", "volume_doc"]
