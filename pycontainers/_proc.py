"""Process identity from /proc/PID/stat: a pid plus its start time names one process."""

from __future__ import annotations


def proc_stat(pid: int) -> tuple[bytes, int] | None:
    """The state letter and start time (clock ticks, field 22) of ``pid``; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0], int(fields[19])


def proc_starttime(pid: int) -> int:
    """The start time of ``pid`` in clock ticks (field 22 of /proc/PID/stat), 0 if gone."""
    stat = proc_stat(pid)
    return 0 if stat is None else stat[1]


def proc_alive(pid: int, starttime: int) -> bool:
    """Whether ``pid`` is the process that started at ``starttime`` and is not a zombie."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in (b"Z", b"X") and stat[1] == starttime
