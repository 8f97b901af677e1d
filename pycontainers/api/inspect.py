"""Containers as Docker describes them: the summaries of ``GET /containers/json`` and the
document of ``GET /containers/{id}/json`` (State, Config, HostConfig, NetworkSettings,
Mounts), built from the library's :func:`~pycontainers.runtime.describe.describe` and, for
containers this daemon created, the create request it kept beside the container's state.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

CREATE_FILE = "api-create.json"
"""The create request, kept in the container's state directory (removed with it)."""

_ZERO_TIME = "0001-01-01T00:00:00Z"


def save_request(c: Container, body: dict[str, Any]) -> None:
    """Keep the create request ``body`` beside ``c``'s state (for inspect)."""
    path = os.path.join(c.state_dir, CREATE_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(body, f)
    os.rename(tmp, path)


def saved_request(c: Container) -> dict[str, Any]:
    """The create request kept for ``c`` ({} for a container the CLI or library made)."""
    try:
        with open(os.path.join(c.state_dir, CREATE_FILE)) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


class ImageIds:
    """Image references to image ids, looked up once per request."""

    def __init__(self, data_root: str | None) -> None:
        self._data_root = data_root
        self._ids: dict[str, str] = {}

    def __call__(self, ref: str) -> str:
        """The id of the image ``ref`` names ("" if none)."""
        if ref not in self._ids:
            from pycontainers.errors import PyContainersError
            from pycontainers.images import default_store

            try:
                self._ids[ref] = str(default_store(self._data_root).get(ref).id)
            except (PyContainersError, ValueError, OSError):
                self._ids[ref] = ""
        return self._ids[ref]


def _ports(info: dict[str, Any], exposed: dict[str, Any]) -> dict[str, Any]:
    ports: dict[str, Any] = {k if "/" in k else f"{k}/tcp": None for k in exposed}
    for key, bindings in (info.get("NetworkSettings") or {}).get("Ports", {}).items():
        ports[key] = [
            {"HostIp": b["HostIp"] or "0.0.0.0", "HostPort": str(b["HostPort"])} for b in bindings
        ]
    return ports


def _networks(c: Container, info: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    endpoints = (saved.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    settings = info.get("NetworkSettings") or {}
    main_ip = settings.get("IPAddress")  # "" once it left the network it was created with
    out: dict[str, Any] = {}
    for name, net in settings.get("Networks", {}).items():
        # the names it has there (connected later, or again after it left the first one)
        aliases = [a for a in net.get("Aliases") or [] if a not in (c.name, c.id[:12])]
        main = not out and main_ip and net.get("IPAddress") == main_ip
        if name in endpoints or (main and not aliases):  # as the create request asked
            ep = endpoints.get(name) or next(iter(endpoints.values()), None) or {}
            aliases = list(ep.get("Aliases") or []) if isinstance(ep, dict) else []
        out[name] = {
            "IPAMConfig": None,
            "Links": None,
            "Aliases": aliases or None,
            "MacAddress": "",
            "NetworkID": name,
            "EndpointID": c.id,
            "Gateway": net.get("Gateway", ""),
            "IPAddress": net.get("IPAddress", ""),
            "IPPrefixLen": net.get("IPPrefixLen", 24) if net.get("IPAddress") else 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DriverOpts": None,
            "DNSNames": [n for n in (c.name, c.id[:12], *aliases) if n],
        }
    return out


def _network_mode(saved: dict[str, Any], info: dict[str, Any]) -> str:
    mode = (saved.get("HostConfig") or {}).get("NetworkMode")
    if mode:
        return str(mode)
    nets = list((info.get("NetworkSettings") or {}).get("Networks", {}))
    return nets[0] if nets else "none"


def _mounts(info: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for m in info["Config"].get("Mounts", []):
        kind = m.get("Type") or "bind"
        if kind in ("proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"):
            continue
        out.append(
            {
                "Type": "bind" if kind in ("bind", "none") else kind,
                "Source": m.get("Source", ""),
                "Destination": m.get("Destination", ""),
                "Mode": "",
                "RW": m.get("RW", True),
                "Propagation": "rprivate",
            }
        )
    return out


def container_inspect(c: Container, data_root: str | None) -> dict[str, Any]:
    """``GET /containers/{id}/json``: Docker's document for ``c``."""
    from pycontainers.cgroups._dockerapi import KEYS
    from pycontainers.runtime.describe import describe

    info = describe(c)
    saved = saved_request(c)
    state = dict(info["State"])
    state.setdefault("Restarting", False)
    state.setdefault("Dead", False)
    state.setdefault("Error", "")
    state["StartedAt"] = state.get("StartedAt") or _ZERO_TIME
    state["FinishedAt"] = state.get("FinishedAt") or _ZERO_TIME
    cfg = info["Config"]
    exposed = dict(saved.get("ExposedPorts") or {})
    host = dict(saved.get("HostConfig") or {})
    stored = info.get("HostConfig") or {}  # the stored spec's: an update changes the limits
    host.update({key: stored[key] for key in KEYS.values() if key in stored})
    host.setdefault("NetworkMode", _network_mode(saved, info))
    live = (info.get("HostConfig") or {}).get("RestartPolicy")  # update may have changed it
    host["RestartPolicy"] = (
        live or host.get("RestartPolicy") or {"Name": "no", "MaximumRetryCount": 0}
    )
    host.setdefault("LogConfig", {"Type": "json-file", "Config": {}})
    host.setdefault("PortBindings", {})
    host.setdefault("Binds", None)
    host.setdefault("AutoRemove", False)
    host.setdefault("Privileged", False)
    host.setdefault("Runtime", "pycontainers")
    image_ref = saved.get("Image") or info["Image"] or cfg.get("Rootfs", "")
    networks = _networks(c, info, saved)
    first: dict[str, Any] = next(iter(networks.values()), {})
    return {
        "Id": c.id,
        "Created": info["Created"],
        "Path": info["Path"],
        "Args": info["Args"],
        "State": state,
        "Image": ImageIds(data_root)(info["Image"]) if info["Image"] else "",
        "ResolvConfPath": os.path.join(c.state_dir, "resolv.conf"),
        "HostnamePath": os.path.join(c.state_dir, "hostname"),
        "HostsPath": os.path.join(c.state_dir, "hosts"),
        "LogPath": os.path.join(c.state_dir, "json.log"),
        "Name": "/" + c.name if c.name else "/" + c.id[:12],
        "RestartCount": info["RestartCount"],
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host,
        "GraphDriver": {"Name": "overlay2", "Data": None},
        "Mounts": _mounts(info),
        "Config": {
            "Hostname": cfg.get("Hostname") or c.id[:12],
            "Domainname": saved.get("Domainname", ""),
            "User": cfg.get("User", ""),
            "AttachStdin": bool(saved.get("AttachStdin", False)),
            "AttachStdout": bool(saved.get("AttachStdout", False)),
            "AttachStderr": bool(saved.get("AttachStderr", False)),
            "ExposedPorts": exposed or None,
            "Tty": bool(cfg.get("Tty", False)),
            "OpenStdin": bool(saved.get("OpenStdin", False)),
            "StdinOnce": bool(saved.get("StdinOnce", False)),
            "Env": cfg.get("Env", []),
            "Cmd": saved.get("Cmd") if saved else cfg.get("Cmd"),
            "Healthcheck": saved.get("Healthcheck"),
            "Image": image_ref,
            "Volumes": saved.get("Volumes"),
            "WorkingDir": cfg.get("WorkingDir", ""),
            "Entrypoint": saved.get("Entrypoint"),
            "OnBuild": None,
            "Labels": cfg.get("Labels", {}),
            "StopSignal": saved.get("StopSignal"),
        },
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": c.id,
            "SandboxKey": "",
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": _ports(info, exposed),
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            "EndpointID": c.id if networks else "",
            "Gateway": first.get("Gateway", ""),
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": first.get("IPAddress", ""),
            "IPPrefixLen": first.get("IPPrefixLen", 0),
            "IPv6Gateway": "",
            "MacAddress": "",
            "Networks": networks,
        },
    }


def _epoch(value: str) -> float:
    if not value or value.startswith("0001-"):
        return 0.0
    from pycontainers.runtime.logs import parse_time

    return parse_time(value).timestamp()


def status_text(state: dict[str, Any], now: float) -> str:
    """Docker's ``Status`` column: ``Up 3 minutes``, ``Exited (0) 2 seconds ago``..."""
    from pycontainers.cli.output import ago

    status = state["Status"]
    if status in ("running", "paused"):
        started = _epoch(state.get("StartedAt", "")) or now
        text = f"Up {ago(started, now)}"
        health = (state.get("Health") or {}).get("Status")
        if status == "paused":
            text += " (Paused)"
        elif health:
            text += f" (health: {health})" if health == "starting" else f" ({health})"
        return text
    if status == "exited":
        when = _epoch(state.get("FinishedAt", "")) or now
        return f"Exited ({state['ExitCode']}) {ago(when, now)} ago"
    return str(status).capitalize()


def container_summary(
    c: Container, data_root: str | None, ids: ImageIds | None = None
) -> dict[str, Any]:
    """One entry of ``GET /containers/json`` (the spec is not read: a list stays fast)."""
    from pycontainers.runtime.describe import describe

    info = describe(c, config=False)
    saved = saved_request(c)
    ids = ids or ImageIds(data_root)
    ports = []
    for key, bindings in sorted((info.get("NetworkSettings") or {}).get("Ports", {}).items()):
        number, _, proto = key.partition("/")
        for b in bindings:
            ports.append(
                {
                    "IP": b["HostIp"] or "0.0.0.0",
                    "PrivatePort": int(number),
                    "PublicPort": int(b["HostPort"]),
                    "Type": proto or "tcp",
                }
            )
    networks = _networks(c, info, saved)
    return {
        "Id": c.id,
        "Names": ["/" + (c.name or c.id[:12])],
        "Image": saved.get("Image") or info["Image"] or info["Config"].get("Rootfs", ""),
        "ImageID": ids(info["Image"]) if info["Image"] else "",
        "Command": shlex.join(info["Config"]["Cmd"]),
        "Created": int(_epoch(info["Created"])),
        "Ports": ports,
        "Labels": info["Config"]["Labels"],
        "State": info["State"]["Status"],
        "Status": status_text(info["State"], time.time()),
        "HostConfig": {"NetworkMode": _network_mode(saved, info)},
        "NetworkSettings": {"Networks": networks},
        "Mounts": [],
        "_info": info,
    }


def matches(summary: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Docker's container filters: id, name, label, status, ancestor, exited, health,
    network, before/since are not kept (every other key is a 400 by the caller). Values
    of one key are alternatives, except labels: all of those must match.
    """
    info = summary["_info"]
    for key, values in filters.items():
        if key == "label":  # as Docker: every label filter must match (compose counts on it)
            labels = summary["Labels"]
            if not all(_has_label(labels, v) for v in values):
                return False
            continue
        ok = False
        for v in values:
            if key == "id":
                ok = summary["Id"].startswith(v)
            elif key == "name":
                ok = v.lstrip("/") in summary["Names"][0]
            elif key == "status":
                ok = summary["State"] == v
            elif key == "ancestor":
                ok = v in (summary["Image"], info["Image"], summary["ImageID"])
            elif key == "exited":
                ok = summary["State"] == "exited" and str(info["State"]["ExitCode"]) == v
            elif key == "health":
                ok = ((info["State"].get("Health") or {}).get("Status") or "none") == v
            elif key == "network":
                ok = v in summary["NetworkSettings"]["Networks"]
            if ok:
                break
        if not ok:
            return False
    return True


def _has_label(labels: dict[str, str], want: str) -> bool:
    """Whether ``labels`` has the label ``key`` or ``key=value`` ``want``."""
    k, sep, val = want.partition("=")
    return k in labels and (not sep or labels[k] == val)


FILTER_KEYS = frozenset(
    ("id", "name", "label", "status", "ancestor", "exited", "health", "network")
)


__all__ = [
    "CREATE_FILE",
    "FILTER_KEYS",
    "ImageIds",
    "container_inspect",
    "container_summary",
    "matches",
    "save_request",
    "saved_request",
    "status_text",
]
