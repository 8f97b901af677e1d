"""The event journal: what the library did (Docker's ``events``), for any process to read.

Docker streams events from its daemon; with no daemon, every lifecycle operation appends
one JSON line to ``<state root>/events.jsonl`` (containers: create, start, die, stop, kill,
destroy, pause, unpause, rename; images: pull, tag, untag, delete, import, commit;
networks and volumes: create, destroy). A container's monitor appends its ``die`` (it
outlives the process that started the container). Each line is one ``write`` of an
``O_APPEND`` descriptor, so writers from many processes never interleave. The journal is
bounded: past :data:`MAX_BYTES` the file becomes ``events.jsonl.1`` (the one before it is
dropped) under an exclusive lock. A line that is not an event is skipped with a warning.

Lines are Docker's event messages: ``{"Type", "Action", "Actor": {"ID", "Attributes"},
"scope", "time", "timeNano"}`` (and, for containers, the old ``status``/``id``/``from``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pycontainers import _log

log = _log.get_logger("pycontainers.events")

JOURNAL = "events.jsonl"
"""The journal's file name under the state root."""
MAX_BYTES = 4 * 1024 * 1024
"""Size past which the journal is rotated (one older file is kept)."""

Event = dict[str, Any]

_enabled = True


def disable() -> None:
    """Keep no journal in this process (and its containers' monitors): for the OCI runtime,
    whose callers (podman, containerd) keep their own events.
    """
    global _enabled
    _enabled = False


def enabled() -> bool:
    """Whether this process journals its operations (see :func:`disable`)."""
    return _enabled


def journal_path(state_root: str | None = None) -> str:
    """The journal of ``state_root`` (default: the engine's state root)."""
    from pycontainers.paths import default_state_root

    return os.path.join(state_root or default_state_root(), JOURNAL)


def make_event(
    kind: str, action: str, actor_id: str, attributes: Mapping[str, str] | None = None
) -> Event:
    """One event message as Docker writes it (the time is now)."""
    now = time.time_ns()
    attrs = {k: str(v) for k, v in (attributes or {}).items()}
    event: Event = {
        "Type": kind,
        "Action": action,
        "Actor": {"ID": actor_id, "Attributes": attrs},
        "scope": "local",
        "time": now // 1_000_000_000,
        "timeNano": now,
    }
    if kind == "container":  # the pre-1.22 fields docker-compose v1 still reads
        event.update({"status": action, "id": actor_id, "from": attrs.get("image", "")})
    return event


def record(
    kind: str,
    action: str,
    actor_id: str,
    attributes: Mapping[str, str] | None = None,
    *,
    state_root: str | None = None,
) -> None:
    """Append one event to the journal. Never raises: an operation that succeeded is not
    turned into a failure by its event (a failed append is logged).
    """
    append(make_event(kind, action, actor_id, attributes), state_root=state_root)


def append(event: Event, *, state_root: str | None = None) -> None:
    """Append ``event`` (a message from :func:`make_event`) to the journal."""
    if not _enabled:
        return
    path = journal_path(state_root)
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    try:
        os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > MAX_BYTES:
            _rotate(path)
    except OSError as exc:
        log.warning("events.append_failed", path=path, error=str(exc))


def _rotate(path: str) -> None:
    from pycontainers._files import locked

    with locked(path + ".lock"):
        try:
            if os.stat(path).st_size <= MAX_BYTES:
                return  # another writer rotated it meanwhile
        except FileNotFoundError:
            return
        os.replace(path, path + ".1")


def _parse(line: bytes, where: str, on_corrupt: Callable[[str], None]) -> Event | None:
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    ok = (
        isinstance(event, dict)
        and isinstance(event.get("Type"), str)
        and isinstance(event.get("Action"), str)
        and isinstance(event.get("timeNano"), int)
        and isinstance(event.get("Actor"), dict)
        and isinstance(event["Actor"].get("ID"), str)
        and isinstance(event["Actor"].get("Attributes"), dict)
    )
    if not ok:
        on_corrupt(f"skipped a corrupt line of the event journal {where}: {line[:80]!r}")
        return None
    return event  # type: ignore[no-any-return]


def _warn(message: str) -> None:
    log.warning("events.corrupt_line", message=message)


class Journal:
    """A reader of the journal: :meth:`read` what is there, :meth:`poll` for what comes
    next (across rotations). Fills ``name``/``image`` of events that lack them (a
    monitor's ``die``) from earlier events of the same container.
    """

    def __init__(
        self, state_root: str | None = None, on_corrupt: Callable[[str], None] = _warn
    ) -> None:
        self.path = journal_path(state_root)
        self.on_corrupt = on_corrupt
        self._file: Any = None
        self._ino = -1
        self._rest = b""
        self._known: dict[str, dict[str, str]] = {}

    def _fill(self, event: Event) -> Event:
        if event["Type"] != "container":
            return event
        attrs = event["Actor"]["Attributes"]
        known = self._known.setdefault(event["Actor"]["ID"], {})
        for key in ("name", "image"):
            if attrs.get(key):
                known[key] = attrs[key]
            elif key in known:
                attrs[key] = known[key]
        if event["Action"] == "rename" and attrs.get("name"):
            known["name"] = attrs["name"]
        if not event.get("from") and attrs.get("image"):
            event["from"] = attrs["image"]
        return event

    def _lines(self, data: bytes, where: str) -> list[Event]:
        out = []
        for line in data.splitlines():
            if line.strip():
                event = _parse(line, where, self.on_corrupt)
                if event is not None:
                    out.append(self._fill(event))
        return out

    def read(self) -> list[Event]:
        """Every event in the journal (the rotated file first), oldest first; later
        :meth:`poll` calls return what is appended after this.
        """
        out = []
        try:
            with open(self.path + ".1", "rb") as f:
                out += self._lines(f.read(), self.path + ".1")
        except FileNotFoundError:
            pass
        self._open()
        out += self.poll()
        return out

    def _open(self) -> bool:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 (kept open to follow; closed in close)
        except FileNotFoundError:
            return False
        if self._file is not None:
            self._file.close()
        self._file, self._ino, self._rest = f, os.fstat(f.fileno()).st_ino, b""
        return True

    def poll(self) -> list[Event]:
        """The events appended since the last call (complete lines only)."""
        if self._file is None and not self._open():
            return []
        out = self._drain()
        try:
            ino = os.stat(self.path).st_ino
        except FileNotFoundError:
            ino = -1
        if ino != self._ino and ino != -1:  # rotated: the rest of the old file, then the new
            out += self._drain()
            self._open()
            out += self._drain()
        return out

    def _drain(self) -> list[Event]:
        data = self._rest + self._file.read()
        complete, _, self._rest = data.rpartition(b"\n")
        return self._lines(complete, self.path) if complete else []

    def close(self) -> None:
        """Close the journal file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def in_range(event: Event, since: float | None, until: float | None) -> bool:
    """Whether ``event`` happened at or after ``since`` and at or before ``until``."""
    t = event["timeNano"] / 1e9
    return (since is None or t >= since) and (until is None or t <= until)


def matches(event: Event, filters: Mapping[str, list[str]]) -> bool:
    """Docker's event filters: ``type``, ``event``, ``container``/``image``/``network``/
    ``volume`` (id prefix or name), ``label`` (``k`` or ``k=v``).
    """
    actor = event["Actor"]
    attrs = actor["Attributes"]
    for key, values in filters.items():
        if key == "type" and event["Type"] not in values:
            return False
        if key == "event" and event["Action"] not in values:
            return False
        if key in ("container", "image", "network", "volume"):
            if event["Type"] != key:
                return False
            if not any(actor["ID"].startswith(v) or attrs.get("name") == v for v in values):
                return False
        if key == "label":
            for want in values:
                k, sep, v = want.partition("=")
                if k not in attrs or (sep and attrs[k] != v):
                    return False
    return True


def follow(
    *,
    state_root: str | None = None,
    since: float | None = None,
    until: float | None = None,
    filters: Mapping[str, list[str]] | None = None,
    follow: bool = True,
    poll: float = 0.1,
    on_corrupt: Callable[[str], None] = _warn,
) -> Iterator[Event]:
    """Events matching ``filters``: those since ``since`` (none of the past when None),
    then, with ``follow``, new ones as they are appended until ``until`` (a Unix time).
    """
    wanted = dict(filters or {})
    with Journal(state_root, on_corrupt) as journal:
        past = journal.read()
        if since is not None:
            for event in past:
                if in_range(event, since, until) and matches(event, wanted):
                    yield event
        while follow and (until is None or time.time() <= until):
            for event in journal.poll():
                if in_range(event, since, until) and matches(event, wanted):
                    yield event
            time.sleep(poll)


__all__ = [
    "JOURNAL",
    "MAX_BYTES",
    "Event",
    "Journal",
    "append",
    "container_event",
    "disable",
    "enabled",
    "follow",
    "in_range",
    "journal_path",
    "make_event",
    "matches",
    "record",
]


def container_event(c: Any, action: str, **extra: str) -> None:
    """Record ``action`` of container ``c`` (its name, image and labels as attributes) in
    the journal of its state root.
    """
    record_ = getattr(c, "record", None)
    attrs = {
        **dict(getattr(record_, "labels", None) or {}),
        "name": getattr(record_, "name", "") or "",
        "image": getattr(record_, "image", "") or getattr(record_, "rootfs", "") or "",
        **extra,
    }
    record("container", action, c.id, attrs, state_root=os.path.dirname(c.state_dir))
