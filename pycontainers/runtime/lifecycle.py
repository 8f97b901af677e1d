"""A container's life as one state machine: its statuses, the moves between them, and which
operation each status allows.

``creating → created → running ⇄ paused``, any live status ``→ stopped``, a stopped
detached container ``→ running`` again (its restart), and everything ``→ deleted``. An
operation asked of a container in a status that does not allow it raises a
:class:`ContainerError` naming the operation, the status and what the operation needs;
a move the machine does not have is a bug and raises too, never a silent overwrite.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Any

from pycontainers.errors import ContainerError


class Status(enum.StrEnum):
    """A container's status (a ``str``: ``Status.RUNNING == "running"``)."""

    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    DELETED = "deleted"


class ExitStatus(int):
    """What :meth:`Container.wait` returns: the exit status as an ``int`` (128+N if killed
    by signal N), which also reads as docker-py's ``{"StatusCode": n, "Error": None}``
    (``c.wait()["StatusCode"]``, ``dict(c.wait())``); it equals either form.
    """

    _KEYS = ("StatusCode", "Error")

    def __getitem__(self, key: str) -> int | None:
        if key == "StatusCode":
            return int(self)
        if key == "Error":
            return None
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """docker-py's ``wait()["StatusCode"]`` spelled ``.get``: ``default`` if unknown."""
        return self[key] if key in self._KEYS else default

    def keys(self) -> tuple[str, ...]:
        """``("StatusCode", "Error")``: the keys of docker-py's form."""
        return self._KEYS

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(other) == {"StatusCode": int(self), "Error": None}
        return int(self) == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = int.__hash__


_S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    _S.CREATING: frozenset({_S.CREATED, _S.RUNNING, _S.STOPPED, _S.DELETED}),
    _S.CREATED: frozenset({_S.RUNNING, _S.STOPPED, _S.DELETED}),
    _S.RUNNING: frozenset({_S.PAUSED, _S.STOPPED, _S.DELETED}),
    _S.PAUSED: frozenset({_S.RUNNING, _S.STOPPED, _S.DELETED}),
    _S.STOPPED: frozenset({_S.CREATED, _S.RUNNING, _S.DELETED}),
    _S.DELETED: frozenset(),
}
"""Every move the machine has (a status to itself is always allowed: a no-op)."""

OPERATIONS: dict[str, tuple[Status, ...]] = {
    "start": (_S.CREATED,),
    "exec": (_S.RUNNING,),  # a paused one would freeze the new process (Docker refuses too)
    "pause": (_S.RUNNING,),
    "resume": (_S.PAUSED,),
    "kill": (_S.CREATED, _S.RUNNING, _S.PAUSED),
    "update": (_S.CREATED, _S.RUNNING, _S.PAUSED),
}
"""The statuses in which each operation is valid (``start`` of a stopped detached
container is a restart, checked by the caller)."""


def require(operation: str, status: str, container_id: str) -> None:
    """Raise unless ``operation`` is valid for a container in ``status``."""
    allowed = OPERATIONS[operation]
    if status not in allowed:
        needs = " or ".join(str(s) for s in allowed)
        raise ContainerError(
            f"container {container_id[:12]} is {status}; {operation} needs a {needs} one"
        )


def move(current: str, new: Status, container_id: str) -> Status:
    """``new`` if the machine has the move ``current → new`` (else a ContainerError)."""
    here = Status(current)
    if new != here and new not in TRANSITIONS[here]:
        raise ContainerError(f"container {container_id[:12]}: no move from {here} to {new}")
    return new


__all__ = ["OPERATIONS", "TRANSITIONS", "Status", "move", "require"]
