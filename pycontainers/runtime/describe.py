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
            "OOMKilled": _oom_killed(c, done),
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
    return out


def _oom_killed(c: Container, done: dict[str, Any] | None) -> bool:
    """What the monitor recorded at the exit (it removes the cgroup), else the cgroup's
    counter; False when the cgroup is gone (released or being removed meanwhile).
    """
    from pycontainers.cgroups import CgroupError

    if done is not None and isinstance(done.get("oom_killed"), bool):
        return bool(done["oom_killed"])
    try:
        return c.oom_killed
    except CgroupError:
        return False


def _config(c: Container) -> dict[str, Any]:
    """Env, tty, working dir, user and mounts from the spec (in memory or saved)."""
    spec, tty = c.spec, False
    if c.detached:
        from pycontainers.runtime.specfile import load_spec

        try:
            saved, options = load_spec(c.state_dir)
        except ContainerError:
            saved, options = None, {}
        spec = spec or saved
        detach = options.get("detach")
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
        "Mounts": [
            {"Type": m.type, "Source": m.source or "", "Destination": m.target,
             "RW": not m.read_only}
            for m in spec.mounts
        ],
    }  # fmt: skip


def _docker_status(status: str) -> str:
    return {"stopped": "exited", "deleted": "removing"}.get(status, status)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _network(c: Container) -> dict[str, Any]:
    from pycontainers.network.endpoint import Endpoints

    path = os.path.join(os.path.dirname(c.state_dir), "network", "endpoints", f"{c.id}.json")
    if not os.path.exists(path):
        return {}
    try:
        ep = Endpoints(os.path.dirname(c.state_dir)).load(c.id)
    except PyContainersError:  # unreadable while its exit hook gives it back: no network
        ep = None
    if ep is None:
        return {}
    return {
        "Networks": {ep.network: {"IPAddress": str(ep.address.ip), "Gateway": str(ep.gateway)}},
        "Ports": {
            f"{p.container_port}/{p.protocol}": [
                {"HostIp": p.host_ip, "HostPort": str(p.host_port)}
            ]
            for p in ep.ports
        },
    }


__all__ = ["describe"]
