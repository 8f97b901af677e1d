"""Network endpoints: create, list, inspect, connect, disconnect, delete, prune.

A container joins its network when it is created (the library sets the network up in the
container's own setup); ``connect`` gives a running or created container one more network
(:meth:`pycontainers.Network.connect`), or a stopped one the network its next start joins,
and ``disconnect`` takes one away (see :mod:`pycontainers.network.attach`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pycontainers.api.context import Daemon, body_json, daemon, json_response, qfilters
from pycontainers.api.errors import ApiError, bad_request, conflict, not_found

if TYPE_CHECKING:
    from pycontainers.api.server import Routes

_BUILTIN = {"none": "null", "host": "host"}


def _doc(net: Any, d: Daemon) -> dict[str, Any]:
    from pycontainers.runtime.container import Container

    info = net.inspect()
    containers = {}
    for owner, address in (info.get("Containers") or {}).items():
        name = ""
        try:
            c = Container.load(owner, state_root=d.state_root)
            name = c.name
            c.close()
        except Exception:
            pass
        containers[owner] = {
            "Name": name,
            "EndpointID": owner,
            "MacAddress": "",
            "IPv4Address": address["IPv4Address"],
            "IPv6Address": "",
        }
    return {
        "Name": info["Name"],
        "Id": info["Id"],
        "Created": info["Created"],
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": info["IPAM"]["Config"]},
        "Internal": False,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": info.get("Options") or {},
        "Labels": info.get("Labels") or {},
    }


def _builtin(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Id": name,
        "Created": "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": _BUILTIN[name],
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": []},
        "Internal": False,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {},
        "Options": {},
        "Labels": {},
    }


def _get(d: Daemon, name: str) -> Any:
    from pycontainers.errors import NetworkNotFound, SpecError
    from pycontainers.network.network import Network

    try:
        return Network.get(name, data_root=d.data_root)
    except (NetworkNotFound, SpecError):
        for net in Network.list(data_root=d.data_root):
            if net.id.startswith(name):
                return net
        raise not_found(f"network {name} not found") from None


async def create(request: web.Request) -> web.Response:
    """POST /networks/create ``{"Name", "Driver", "IPAM", "Labels", "CheckDuplicate"}``."""
    from pycontainers.network.network import Network

    d = daemon(request)
    body = await body_json(request)
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise bad_request("Name must be a non-empty string")
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise bad_request(f"network driver {driver!r} is not supported (bridge)")
    labels = body.get("Labels") or {}
    if not isinstance(labels, dict):
        raise bad_request("Labels must be an object")
    subnet = None
    ipam = body.get("IPAM") or {}
    if isinstance(ipam, dict):
        for cfg in ipam.get("Config") or []:
            if isinstance(cfg, dict) and cfg.get("Subnet"):
                subnet = cfg["Subnet"]
    mtu = (body.get("Options") or {}).get("com.docker.network.driver.mtu")

    def run() -> str:
        from pycontainers.errors import NetworkNotFound, SpecError

        try:
            Network.get(name, data_root=d.data_root)
        except (NetworkNotFound, SpecError):
            pass
        else:
            raise conflict(f"network with name {name} already exists")
        kw: dict[str, Any] = {"subnet": subnet, "labels": labels, "data_root": d.data_root}
        if mtu:
            kw["mtu"] = int(mtu)
        net = Network.create(name, **kw)
        d.events.publish("network", "create", net.id, {"name": name, "type": "bridge"})
        return str(net.id)

    return json_response({"Id": await d.call(run), "Warning": ""}, 201)


async def list_(request: web.Request) -> web.Response:
    """GET /networks?filters= (name=, id=, label=)."""
    from pycontainers.network.network import Network

    d = daemon(request)
    filters = qfilters(request)

    def run() -> list[dict[str, Any]]:
        docs = [_doc(n, d) for n in Network.list(data_root=d.data_root)]
        docs += [_builtin(n) for n in _BUILTIN]
        out = []
        for doc in docs:
            if any(n not in doc["Name"] for n in filters.get("name", [])):
                continue
            if any(not doc["Id"].startswith(i) for i in filters.get("id", [])):
                continue
            labels = doc["Labels"]
            ok = True
            for want in filters.get("label", []):
                k, sep, v = want.partition("=")
                ok = ok and k in labels and (not sep or labels[k] == v)
            if ok:
                out.append(doc)
        return out

    return json_response(await d.call(run))


async def inspect(request: web.Request) -> web.Response:
    """GET /networks/{id}."""
    d = daemon(request)
    name = request.match_info["id"]
    if name in _BUILTIN:
        return json_response(_builtin(name))
    return json_response(await d.call(lambda: _doc(_get(d, name), d)))


async def delete(request: web.Request) -> web.Response:
    """DELETE /networks/{id}: 204; 409 while containers use it."""
    d = daemon(request)
    name = request.match_info["id"]
    if name in ("bridge", *_BUILTIN):
        raise conflict(f"{name} is a pre-defined network and cannot be removed")

    def run() -> None:
        from pycontainers.errors import NetworkInUse

        net = _get(d, name)
        try:
            net.remove()
        except NetworkInUse as exc:
            raise conflict(f"error while removing network: {exc}") from None
        d.events.publish("network", "destroy", net.id, {"name": net.name, "type": "bridge"})

    await d.call(run)
    return web.Response(status=204)


async def connect(request: web.Request) -> web.Response:
    """POST /networks/{id}/connect ``{"Container", "EndpointConfig"}``: connect a running
    container (aliases and ``IPAMConfig.IPv4Address`` from the endpoint config).
    """
    d = daemon(request)
    body = await body_json(request)
    ref = body.get("Container")
    if not isinstance(ref, str) or not ref:
        raise bad_request("Container must be a non-empty string")
    config = body.get("EndpointConfig") or {}
    if not isinstance(config, dict):
        raise bad_request("EndpointConfig must be an object")
    aliases = config.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise bad_request("EndpointConfig.Aliases must be a list of strings")
    ipam = config.get("IPAMConfig") or {}
    if not isinstance(ipam, dict):
        raise bad_request("EndpointConfig.IPAMConfig must be an object")
    ip = ipam.get("IPv4Address") or None
    if ip is not None and not isinstance(ip, str):
        raise bad_request("EndpointConfig.IPAMConfig.IPv4Address must be a string")
    name = request.match_info["id"]

    def run() -> None:
        from pycontainers.errors import NetworkError

        net = _get(d, name)
        c = d.load(ref)
        try:
            net.connect(c, aliases=aliases, ip=ip)
        except NetworkError as exc:
            if "already connected" in str(exc):
                raise ApiError(403, str(exc)) from None
            if "not running" in str(exc) or "no network of its own" in str(exc):
                raise conflict(str(exc)) from None
            raise
        finally:
            c.close()
        d.events.publish("network", "connect", net.id,
                         {"name": net.name, "type": "bridge", "container": c.id})  # fmt: skip

    await d.call(run)
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    """POST /networks/{id}/disconnect ``{"Container", "Force"}``: tear down the container's
    endpoint on the network.
    """
    d = daemon(request)
    body = await body_json(request)
    ref = body.get("Container")
    if not isinstance(ref, str) or not ref:
        raise bad_request("Container must be a non-empty string")
    force = body.get("Force", False)
    if not isinstance(force, bool):
        raise bad_request("Force must be a boolean")
    name = request.match_info["id"]

    def run() -> None:
        from pycontainers.errors import NetworkError

        net = _get(d, name)
        try:
            c = d.load(ref)
        except ApiError:
            if not force:
                raise
            cid = ref
        else:
            cid = c.id
            c.close()
        try:
            net.disconnect(cid, force=force, state_root=d.state_root)
        except NetworkError as exc:
            if "not connected" in str(exc):
                raise not_found(str(exc)) from None
            raise conflict(str(exc)) from None
        d.events.publish("network", "disconnect", net.id,
                         {"name": net.name, "type": "bridge", "container": cid})  # fmt: skip

    await d.call(run)
    return web.Response(status=200)


async def prune(request: web.Request) -> web.Response:
    """POST /networks/prune: user networks no container uses."""
    from pycontainers.network.network import Network

    d = daemon(request)

    def run() -> list[str]:
        removed = []
        for net in Network.list(data_root=d.data_root):
            if net.name == "bridge" or net.containers():
                continue
            try:
                net.remove()
            except Exception:
                continue
            removed.append(net.name)
            d.events.publish("network", "destroy", net.id, {"name": net.name})
        return removed

    removed = await d.call(run)
    return json_response({"NetworksDeleted": removed or None})


def add_routes(r: Routes) -> None:
    """Register the network endpoints."""
    r.add("POST", "/networks/create", create)
    r.add("GET", "/networks", list_)
    r.add("POST", "/networks/prune", prune)
    r.add("GET", "/networks/{id}", inspect)
    r.add("DELETE", "/networks/{id}", delete)
    r.add("POST", "/networks/{id}/connect", connect)
    r.add("POST", "/networks/{id}/disconnect", disconnect)


__all__ = ["add_routes"]
