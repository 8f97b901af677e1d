"""Process identity from /proc/PID/stat: a pid plus its start time names one process."""

from __future__ import annotations


def proc_starttime(pid: int) -> int:
    """The start time of ``pid`` in clock ticks (field 22 of /proc/PID/stat), 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    return int(data[data.rindex(b")") + 2 :].split()[19])


def proc_alive(pid: int, starttime: int) -> bool:
    """Whether ``pid`` is the process that started at ``starttime`` and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0] not in (b"Z", b"X") and int(fields[19]) == starttime
