"""Container endpoints: create, start, stop, kill, restart, wait, delete, inspect, list,
pause/unpause, rename, update, prune (logs and attach live in :mod:`.attach`).

Each handler runs the library's blocking call in the daemon's thread pool and publishes
the container event it caused.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pycontainers.api.context import (
    Daemon,
    body_json,
    daemon,
    json_response,
    qbool,
    qfilters,
    qint,
)
from pycontainers.api.errors import bad_request, conflict, not_found

if TYPE_CHECKING:
    from pycontainers.api.server import Routes
    from pycontainers.runtime.container import Container


def _attributes(c: Container, **extra: str) -> dict[str, str]:
    out = {**c.labels, "name": c.name}
    if c.record.image:
        out["image"] = c.record.image
    out.update(extra)
    return out


def publish(d: Daemon, c: Container, action: str, **extra: str) -> None:
    """Record a container event."""
    d.events.publish("container", action, c.id, _attributes(c, **extra))


def parse_signal(value: str | None, default: int | None) -> int | None:
    """A signal by number, name or SIG-name (400 if unknown)."""
    if not value:
        return default
    if value.isdigit():
        return int(value)
    name = value.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise bad_request(f"invalid signal: {value}") from None


def _with(d: Daemon, ref: str, fn: Any) -> Any:
    """Load ``ref``, apply ``fn``, close the handle (blocking)."""
    c = d.load(ref)
    try:
        return fn(c)
    finally:
        c.close()


# -- create --------------------------------------------------------------------------


def _create(d: Daemon, body: dict[str, Any], name: str | None) -> Container:
    from pycontainers.api.create import random_name, translate
    from pycontainers.api.inspect import save_request
    from pycontainers.errors import ImageNotFound
    from pycontainers.runtime.container import Container

    image = body.get("Image")
    if not isinstance(image, str) or not image:
        raise bad_request("Config.Image must be a non-empty string")
    try:
        img = d.store().get(image)
    except ImageNotFound:
        raise not_found(f"No such image: {image}") from None
    except ValueError as exc:
        raise bad_request(f"invalid reference format: {exc}") from None
    args, kw = translate(body, img.config)
    if d.data_root:
        kw["image_root"] = d.data_root
    c = Container.create(img, args, name=name or random_name(), state_root=d.state_root, **kw)
    try:
        save_request(c, body)
    except OSError:
        c.delete()
        raise
    publish(d, c, "create")
    return c


async def create(request: web.Request) -> web.Response:
    """POST /containers/create?name=: 201 ``{"Id", "Warnings"}``."""
    d = daemon(request)
    body = await body_json(request)
    name = request.query.get("name") or None
    if name is not None:
        name = name.lstrip("/")
        from pycontainers.runtime.state import check_name

        check_name(name)
    c = await d.call(_create, d, body, name)
    c.close()
    return json_response({"Id": c.id, "Warnings": []}, 201)


# -- lifecycle -------------------------------------------------------------------------


def _start(d: Daemon, c: Container) -> bool:
    from pycontainers.runtime.monitored import wait_monitor_gone

    status = c.status
    if status in ("running", "paused"):
        return False
    if status == "stopped":
        wait_monitor_gone(c)  # its exit hook is done before a new run is set up
    d.removals.claim(d, c)  # an auto-remove container: we delete it, not its exit hook
    c.start()
    publish(d, c, "start")
    return True


async def start(request: web.Request) -> web.Response:
    """POST /containers/{id}/start: 204, or 304 if it is running already."""
    d = daemon(request)
    started = await d.call(_with, d, request.match_info["id"], lambda c: _start(d, c))
    return web.Response(status=204 if started else 304)


def _stop(d: Daemon, c: Container, timeout: float | None, sig: int | None) -> bool:
    if c.status not in ("running", "paused"):
        return False
    c.stop(timeout=timeout, sig=sig)
    publish(d, c, "kill", signal=str(sig or signal.SIGTERM))
    publish(d, c, "stop")
    publish(d, c, "die", exitCode=str(c.returncode if c.returncode is not None else ""))
    return True


def _timeout(request: web.Request) -> float | None:
    """``t``/``timeout`` seconds; None: the container's StopTimeout, else 10."""
    t = qint(request, "t", None)
    t = qint(request, "timeout", t)
    return None if t is None else float(t)


async def stop(request: web.Request) -> web.Response:
    """POST /containers/{id}/stop?t=&signal=: 204, or 304 if it is not running."""
    d = daemon(request)
    timeout, sig = _timeout(request), parse_signal(request.query.get("signal"), None)
    stopped = await d.call(_with, d, request.match_info["id"], lambda c: _stop(d, c, timeout, sig))
    return web.Response(status=204 if stopped else 304)


async def restart(request: web.Request) -> web.Response:
    """POST /containers/{id}/restart?t=&signal=: 204."""
    d = daemon(request)
    timeout, sig = _timeout(request), parse_signal(request.query.get("signal"), None)

    def run(c: Container) -> None:
        _stop(d, c, timeout, sig)
        _start(d, c)
        publish(d, c, "restart")

    await d.call(_with, d, request.match_info["id"], run)
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    """POST /containers/{id}/kill?signal=: 204; 409 if it is not running."""
    d = daemon(request)
    sig = parse_signal(request.query.get("signal"), int(signal.SIGKILL))
    assert sig is not None

    def run(c: Container) -> None:
        if c.status not in ("running", "paused"):
            raise conflict(f"Container {c.id} is not running")
        c.kill(sig)
        publish(d, c, "kill", signal=str(sig))

    await d.call(_with, d, request.match_info["id"], run)
    return web.Response(status=204)


def _wait(d: Daemon, c: Container, condition: str) -> dict[str, Any]:
    from pycontainers.runtime.monitored import wait_monitor_gone

    # an auto-remove container is ours to remove once a client waits for its removal
    # (the docker CLI asks before it starts it): its status then comes from our removal
    removal = d.removals.claim(d, c) if condition == "removed" else d.removals.get(c.id)
    status = c.status
    if condition == "not-running" and status == "created":
        code = 0
    elif removal is not None:
        removal.exited.wait()
        code = removal.code if removal.code is not None else c.wait()
    elif condition == "not-running" and status == "stopped":
        code = c.wait()  # its recorded status (a loaded record may not carry it yet)
    else:
        code = c.wait()
        publish(d, c, "die", exitCode=str(code))
    if condition == "removed":
        if removal is not None:
            removal.removed.wait(30.0)
        else:  # its exit hook removes it
            wait_monitor_gone(c)
        deadline = time.monotonic() + 30
        while os.path.exists(c.state_dir) and time.monotonic() < deadline:
            time.sleep(0.005)
        if not os.path.exists(c.state_dir):
            publish(d, c, "destroy")
    return {"StatusCode": code, "Error": None}


async def wait(request: web.Request) -> web.StreamResponse:
    """POST /containers/{id}/wait?condition=not-running|next-exit|removed: the headers go
    out at once (the docker CLI starts the container only then), the status at the exit.
    """
    import json

    d = daemon(request)
    condition = request.query.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise bad_request(f"invalid condition: {condition!r}")
    c = await d.call(d.load, request.match_info["id"])
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        await resp.write(b"")
        try:
            result = await d.call_long(_wait, d, c, condition)
        except Exception as exc:  # the status line is out: the error goes in the body
            message = getattr(exc, "message", None) or str(exc)
            result = {"StatusCode": -1, "Error": {"Message": message}}
        await resp.write(json.dumps(result).encode() + b"\n")
        return resp
    finally:
        c.close()


def _delete(d: Daemon, c: Container, force: bool, volumes: bool) -> None:
    from pycontainers.runtime.volumes import Volume

    status = c.status
    if status in ("running", "paused") and not force:
        raise conflict(
            f"You cannot remove a {status} container {c.id}. "
            "Stop the container before attempting removal or force remove"
        )
    anonymous = []
    if volumes:
        anonymous = [
            v.name
            for v in Volume.list(data_root=d.data_root)
            if v.anonymous and c.id in v.users(state_root=d.state_root)
        ]
    if status in ("running", "paused"):
        publish(d, c, "kill", signal=str(int(signal.SIGKILL)))
    c.delete()
    for name in anonymous:
        Volume.get(name, data_root=d.data_root).remove(state_root=d.state_root)
    publish(d, c, "destroy")


async def delete(request: web.Request) -> web.Response:
    """DELETE /containers/{id}?force=&v=: 204."""
    d = daemon(request)
    force, volumes = qbool(request, "force"), qbool(request, "v")
    await d.call(_with, d, request.match_info["id"], lambda c: _delete(d, c, force, volumes))
    return web.Response(status=204)


async def pause(request: web.Request) -> web.Response:
    """POST /containers/{id}/pause: 204."""
    d = daemon(request)

    def run(c: Container) -> None:
        if c.status != "running":
            raise conflict(f"Container {c.id} is not running")
        c.pause()
        publish(d, c, "pause")

    await d.call(_with, d, request.match_info["id"], run)
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    """POST /containers/{id}/unpause: 204."""
    d = daemon(request)

    def run(c: Container) -> None:
        if c.status != "paused":
            raise conflict(f"Container {c.id} is not paused")
        c.resume()
        publish(d, c, "unpause")

    await d.call(_with, d, request.match_info["id"], run)
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    """POST /containers/{id}/rename?name=: 204; 409 if the name is taken."""
    d = daemon(request)
    new = (request.query.get("name") or "").lstrip("/")
    if not new:
        raise bad_request("rename needs a new name (name=)")

    def run(c: Container) -> None:
        old = c.name
        c.rename(new)
        publish(d, c, "rename", oldName="/" + old)

    await d.call(_with, d, request.match_info["id"], run)
    return web.Response(status=204)


def _restart_policy(value: Any) -> str | None:
    """Docker's ``{"Name", "MaximumRetryCount"}`` as a policy string (None: no change)."""
    if not isinstance(value, dict):
        raise bad_request("RestartPolicy must be an object")
    name = value.get("Name") or ""
    count = value.get("MaximumRetryCount") or 0
    if not isinstance(name, str) or not isinstance(count, int) or count < 0:
        raise bad_request("RestartPolicy: Name must be a string, MaximumRetryCount >= 0")
    if not name:
        return None
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise bad_request(f"invalid restart policy {name!r}")
    if count and name != "on-failure":
        raise bad_request(f"maximum retry count cannot be used with restart policy {name!r}")
    return f"on-failure:{count}" if count else name


async def update(request: web.Request) -> web.Response:
    """POST /containers/{id}/update: new limits of a running container (Docker's resource
    keys, on top of the stored ones, which then hold the result), a new restart policy
    (``RestartPolicy``) of a running or stopped one. A value that cannot be applied is a 400
    naming its key; nothing is changed then.
    """
    from pycontainers.api.create import named
    from pycontainers.cgroups._dockerapi import ALL_KEYS, from_host_config
    from pycontainers.errors import CgroupError, SpecError

    d = daemon(request)
    body = await body_json(request)
    known = {key.lower() for key in (*ALL_KEYS, "RestartPolicy")}
    for key, value in body.items():
        if key.lower() not in known and value not in (None, 0, "", [], {}, False):
            raise bad_request(f"unsupported update field {key!r}")
    try:
        limits: dict[str, Any] = from_host_config(body, "")
    except SpecError as exc:
        raise bad_request(str(exc)) from None
    if body.get("RestartPolicy") is not None:
        policy = _restart_policy(body["RestartPolicy"])
        if policy is not None:
            limits["restart"] = policy

    def run(c: Container) -> None:
        try:
            c.update(**limits)
        except (SpecError, CgroupError) as exc:
            raise bad_request(named(exc, "")) from None
        publish(d, c, "update")

    await d.call(_with, d, request.match_info["id"], run)
    return json_response({"Warnings": []})


# -- inspect, list, prune --------------------------------------------------------------


async def inspect(request: web.Request) -> web.Response:
    """GET /containers/{id}/json."""
    from pycontainers.api.inspect import container_inspect

    d = daemon(request)
    doc = await d.call(
        _with, d, request.match_info["id"], lambda c: container_inspect(c, d.data_root)
    )
    return json_response(doc)


def _list(d: Daemon, all_: bool, limit: int | None, filters: dict[str, list[str]]) -> list[Any]:
    from pycontainers.api.inspect import ImageIds, container_summary, matches
    from pycontainers.errors import PyContainersError
    from pycontainers.runtime.container import Container

    ids = ImageIds(d.data_root)
    out = []
    for c in reversed(Container.list(state_root=d.state_root)):  # newest first
        try:
            row = container_summary(c, d.data_root, ids)
        except (PyContainersError, OSError):
            continue  # removed while we read it
        finally:
            c.close()
        if not all_ and "status" not in filters and row["State"] not in ("running", "paused"):
            continue
        if matches(row, filters):
            del row["_info"]
            out.append(row)
        if limit is not None and limit > 0 and len(out) >= limit:
            break
    return out


async def list_(request: web.Request) -> web.Response:
    """GET /containers/json?all=&limit=&filters=."""
    from pycontainers.api.inspect import FILTER_KEYS

    d = daemon(request)
    filters = qfilters(request)
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise bad_request(f"invalid filter {sorted(unknown)[0]!r}")
    limit = qint(request, "limit")
    all_ = qbool(request, "all") or (limit is not None and limit > 0)
    return json_response(await d.call(_list, d, all_, limit, filters))


def _prune(d: Daemon, filters: dict[str, list[str]]) -> dict[str, Any]:
    from pycontainers.errors import PyContainersError
    from pycontainers.runtime.container import Container

    labels = filters.get("label", [])
    removed = []
    for c in Container.list(state_root=d.state_root):
        try:
            if c.status not in ("stopped", "created"):
                continue
            if not all(_label_ok(c.labels, want) for want in labels):
                continue
            c.delete()
            publish(d, c, "destroy")
            removed.append(c.id)
        except PyContainersError:
            continue
        finally:
            c.close()
    return {"ContainersDeleted": removed or None, "SpaceReclaimed": 0}


def _label_ok(labels: dict[str, str], want: str) -> bool:
    k, sep, v = want.partition("=")
    return k in labels and (not sep or labels[k] == v)


async def prune(request: web.Request) -> web.Response:
    """POST /containers/prune: remove stopped and created containers."""
    d = daemon(request)
    return json_response(await d.call(_prune, d, qfilters(request)))


def add_routes(r: Routes) -> None:
    """Register the container endpoints (logs and attach: :mod:`.attach`)."""
    from pycontainers.api import attach

    r.add("POST", "/containers/create", create)
    r.add("GET", "/containers/json", list_)
    r.add("POST", "/containers/prune", prune)
    r.add("GET", "/containers/{id}/json", inspect)
    r.add("POST", "/containers/{id}/start", start)
    r.add("POST", "/containers/{id}/stop", stop)
    r.add("POST", "/containers/{id}/restart", restart)
    r.add("POST", "/containers/{id}/kill", kill)
    r.add("POST", "/containers/{id}/wait", wait)
    r.add("DELETE", "/containers/{id}", delete)
    r.add("POST", "/containers/{id}/pause", pause)
    r.add("POST", "/containers/{id}/unpause", unpause)
    r.add("POST", "/containers/{id}/rename", rename)
    r.add("POST", "/containers/{id}/update", update)
    attach.add_routes(r)


__all__ = ["add_routes", "parse_signal", "publish"]
