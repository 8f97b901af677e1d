"""What any process does with a detached container through its monitor's files: wait for
the exit status, wait for the monitor to finish, start it again, restart and clean up.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING, Any

from pycontainers import _log
from pycontainers.errors import ContainerError
from pycontainers.runtime import state as st
from pycontainers.runtime.detach import read_exit
from pycontainers.runtime.lifecycle import Status
from pycontainers.runtime.stdio import wait_readable

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

log = _log.get_logger("pycontainers.runtime")


def wait(c: Container, timeout: float | None) -> int:
    """Wait until the current run of ``c`` has exited and its monitor recorded the status."""
    deadline = None if timeout is None else time.monotonic() + timeout
    if c.returncode is not None and c._status == "stopped":
        return c.returncode
    if c._pidfd is not None and not wait_readable(c._pidfd, timeout):
        raise TimeoutError(f"container {c.id[:12]} still running after {timeout} s")
    while True:  # the monitor drains the output (up to 2 s) before it writes the file
        done = read_exit(c.state_dir)
        if done is not None and done.get("restart_count", 0) >= c._restart_count:
            c.returncode = int(done["exit_code"])
            c._status = Status.STOPPED
            return c.returncode
        if not monitor_alive(c):
            raise ContainerError(
                f"container {c.id[:12]} exited but its monitor recorded no status "
                "(was the monitor killed?)"
            )
        if deadline is not None and time.monotonic() > deadline + 5:
            raise TimeoutError(f"no exit status for container {c.id[:12]} yet")
        time.sleep(0.01)


def monitor_alive(c: Container) -> bool:
    """Whether the monitor recorded in the state (or its hook, same pid) still runs."""
    try:
        s = st.read_state(c.state_dir)
    except ContainerError:
        return False
    return bool(s.monitor_pid) and st.proc_alive(s.monitor_pid, s.monitor_start)


def wait_monitor_gone(c: Container, timeout: float = 15.0) -> None:
    """Wait for the monitor and the hook it became to finish. A restart hook that was
    already past its check of the stop mark has started a new run by then: that run is
    killed and waited for too, until no monitor of this container is left.
    """
    import signal

    seen: set[tuple[int, int]] = set()
    for _ in range(5):
        try:
            s = st.read_state(c.state_dir)
        except ContainerError:
            return
        if (s.monitor_pid, s.monitor_start) in seen:
            return
        seen.add((s.monitor_pid, s.monitor_start))
        if len(seen) > 1 and st.proc_alive(s.pid, s.starttime):
            with contextlib.suppress(OSError):
                os.kill(s.pid, signal.SIGKILL)
        _wait_one_monitor(c, s, timeout)


def _wait_one_monitor(c: Container, s: st.State, timeout: float) -> None:
    from pycontainers import _sys

    if not s.monitor_pid or not st.proc_alive(s.monitor_pid, s.monitor_start):
        return
    if s.monitor_pid == os.getpid():  # we are its exit hook
        return
    try:
        fd = _sys.pidfd_open(s.monitor_pid)
    except OSError:
        return
    try:
        if not wait_readable(fd, timeout):
            log.warning("container.monitor_lingers", id=c.id, pid=s.monitor_pid)
    finally:
        os.close(fd)


def release_resources(c: Container) -> None:
    """Give back what a stopped container held: its network endpoint and its cgroup."""
    from pycontainers.network.endpoint import disconnect

    root = os.path.dirname(c.state_dir)
    with contextlib.suppress(FileNotFoundError):
        disconnect(c.id, root)
    if c._cgroup is not None:
        from pycontainers.runtime.launch import drop_cgroup

        parent = os.path.dirname(c._cgroup.path)
        with contextlib.suppress(Exception):
            drop_cgroup(c._cgroup, parent)
        c._cgroup = None


def start_again(c: Container, restart_count: int | None = None) -> None:
    """Run a stopped detached container again from its saved spec (same id, name, layer)."""
    import attrs

    from pycontainers.runtime.specfile import load_spec

    spec, options = load_spec(c.state_dir)
    detach = options["detach"]
    if restart_count is not None:
        detach = attrs.evolve(detach, restart_count=restart_count)
    wait_monitor_gone(c)  # the last run's monitor and exit hook are done with it
    for name in ("stopped", "exit.json", "health.json"):  # never read the last run's status
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(c.state_dir, name))
    release_resources(c)
    if c._pidfd is not None and c._launch is None:
        os.close(c._pidfd)
        c._pidfd = None
    c._name = options.get("name", "")
    c.returncode = None
    c._launch_it(spec, detach, (None, None, None), False)
    log.info("container.started", id=c.id, pid=c._pid, restart_count=detach.restart_count)


def describe(c: Container) -> dict[str, Any]:
    """A Docker-like ``inspect`` document of the container."""
    from pycontainers.runtime.detach import read_health

    status = c.status
    done = read_exit(c.state_dir) if c._monitored else None
    out: dict[str, Any] = {
        "Id": c.id,
        "Name": c._name,
        "Created": _iso(c._created),
        "Path": c._args[0] if c._args else "",
        "Args": list(c._args[1:]),
        "State": {
            "Status": _docker_status(status),
            "Running": status == "running",
            "Paused": status == "paused",
            "Pid": c.pid if status in ("running", "paused") else 0,
            "ExitCode": c.returncode if c.returncode is not None else 0,
            "StartedAt": _iso(c._started) if c._started else "",
            "FinishedAt": done["finished_at"] if done else "",
            "OOMKilled": _oom_killed(c),
        },
        "Image": c._image,
        "RestartCount": c._restart_count,
        "Detached": c._monitored,
        "Config": {"Labels": dict(c._labels), "Cmd": list(c._args), "Rootfs": c._rootfs},
        "NetworkSettings": _network(c),
    }
    health = read_health(c.state_dir) if c._monitored else None
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
    out["Config"].update(_config(c))
    return out


def _oom_killed(c: Container) -> bool:
    """For inspect: False when the cgroup is gone (released or being removed meanwhile)."""
    from pycontainers.cgroups import CgroupError

    try:
        return c.oom_killed
    except CgroupError:
        return False


def _config(c: Container) -> dict[str, Any]:
    """Env, tty, working dir, user and mounts from the spec (in memory or saved)."""
    spec, tty = c.spec, False
    if c._monitored:
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
    ep = Endpoints(os.path.dirname(c.state_dir)).load(c.id)
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


def stop_signal(c: Container) -> int:
    """The signal that stops ``c`` first: its spec's (from the image) or SIGTERM."""
    import signal

    from pycontainers.spec import signal_number

    spec = c.spec
    if spec is None and c._monitored:
        from pycontainers.runtime.specfile import load_spec

        with contextlib.suppress(ContainerError):
            spec = load_spec(c.state_dir)[0]
    name = getattr(spec, "stop_signal", "") if spec is not None else ""
    return signal_number(name, "stop_signal") if name else int(signal.SIGTERM)


def stop(c: Container, timeout: float, sig: int | None) -> None:
    """See :meth:`Container.stop`."""
    import signal

    from pycontainers.runtime.container import _exited

    if sig is None:
        sig = stop_signal(c)
    if c._monitored:
        open(os.path.join(c.state_dir, "stopped"), "w").close()
    if c.status == "paused" and c._cgroup is not None:
        c._cgroup.thaw()
        c._status = Status.RUNNING
    if c._pidfd is None or _exited(c._pidfd):
        return
    c.kill(sig)
    if not wait_readable(c._pidfd, timeout):
        c.kill(signal.SIGKILL)
        wait_readable(c._pidfd, 10.0)
    if c._monitored or c._launch is not None:
        c.wait(timeout=30)
    else:
        c._status = Status.STOPPED
    log.info("container.stopped", id=c.id)


__all__ = [
    "describe",
    "monitor_alive",
    "release_resources",
    "start_again",
    "stop",
    "wait",
    "wait_monitor_gone",
]
