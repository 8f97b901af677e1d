"""The ``inspect`` operation: a Docker-like document describing a container."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from pycontainers.errors import ContainerError, PyContainersError
from pycontainers.runtime.detach import read_exit, read_health

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container


def describe(c: Container, *, config: bool = True) -> dict[str, Any]:
    """A Docker-like ``inspect`` document of the container; without ``config`` the spec
    is not read (no Env, Tty, WorkingDir, User, Hostname or Mounts: what ``ps`` needs).
    """
    status = c.status
    r = c.record
    done = read_exit(c.state_dir) if r.detached else None
    out: dict[str, Any] = {
        "Id": c.id,
        "Name": r.name,
        "Created": _iso(r.created),
        "Path": r.args[0] if r.args else "",
        "Args": list(r.args[1:]),
        "State": {
            "Status": _docker_status(status),
            "Running": status == "running",
            "Paused": status == "paused",
            "Pid": c.pid if status in ("running", "paused") else 0,
            "ExitCode": r.returncode if r.returncode is not None else 0,
            "StartedAt": _iso(r.started) if r.started else "",
            "FinishedAt": done["finished_at"] if done else "",
            "OOMKilled": status not in ("running", "paused") and _oom_killed(c, done),
        },
        "Image": r.image,
        "RestartCount": r.restart_count,
        "Detached": r.detached,
        "Config": {"Labels": dict(r.labels), "Cmd": list(r.args), "Rootfs": r.rootfs},
        "NetworkSettings": _network(c),
    }
    health = read_health(c.state_dir) if r.detached else None
    if health is not None:
        out["State"]["Health"] = {
            "Status": health.get("status", ""),
            "FailingStreak": health.get("failing_streak", 0),
            "Log": [
                {"Start": e.get("start"), "End": e.get("end"), "ExitCode": e.get("exit_code"),
                 "Output": e.get("output", "")}
                for e in health.get("log", [])
            ],
        }  # fmt: skip
    if config:
        out["Config"].update(_config(c))
        spec, detach = _stored(c)
        if spec is not None:
            out["HostConfig"] = _host_config(spec, detach)
            out["Mounts"] = [_mount(m) for m in spec.mounts]
            if r.detached:
                _configured(out["NetworkSettings"], c, spec)
    return out


def _configured(settings: dict[str, Any], c: Container, spec: Any) -> None:
    """Add the networks ``c`` joins at its next start but holds no endpoint on now (it is
    stopped, or was connected while stopped) to ``settings["Networks"]``, without an
    address, as Docker shows them: the stored spec's network first, then the others.
    """
    from pycontainers.network import extras

    try:
        further = extras.load(c.state_dir)
    except PyContainersError:
        further = []
    wanted = [*((spec.network,) if spec.network is not None else ()), *further]
    have = settings["Networks"]
    missing = {
        n.network: {"IPAddress": "", "IPPrefixLen": 0, "Gateway": "", "MacAddress": "",
                    "NetworkID": n.network, "Aliases": list(n.aliases)}
        for n in wanted if n.network not in have
    }  # fmt: skip
    if missing:
        settings["Networks"] = {**have, **missing}


def _oom_killed(c: Container, done: dict[str, Any] | None) -> bool:
    """What the monitor recorded at the exit (it removes the cgroup), else the cgroup's
    counter; False when the cgroup is gone (released or being removed meanwhile). Like
    Docker's, it is known once the container stopped: a running one is not asked.
    """
    from pycontainers.cgroups import CgroupError

    if done is not None and isinstance(done.get("oom_killed"), bool):
        return bool(done["oom_killed"])
    try:
        return c.oom_killed
    except CgroupError:
        return False


def _stored(c: Container) -> tuple[Any, Any]:
    """(spec, detach options) of ``c``: from its sealed config.json when it is detached (the
    one truth: a network connect or update changes it behind this object), else in memory.
    """
    spec, detach = c.spec, None
    if c.detached:
        from pycontainers.runtime.specfile import load_spec

        try:
            saved, options = load_spec(c.state_dir)
        except ContainerError:
            saved, options = None, {}
        spec = saved if saved is not None else spec
        detach = options.get("detach")
    return spec, detach


def _config(c: Container) -> dict[str, Any]:
    """Env, tty, working dir, user and mounts from the spec (in memory or saved)."""
    spec, detach = _stored(c)
    tty = bool(getattr(detach, "tty", False))
    if spec is None:
        return {}
    proc = spec.process
    return {
        "Env": [f"{k}={v}" for k, v in proc.env],
        "Tty": tty,
        "WorkingDir": proc.cwd,
        "User": str(proc.user) if proc.user is not None else "",
        "Hostname": spec.hostname or "",
        **_stop_timeout(detach),
        "Mounts": [
            {"Type": m.type, "Source": m.source or "", "Destination": m.target,
             "RW": not m.read_only}
            for m in spec.mounts
        ],
    }  # fmt: skip


def _stop_timeout(detach: Any) -> dict[str, Any]:
    timeout = getattr(detach, "stop_timeout", None)
    return {} if timeout is None else {"StopTimeout": timeout}


def _docker_status(status: str) -> str:
    return {"stopped": "exited", "deleted": "removing"}.get(status, status)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def published_ports(c: Container) -> dict[str, list[tuple[str, int]]]:
    """``c``'s published ports, ``{"80/tcp": [(host_ip, host_port)]}``."""
    ports: dict[str, list[dict[str, str]]] = _network(c)["Ports"]
    return {
        key: [(b["HostIp"] or "0.0.0.0", int(b["HostPort"])) for b in bindings]
        for key, bindings in ports.items()
    }


_NO_NETWORK: dict[str, Any] = {
    "IPAddress": "", "IPPrefixLen": 0, "Gateway": "", "MacAddress": "", "Networks": {},
    "Ports": {},
}  # fmt: skip


def _network(c: Container) -> dict[str, Any]:
    """Docker's ``NetworkSettings``: the address on the container's network (also at the top
    level, as Docker has it for the default network), the published ports, and every
    network it was connected to besides (also when it left the one it was created with).
    """
    endpoints = os.path.join(os.path.dirname(c.state_dir), "network", "endpoints")
    if not os.path.exists(os.path.join(endpoints, f"{c.id}.json")) and not _has_extra(
        endpoints, c.id
    ):
        return dict(_NO_NETWORK)  # (ps asks this of every container: no scan of all records)
    from pycontainers.network.attach import endpoints_of

    try:
        found = endpoints_of(c.id, os.path.dirname(c.state_dir))
    except PyContainersError:  # unreadable while its exit hook gives it back: no network
        found = []
    networks: dict[str, Any] = {}
    for ep in found:
        networks[ep.network] = {
            "IPAddress": str(ep.address.ip),
            "IPPrefixLen": ep.address.network.prefixlen,
            "Gateway": str(ep.gateway),
            "MacAddress": "",
            "NetworkID": ep.network,
            "Aliases": list(ep.names),
        }
    first = found[0] if found and not found[0].container else None  # the one it was created with
    if first is None:
        return {**_NO_NETWORK, "Networks": networks}
    return {
        "IPAddress": str(first.address.ip),
        "IPPrefixLen": first.address.network.prefixlen,
        "Gateway": str(first.gateway),
        "MacAddress": "",
        "Networks": networks,
        "Ports": {
            f"{p.container_port}/{p.protocol}": [
                {"HostIp": p.host_ip, "HostPort": str(p.host_port)}
            ]
            for p in first.ports
        },
    }


def _has_extra(endpoints: str, container_id: str) -> bool:
    """Whether ``container_id`` has an endpoint added on another network (``<id>.<net>``)."""
    try:
        names = os.listdir(endpoints)
    except FileNotFoundError:
        return False
    return any(n.startswith(container_id + ".") and n.endswith(".json") for n in names)


def _restart(detach: Any) -> dict[str, Any]:
    policy = str(getattr(detach, "restart", "no") or "no")
    name, _, count = policy.partition(":")
    return {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}


def _host_config(spec: Any, detach: Any) -> dict[str, Any]:
    """Docker's ``HostConfig`` fields the spec decides (limits, security, network, policy)."""
    res = spec.resources
    sec = spec.security
    net = spec.network
    if net is not None:
        mode = net.network
    elif spec.netns is not None:
        mode = f"ns:{spec.netns}"
    else:
        mode = "none" if "net" in spec.namespaces else "host"
    from pycontainers.cgroups._dockerapi import to_host_config

    return {
        "NetworkMode": mode,
        "PortBindings": {
            f"{p.container_port}/{p.protocol}": [
                {"HostIp": p.host_ip, "HostPort": str(p.host_port) if p.host_port else ""}
            ]
            for p in (net.ports if net is not None else ())
        },
        "Binds": [
            f"{m.source}:{m.target}{':ro' if m.read_only else ''}"
            for m in spec.mounts
            if m.type in ("bind", "volume") and m.source
        ],
        "Dns": [str(d) for d in net.dns] if net is not None else [],
        "DnsSearch": list(net.dns_search) if net is not None else [],
        "DnsOptions": list(net.dns_options) if net is not None else [],
        "GroupAdd": [str(g) for g in getattr(spec.process.user, "additional_gids", ())],
        "Sysctls": dict(spec.sysctls),
        "Devices": [
            {"PathOnHost": d.host_path, "PathInContainer": d.path, "CgroupPermissions": d.perms}
            for d in getattr(spec, "devices", ())
        ],
        "OomScoreAdj": getattr(detach, "oom_score_adj", None) or 0,
        "LogConfig": {"Type": getattr(detach, "log_driver", "json-file"), "Config": {}},
        "ExtraHosts": [f"{h}:{a}" for h, a in net.extra_hosts] if net is not None else [],
        **to_host_config(res),
        "CgroupParent": spec.cgroup_parent,
        "CapAdd": [c.removeprefix("CAP_") for c in sec.cap_add],  # as Docker spells them
        "CapDrop": [c.removeprefix("CAP_") for c in sec.cap_drop],
        "Privileged": sec.privileged,
        "SecurityOpt": []
        if sec.seccomp == "default"
        else ["seccomp=unconfined"]
        if sec.seccomp is None
        else ["seccomp=custom"],
        "ReadonlyRootfs": spec.readonly_rootfs,
        "Init": spec.init,
        "RestartPolicy": _restart(detach),
        "AutoRemove": bool(getattr(detach, "auto_remove", False)),
        "UsernsMode": "private" if "user" in spec.namespaces else "",
        "Ulimits": [
            {"Name": n, "Soft": soft, "Hard": hard} for n, soft, hard in spec.process.rlimits
        ],
    }


def _mount(m: Any) -> dict[str, Any]:
    """One entry of Docker's top-level ``Mounts``."""
    out: dict[str, Any] = {
        "Type": m.type,
        "Source": m.source or "",
        "Destination": m.target,
        "Mode": "ro" if m.read_only else "",
        "RW": not m.read_only,
        "Propagation": "rprivate" if m.type in ("bind", "volume") else "",
    }
    if m.type == "volume":
        out["Name"] = os.path.basename(m.source or "")
        out["Driver"] = "local"
    return out


__all__ = ["describe", "published_ports"]
