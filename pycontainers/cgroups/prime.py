"""Take the cgroup-migration grace period off a container start's critical path.

The kernel behaviour this relies on (Linux 4.x to 6.x): moving a process between cgroups (a
write to any hierarchy's ``cgroup.procs``, v1 or v2) takes the global percpu rwsem
``cgroup_threadgroup_rwsem`` for writing. ``percpu_down_write`` starts with
``rcu_sync_enter``, which waits for a whole RCU grace period (7-18 ms on a small VM) when the
rwsem's rcu_sync is idle, and returns at once while it is still active: from the first
writer until about one grace period after the last one left. So the container child's first
``cgroup.procs`` write pays a grace period unless some write happened just before. (A write
of a pid that does not exist fails before taking the rwsem: only a real migration primes it.
A cgroup mount with ``favordynmods`` keeps rcu_sync active for good: nothing to gain there.
``CLONE_INTO_CGROUP`` joins a cgroup2 group without the write lock, so a host with only
cgroup2 needs no priming either.)

:func:`prime` starts a thread that writes ``0`` (the writer's own process) to the
``cgroup.procs`` of the group this process is in already — a migration to where it is,
which moves nothing — at once and then every :data:`INTERVAL` seconds, until :func:`stop`
or a bound, so that the grace period passes while the start does its other work and the
child's joins find the rwsem active. The group is taken from ``/proc/self/cgroup`` and used
only if its ``cgroup.procs`` lists this process (so a cgroup namespace or a mount of a
subtree can never make the write move it). A writer waiting for the grace period holds
``cgroup_mutex`` (a cgroup mkdir waits behind it): call :func:`prime` as early as a start is
known, not just before the groups are made. Errors stop the thread quietly; not as a
non-root user. Off with ``PYCONTAINERS_CGROUP_PRIME=0``.
"""

from __future__ import annotations

import _thread
import os
import time

INTERVAL = 0.004
"""Seconds between writes: under a grace period, so the rwsem never goes idle in between."""

LONGEST = 1.0
"""A primer stops by itself this many seconds after the last :func:`prime`."""

WARM = 0.010
"""Seconds after a start's joins (:func:`stop`) during which the rwsem is surely still active
(it stays so about a grace period, 7 ms or more): :func:`prime` then starts nothing, so
back-to-back starts pay no thread."""


class _State:
    """The running primer: its deadline (monotonic) and the lock whose release stops it."""

    until = 0.0
    stop: _thread.LockType | None = None
    done: _thread.LockType | None = None  # held by the running thread until it has closed its fd
    joined = -1.0  # when the last start's joins were done (monotonic)


_lock = _thread.allocate_lock()
_state = _State()


def enabled() -> bool:
    """Whether :func:`prime` does anything here (root, and not turned off)."""
    return os.environ.get("PYCONTAINERS_CGROUP_PRIME") != "0" and os.geteuid() == 0


def prime(keep_for: float = LONGEST) -> bool:
    """Keep the cgroup migration rwsem active for up to ``keep_for`` seconds (or until
    :func:`stop`), from a background thread; extends a running primer. Returns whether one
    runs (False when disabled, or when a start of this process joined its groups less than
    :data:`WARM` ago). Never blocks the caller.
    """
    if not enabled():
        return False
    with _lock:
        if _state.stop is None and time.monotonic() - _state.joined < WARM:
            return False
        _state.until = max(_state.until, time.monotonic() + keep_for)
        if _state.stop is not None:
            return True
        stop_lock, done = _thread.allocate_lock(), _thread.allocate_lock()
        stop_lock.acquire()
        done.acquire()
        _state.stop, _state.done = stop_lock, done
    try:
        _thread.start_new_thread(_run, (stop_lock, done))
    except RuntimeError:  # no thread to be had: starting goes on without
        with _lock:
            _state.stop = _state.done = None
        return False
    return True


def stop() -> None:
    """A start's child has joined its groups: end the primer (if one runs; its file is closed
    when this returns) and note when. Its last write, if one is under way, finds the rwsem
    active (the child's joins just took it), so this waits a moment at most.
    """
    with _lock:
        stop_lock, done = _state.stop, _state.done
        _state.stop, _state.done, _state.until = None, None, 0.0
        _state.joined = time.monotonic()
    if stop_lock is not None and stop_lock.locked():
        stop_lock.release()
    if done is not None and done.acquire(timeout=LONGEST):
        done.release()


def running() -> bool:
    """Whether a primer of this process runs (started by :func:`prime`, not yet stopped)."""
    with _lock:
        return _state.stop is not None


def target() -> str | None:
    """The ``cgroup.procs`` this process may write ``0`` to without moving: the file of the
    group ``/proc/self/cgroup`` names, in the deepest such group of a hierarchy mounted at its
    root, whose file lists this process. None when there is none, or nothing to gain (a
    ``favordynmods`` mount, or cgroup2 alone).
    """
    unified: str | None = None
    v1: list[tuple[set[str], str]] = []  # (a hierarchy's super options, its mountpoint)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3].split(",")
            if fstype not in ("cgroup", "cgroup2"):
                continue
            if "favordynmods" in options or "favordynmods" in fields[5].split(","):
                return None
            if fields[3] != "/":  # a subtree: /proc/self/cgroup's paths are not below it
                continue
            point = fields[4].replace("\\040", " ")
            if fstype == "cgroup2":
                unified = unified or point
            else:
                v1.append((set(options), point))
    if not v1:
        return None
    candidates = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            ident, controllers, path = line.rstrip("\n").split(":", 2)
            if ident == "0" and not controllers:
                mountpoint = unified
            else:
                wanted = set(controllers.split(","))
                mountpoint = next((p for options, p in v1 if wanted <= options), None)
            if mountpoint is not None and path.startswith("/"):
                procs = mountpoint + path.rstrip("/") + "/cgroup.procs"
                candidates.append((-path.count("/"), procs))
    me = str(os.getpid())
    for _, procs in sorted(candidates):
        try:
            with open(procs) as f:
                if me in f.read().split():
                    return procs
        except OSError:
            continue
    return None


def _run(stop: _thread.LockType, done: _thread.LockType) -> None:
    fd = -1
    try:
        procs = target()
        if procs is None:
            return
        fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
        while True:
            os.write(fd, b"0")
            left = _state.until - time.monotonic()
            if left <= 0 or stop.acquire(timeout=min(INTERVAL, left)):
                return
    except (OSError, ValueError):
        return
    finally:
        if fd >= 0:
            os.close(fd)
        with _lock:
            if _state.stop is stop:
                _state.stop = _state.done = None
        done.release()
