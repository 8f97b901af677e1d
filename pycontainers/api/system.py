"""System endpoints: ``/_ping``, ``/version``, ``/info``, ``/system/df``, ``/auth``."""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pycontainers.api import API_VERSION, MIN_API_VERSION
from pycontainers.api.context import body_json, daemon, json_response
from pycontainers.api.errors import ApiError, bad_request

if TYPE_CHECKING:
    from pycontainers.api.server import Routes


_PING_HEADERS = {
    "Api-Version": API_VERSION,
    "Builder-Version": "1",
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
}


async def ping(request: web.Request) -> web.Response:
    """GET/HEAD /_ping: ``OK`` and the API version (the client negotiates from it)."""
    body = b"" if request.method == "HEAD" else b"OK"
    return web.Response(body=body, content_type="text/plain", headers=_PING_HEADERS)


async def version(request: web.Request) -> web.Response:
    """GET /version."""
    from pycontainers import __version__

    uname = os.uname()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine)
    details = {
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": uname.release,
    }
    return json_response(
        {
            "Platform": {"Name": "pycontainers"},
            "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
            "Version": __version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": f"python{platform.python_version()}",
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": uname.release,
            "BuildTime": "",
        }
    )


def _info(state_root: str | None, data_root: str | None) -> dict[str, Any]:
    from pycontainers import __version__
    from pycontainers.cli.system import _os_name  # the CLI's /etc/os-release reader
    from pycontainers.images import default_store
    from pycontainers.network.network import Network
    from pycontainers.paths import default_data_root, default_state_root
    from pycontainers.runtime.container import Container

    counts = {"running": 0, "paused": 0, "stopped": 0}
    containers = Container.list(state_root=state_root)
    for c in containers:
        s = str(c.status)
        counts[s if s in counts else "stopped"] += 1
        c.close()
    uname = os.uname()
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    return {
        "ID": "pycontainers",
        "Containers": len(containers),
        "ContainersRunning": counts["running"],
        "ContainersPaused": counts["paused"],
        "ContainersStopped": counts["stopped"],
        "Images": len(default_store(data_root).list()),
        "Driver": "overlay2",
        "DriverStatus": [],
        "DockerRootDir": data_root or default_data_root(),
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "null"],
            "Log": ["json-file"],
        },
        "MemoryLimit": True,
        "SwapLimit": True,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": True,
        "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")),
        "NGoroutines": 0,
        "SystemTime": __import__("datetime").datetime.now().astimezone().isoformat(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2" if v2 else "1",
        "NEventsListener": 0,
        "KernelVersion": uname.release,
        "OperatingSystem": _os_name(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": uname.machine,
        "NCPU": os.cpu_count() or 0,
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"]},
        "Name": uname.nodename,
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {"pycontainers": {"path": "pycontainers"}},
        "DefaultRuntime": "pycontainers",
        "Swarm": {
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "NodeID": "",
            "NodeAddr": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": ["name=seccomp,profile=builtin", "name=no-new-privileges"],
        "Warnings": None,
        "StateRoot": state_root or default_state_root(),
        "Networks": len(Network.list(data_root=data_root)),
    }


async def info(request: web.Request) -> web.Response:
    """GET /info: counts, host, drivers (Docker's fields)."""
    d = daemon(request)
    return json_response(await d.call(_info, d.state_root, d.data_root))


def _df(state_root: str | None, data_root: str | None) -> dict[str, Any]:
    from pycontainers.api.images import image_summaries
    from pycontainers.api.inspect import container_summary
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.diskusage import du
    from pycontainers.runtime.volumes import Volume

    images = image_summaries(data_root, with_containers=True, state_root=state_root)
    containers = []
    for c in Container.list(state_root=state_root):
        try:
            row = container_summary(c, data_root)
            del row["_info"]  # the summary's own (for filters), not Docker's
            containers.append(row)
        finally:
            c.close()
    volumes = []
    for v in Volume.list(data_root=data_root):
        doc = _volume_doc(v)
        doc["UsageData"] = {
            "Size": du(v.mountpoint),
            "RefCount": len(v.users(state_root=state_root)),
        }
        volumes.append(doc)
    return {
        "LayersSize": sum(i["Size"] for i in images),
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": [],
    }


def _volume_doc(v: Any) -> dict[str, Any]:
    from pycontainers.api.volumes import volume_doc

    return volume_doc(v)


async def df(request: web.Request) -> web.Response:
    """GET /system/df: images, containers and volumes with their sizes."""
    d = daemon(request)
    return json_response(await d.call(_df, d.state_root, d.data_root))


async def auth(request: web.Request) -> web.Response:
    """POST /auth: check credentials against a registry and store them (our login)."""
    body = await body_json(request)
    user, password = body.get("username"), body.get("password")
    server = body.get("serveraddress") or "docker.io"
    if not isinstance(user, str) or not isinstance(password, str):
        raise bad_request("username and password must be strings")
    from pycontainers.errors import Unauthorized
    from pycontainers.images.registry import login

    host = server.removeprefix("https://").removeprefix("http://").split("/")[0]
    try:
        await daemon(request).call(login, host, user, password)
    except Unauthorized as exc:
        raise ApiError(401, f"login attempt to {server} failed: {exc}") from None
    return json_response({"Status": "Login Succeeded", "IdentityToken": ""})


def add_routes(r: Routes) -> None:
    """Register the system endpoints."""
    r.add("GET", "/_ping", ping)
    r.add("HEAD", "/_ping", ping)
    r.add("GET", "/version", version)
    r.add("GET", "/info", info)
    r.add("GET", "/system/df", df)
    r.add("POST", "/auth", auth)


__all__ = ["add_routes", "auth", "df", "info", "ping", "version"]
