"""``ps``: containers as rows (ID, Names, Image, Command, Status, State, Ports, Labels),
filtered (``--filter``) and formatted (``--format``) as Docker does.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pycontainers.cli.containers import CommandError

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container


def _epoch(value: str) -> float:
    """Seconds since the epoch of an RFC 3339 UTC time as we write them
    (``2026-12-06T08:23:11.123456789Z``), without strptime; other spellings parsed fully.
    """
    import calendar

    try:
        if len(value) >= 20 and value[4] == "-" and value[10] == "T" and value[-1] == "Z":
            fields = (value[0:4], value[5:7], value[8:10], value[11:13], value[14:16], value[17:19])
            whole = calendar.timegm((*(int(f) for f in fields), 0, 0, 0))
            frac = value[20:-1] if value[19] == "." else ""
            return whole + (int(frac[:6].ljust(6, "0")) / 1e6 if frac else 0.0)
    except ValueError:
        pass
    from pycontainers.runtime.logs import parse_time

    return parse_time(value).timestamp()


def _status_text(info: dict[str, Any], now: float) -> str:
    from pycontainers.cli.output import ago

    state = info["State"]
    status = state["Status"]
    if status in ("running", "paused"):
        started = _epoch(state["StartedAt"]) if state["StartedAt"] else now
        text = f"Up {ago(started, now)}"
        if status == "paused":
            text += " (Paused)"
        health = _health(state)
        if health:
            text += f" (health: {health})" if health == "starting" else f" ({health})"
        return text
    if status == "exited":
        finished = state.get("FinishedAt")
        when = _epoch(finished) if finished else now
        return f"Exited ({state['ExitCode']}) {ago(when, now)} ago"
    return str(status).capitalize()


def _health(state: dict[str, Any]) -> str | None:
    """The health status in inspect's State (Docker's ``Status``, or the monitor's ``status``)."""
    h = state.get("Health") or {}
    value = h.get("Status", h.get("status"))
    return str(value) if value else None


def ps_row(c: Container, no_trunc: bool = False) -> dict[str, Any]:
    """One container as ``ps`` fields: ID, Names, Image, Command, Status, State, Ports..."""
    import shlex

    from pycontainers.cli.output import ago
    from pycontainers.runtime.describe import describe

    now = time.time()
    info = describe(c, config=False)  # the spec is not needed for a row: not read
    command = shlex.join(info["Config"]["Cmd"])
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    ports = []
    for key, bindings in sorted(info.get("NetworkSettings", {}).get("Ports", {}).items()):
        for b in bindings:
            ports.append(f"{b['HostIp'] or '0.0.0.0'}:{b['HostPort']}->{key}")
    created = _created(info)
    return {
        "ID": c.id if no_trunc else c.id[:12],
        "Names": c.name,
        "Image": info["Image"] or info["Config"].get("Rootfs", ""),
        "Command": f'"{command}"',
        "CreatedAt": info["Created"],
        "RunningFor": f"{ago(created, now)} ago",
        "Status": _status_text(info, now),
        "State": info["State"]["Status"],
        "Ports": ", ".join(ports),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(info["Config"]["Labels"].items())),
        "Networks": ",".join(info.get("NetworkSettings", {}).get("Networks", {})),
        "_info": info,
    }


def _created(info: dict[str, Any]) -> float:
    return _epoch(info["Created"])


def _matches(row: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    info = row["_info"]
    for key, values in filters.items():
        ok = False
        for v in values:
            if key == "status":
                ok = info["State"]["Status"] == v
            elif key == "name":
                ok = v.lstrip("/") in info["Name"]
            elif key == "id":
                ok = info["Id"].startswith(v)
            elif key == "label":
                k, sep, val = v.partition("=")
                labels = info["Config"]["Labels"]
                ok = k in labels and (not sep or labels[k] == val)
            elif key == "health":
                ok = (_health(info["State"]) or "none") == v
            elif key == "ancestor":
                ok = v in (info["Image"], info["Config"].get("Rootfs"))
            elif key == "exited":
                ok = info["State"]["Status"] == "exited" and str(info["State"]["ExitCode"]) == v
            if ok:
                break
        if not ok:
            return False
    return True


_FILTER_KEYS = ("status", "name", "id", "label", "health", "ancestor", "exited")
_STATUSES = ("created", "running", "paused", "exited", "restarting", "removing", "dead")


def _parse_filters(entries: Iterable[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for f in entries:
        key, sep, value = f.partition("=")
        if not sep or key not in _FILTER_KEYS:
            raise CommandError(
                f"invalid filter {f!r}: one of {', '.join(k + '=' for k in _FILTER_KEYS)}"
            )
        if key == "status" and value not in _STATUSES:
            raise CommandError(f"invalid filter 'status={value}': one of {', '.join(_STATUSES)}")
        filters.setdefault(key, []).append(value)
    return filters


def _row(c: Container, no_trunc: bool) -> dict[str, Any] | None:
    """``c``'s row; read again once if it changed under us (its exit hook gave back its
    cgroup, its --rm removed it: then None).
    """
    from pycontainers.errors import PyContainersError
    from pycontainers.runtime.container import Container

    for attempt in (1, 2):
        try:
            return ps_row(c, no_trunc)
        except (PyContainersError, OSError):
            if not os.path.exists(os.path.join(c.state_dir, "state.json")):
                return None
            if attempt == 2:
                raise
        finally:
            c.close()
        try:
            c = Container.load(c.id, state_root=os.path.dirname(c.state_dir))
        except PyContainersError:
            return None
    return None


def ps(args: argparse.Namespace) -> int:
    """``ps``: list containers (see the CLI help for the flags)."""
    from pycontainers.cli.output import check_template, print_formatted
    from pycontainers.runtime.container import Container

    filters = _parse_filters(args.filter)
    if args.format not in ("", "json", "table") and not args.format.startswith("table"):
        check_template(args.format)
    rows = []
    for c in Container.list():
        row = _row(c, args.no_trunc)
        if row is None:
            continue  # removed while we read it (its --rm, another rm): not listed
        if not args.all and "status" not in filters and row["State"] not in ("running", "paused"):
            continue
        if _matches(row, filters):
            rows.append(row)
    rows.reverse()  # newest first, as Docker
    if args.quiet:
        for row in rows:
            print(row["ID"])
        return 0
    for row in rows:
        del row["_info"]
    columns = ("ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names")
    print_formatted(rows, args.format, columns)
    return 0


__all__ = ["ps", "ps_row"]
