"""``state``, ``start``, ``kill`` and ``delete`` in their common case, on the state files
with the standard library alone.

A shim (conmon, containerd-shim) runs each of these as its own process, several times per
container, so their cost is mostly Python's start and imports: the engine's
:class:`~pycontainers.runtime.container.Container` pulls in attrs, the spec and structlog
(~60 ms here) to read one JSON file. These functions read and write the same files the
engine does (``state.json`` of :mod:`pycontainers.runtime.state`, ``oci.json`` of
:mod:`pycontainers.ociruntime.store`) with the same rules, and answer only the plain case:
each returns False when it meets anything else (a monitored container, hooks to run, a
paused one, a container in the wrong state, a bad argument), and the caller then runs the
engine's command, which does the rest and words the errors. The unit tests compare both
paths on the same containers.

``_native/runtime_front.c`` does the same in C (with ``main._quick``'s command line), so that
a built install pays no Python start for these: a change here is a change there, and
``tests/integration/test_oci_runtime_front.py`` compares the two.
"""

from __future__ import annotations

import json
import os

from pycontainers._proc import proc_stat
from pycontainers._statedir import remove_state_dir

OCI_VERSION = "1.2.0"
""":data:`pycontainers.oci.config.OCI_VERSION` (a unit test keeps them equal)."""
_LIVE = ("created", "running", "paused")
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _load(root: str, container_id: str) -> tuple[str, dict[str, object], dict[str, object], str]:
    """State dir, ``state.json``, ``oci.json`` and the status as ``state`` reports it;
    raises LookupError for anything the plain case does not cover.
    """
    if not (
        0 < len(container_id) <= 128
        and container_id[0].isascii()
        and container_id[0].isalnum()
        and _ID_CHARS.issuperset(container_id)
    ):
        raise LookupError(container_id)
    state_dir = os.path.join(root, container_id)
    try:
        with open(os.path.join(state_dir, "oci.json"), "rb") as f:
            oci = json.loads(f.read())
        with open(os.path.join(state_dir, "state.json"), "rb") as f:
            state = json.loads(f.read())
        pid, starttime, status = int(state["pid"]), int(state["starttime"]), str(state["status"])
    except (OSError, ValueError, KeyError, TypeError):
        raise LookupError(container_id) from None
    if not isinstance(oci, dict) or state.get("monitored") or state.get("id") != container_id:
        raise LookupError(container_id)
    if status in _LIVE:
        stat = proc_stat(pid) if pid > 0 else None
        # Container.load + Attached.refresh: a live status holds while its process (pid
        # and start time) runs and is no zombie
        if stat is None or stat[0] in (b"Z", b"X") or stat[1] != starttime:
            status = "stopped"
    elif status != "creating":
        status = "stopped"
    return state_dir, state, oci, status


def _rfc3339(t: float) -> str:
    import datetime as dt

    return (
        dt.datetime.fromtimestamp(t, dt.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def state_document(root: str, container_id: str) -> dict[str, object]:
    """The runtime-spec state, as :func:`pycontainers.ociruntime.store.state_doc` makes it
    (LookupError: not the plain case).
    """
    _, state, oci, status = _load(root, container_id)
    return {
        "ociVersion": OCI_VERSION,
        "id": container_id,
        "status": status,
        "pid": state["pid"] if status in ("creating", *_LIVE) else 0,
        "bundle": oci.get("bundle", ""),
        "rootfs": state.get("rootfs", ""),
        "created": _rfc3339(float(state["created"])),  # type: ignore[arg-type]
        "owner": "",
        "annotations": oci.get("annotations", {}),
    }


def state(root: str, container_id: str) -> bool:
    """Print the runtime-spec state; False if it is not the plain case."""
    try:
        doc = state_document(root, container_id)
    except LookupError:
        return False
    print(json.dumps(doc, indent=2))
    return True


def _hooks(oci: dict[str, object], kind: str) -> bool:
    hooks = oci.get("hooks")
    return isinstance(hooks, dict) and bool(hooks.get(kind))


def start(root: str, container_id: str) -> bool:
    """Release a created container (its start fifo) and record it running, as
    :func:`pycontainers.runtime.start.start` does from a process other than the creator;
    False if it is not the plain case (not created, poststart hooks).
    """
    import fcntl
    import time

    try:
        state_dir, _, oci, status = _load(root, container_id)
    except LookupError:
        return False
    if status != "created" or _hooks(oci, "poststart"):
        return False
    fifo = os.path.join(state_dir, "start.fifo")
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False  # the engine words it
    try:
        os.write(fd, b"1")
    finally:
        os.close(fd)
    os.unlink(fifo)
    started = time.time()
    lock = os.open(os.path.join(state_dir, "lock"), os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = os.path.join(state_dir, "state.json")
        try:
            with open(path, "rb") as f:
                doc = json.loads(f.read())
        except FileNotFoundError:  # removed meanwhile: it stays removed
            return True
        pid = int(doc["pid"])
        me = os.getpid()
        stat, mine = proc_stat(pid), proc_stat(me)
        doc.update(status="running", started=started, creator=me,
                   creator_start=mine[1] if mine else 0, starttime=stat[1] if stat else 0)  # fmt: skip
        tmp = f"{path}.{me}.tmp"
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(out, json.dumps(doc).encode())
        finally:
            os.close(out)
        os.rename(tmp, path)
    finally:
        os.close(lock)
    return True


def signal_number(name: str) -> int | None:
    """A signal by number, name or SIG-name as :func:`pycontainers.spec.signal_number`
    reads it; None if it is not one (the engine then words the error).
    """
    import signal

    if name.isdigit():
        number = int(name)
        return number if 0 < number < signal.NSIG else None
    upper = name.upper()
    try:
        return int(signal.Signals[upper if upper.startswith("SIG") else "SIG" + upper])
    except KeyError:
        return None


def kill(root: str, container_id: str, sig_name: str) -> bool:
    """Signal the container's init through a pidfd; False if it is not the plain case (a
    bad signal, a container not running).
    """
    import signal

    sig = signal_number(sig_name)
    if sig is None:
        return False
    try:
        _, state, _, status = _load(root, container_id)
    except LookupError:
        return False
    if status not in _LIVE:
        return False
    try:
        pidfd = os.pidfd_open(int(state["pid"]))  # type: ignore[call-overload]
    except OSError:
        return False
    try:
        _, starttime = proc_stat(int(state["pid"])) or (b"", 0)  # type: ignore[call-overload]
        if starttime != state["starttime"]:  # the pid was reused before the pidfd was taken
            return False
        try:
            signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:  # exited meanwhile: the signal has nothing to do
            pass
    finally:
        os.close(pidfd)
    return True


def delete(root: str, container_id: str) -> bool:
    """Delete a stopped or created container: kill a created one's process, remove its
    cgroup (and its parent once unused) and its state directory, as the engine's delete
    does; False if it is not the plain case (running or paused, poststop hooks).
    """
    import select
    import signal

    try:
        state_dir, state, oci, status = _load(root, container_id)
    except LookupError:
        return False
    if status not in ("created", "stopped") or _hooks(oci, "poststop"):
        return False
    if status == "created":
        try:
            pidfd = os.pidfd_open(int(state["pid"]))  # type: ignore[call-overload]
        except OSError:
            pidfd = -1
        if pidfd >= 0:
            try:
                _, starttime = proc_stat(int(state["pid"])) or (b"", 0)  # type: ignore[call-overload]
                if starttime == state["starttime"]:
                    try:
                        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    poll = select.poll()
                    poll.register(pidfd, select.POLLIN)
                    poll.poll(10_000)
            finally:
                os.close(pidfd)
    cgroup = str(state.get("cgroup") or "")
    if cgroup:
        dirs = oci.get("cgroup_dirs")
        if not isinstance(dirs, list) or not _empty_groups(dirs):
            return False  # the engine's cgroup code kills and removes what is there
        _remove_groups(dirs, parent="/" in cgroup.strip("/"))
    remove_state_dir(state_dir)
    return True


def _empty_groups(dirs: list[str]) -> bool:
    """Whether each of the container's cgroup directories (one per hierarchy, stored by
    ``create``) holds no process and no child group, so rmdir removes it.
    """
    for directory in dirs:
        try:
            with open(os.path.join(directory, "cgroup.procs"), "rb") as f:
                if f.read().strip():
                    return False
            with os.scandir(directory) as entries:
                if any(e.is_dir(follow_symlinks=False) for e in entries):
                    return False
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True


def _remove_groups(dirs: list[str], *, parent: bool) -> None:
    """Remove the (empty) groups, then their parent groups where no other container uses
    them, as :func:`pycontainers.runtime.launch.drop_cgroup` does.
    """
    import errno

    left = []
    for directory in dirs:
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass
        except OSError as exc:
            left.append(f"{directory} ({exc.strerror})")
    if left:
        from pycontainers.errors import OciRuntimeError

        raise OciRuntimeError(f"cannot remove the container's cgroup: {', '.join(left)}")
    for directory in dirs if parent else ():
        try:
            os.rmdir(os.path.dirname(directory))
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.EBUSY, errno.ENOTEMPTY):
                raise


__all__ = ["OCI_VERSION", "delete", "kill", "signal_number", "start", "state", "state_document"]
