"""Container state on disk: one directory per container under the state root.

``<root>/<id>/state.json`` is written atomically (temp file, rename) under an flock
of ``<root>/<id>/lock``, so a crash leaves the old or the new state and two processes can
share one root. A truncated or corrupt state file is detected and reported, never half-used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from pycontainers._proc import proc_alive as proc_alive  # re-export
from pycontainers._proc import proc_starttime as proc_starttime  # re-export
from pycontainers._statedir import locked as locked  # re-export
from pycontainers._statedir import remove_state_dir as remove_state_dir  # re-export
from pycontainers.errors import ContainerError
from pycontainers.paths import default_state_root as default_state_root  # re-export

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_NAME = _ID  # the same rule (compiled once)


def check_id(container_id: str) -> str:
    """Raise unless ``container_id`` is a safe directory name."""
    if not isinstance(container_id, str) or not _ID.match(container_id):
        raise ContainerError(
            f"invalid container id {container_id!r}: use letters, digits, '_', '.', '-'"
        )
    return container_id


def ensure_dir(path: str) -> str:
    """Create ``path`` (and parents) root-owned 0700 if missing; return it."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


class State(NamedTuple):
    """What any process needs to find and drive a container.

    A typed tuple, not an attrs class (cheaper to define in a short process); a changed copy
    is :meth:`changed`'s.
    """

    id: str
    pid: int
    starttime: int
    status: str
    created: float
    rootfs: str
    args: tuple[str, ...]
    creator: int
    creator_start: int = 0
    cgroup: str = ""
    image: str = ""
    name: str = ""
    monitored: bool = False
    """A detached container: its monitor records the exit status and enforces restarts."""
    monitor_pid: int = 0
    monitor_start: int = 0
    started: float = 0.0
    labels: dict[str, str] = {}  # noqa: RUF012 (shared by the defaults: never changed in place)
    restart_count: int = 0

    def changed(self, **fields: Any) -> State:
        """A copy with ``fields`` changed (``state.changed(name="web")``)."""
        return self._replace(**fields)

    def to_json(self) -> str:
        """Serialize."""
        return json.dumps({**self._asdict(), "args": list(self.args), "version": 1})

    @classmethod
    def from_json(cls, text: str, path: str) -> State:
        """Parse, rejecting anything truncated or malformed."""
        try:
            raw: Any = json.loads(text)
            return cls(
                id=str(raw["id"]),
                pid=int(raw["pid"]),
                starttime=int(raw["starttime"]),
                status=str(raw["status"]),
                created=float(raw["created"]),
                rootfs=str(raw["rootfs"]),
                args=tuple(str(a) for a in raw["args"]),
                creator=int(raw["creator"]),
                creator_start=int(raw.get("creator_start", 0)),
                cgroup=str(raw.get("cgroup", "")),
                image=str(raw.get("image", "")),
                name=str(raw.get("name", "")),
                monitored=bool(raw.get("monitored", False)),
                monitor_pid=int(raw.get("monitor_pid", 0)),
                monitor_start=int(raw.get("monitor_start", 0)),
                started=float(raw.get("started", 0.0)),
                labels={str(k): str(v) for k, v in dict(raw.get("labels", {})).items()},
                restart_count=int(raw.get("restart_count", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ContainerError(f"corrupt container state file {path}: {exc}", path=path) from None


def write_state(state_dir: str, state: State, *, create: bool = False) -> bool:
    """Atomically replace the state file (the caller holds :func:`locked`). Unless
    ``create``, a container removed meanwhile (no state file) is left removed: False.
    """
    path = os.path.join(state_dir, "state.json")
    if not create and not os.path.exists(path):
        return False
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        # no fsync: a state directory is runtime state (/run; a reboot voids it), and the
        # rename alone keeps a reader (or a writer killed here) from a torn file
        os.write(fd, state.to_json().encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)
    return True


def read_state(state_dir: str) -> State:
    """Read the state file of a container directory."""
    path = os.path.join(state_dir, "state.json")
    try:
        with open(path, encoding="utf-8") as f:
            return State.from_json(f.read(), path)
    except FileNotFoundError as exc:
        raise ContainerError(
            f"no such container: {os.path.basename(state_dir)} (no {path})",
            errno=exc.errno,
            path=path,
        ) from None


def check_name(name: str) -> str:
    """Raise unless ``name`` is a valid container name (Docker's ``[a-zA-Z0-9][a-zA-Z0-9_.-]*``)."""
    if not isinstance(name, str) or not _NAME.match(name):
        from pycontainers.errors import SpecError

        raise SpecError(
            "name", f"invalid container name {name!r}: use letters, digits, '_', '.', '-'"
        )
    return name


@contextlib.contextmanager
def names_locked(root: str) -> Iterator[None]:
    """Hold the state root's lock while a name is checked and taken."""
    from pycontainers._files import locked

    with locked(os.path.join(root, ".names.lock")):
        yield


def container_ids(root: str) -> list[str]:
    """The ids of every container directory under ``root`` (sorted)."""
    try:
        entries = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(
        e for e in entries
        if not e.startswith(".") and os.path.isfile(os.path.join(root, e, "state.json"))
    )  # fmt: skip


def _states(root: str) -> Iterator[State]:
    for cid in container_ids(root):
        try:
            yield read_state(os.path.join(root, cid))
        except ContainerError:
            continue


def check_name_free(root: str, name: str) -> None:
    """Raise if a container under ``root`` already has ``name``."""
    for s in _states(root):
        if s.name == name:
            raise ContainerError(  # Docker's words
                f'Conflict. The container name "/{name}" is already in use by container '
                f'"{s.id}". You have to remove (or rename) that container to be able to '
                "reuse that name."
            )


def resolve(root: str, ref: str) -> str:
    """The id of the container called ``ref``: a full id, a name, or a unique id prefix."""
    if os.path.isdir(os.path.join(root, check_id(ref))):
        return ref
    states = list(_states(root))
    for s in states:
        if s.name == ref:
            return s.id
    matches = [s.id for s in states if s.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ContainerError(f"{ref!r} matches {len(matches)} containers: give more of the id")
    raise ContainerError(f"no such container: {ref}")
