"""Statistics of a cgroup as typed values, and parsers of the cgroupfs formats they come from.

Every number is in bytes, nanoseconds or counts whatever the cgroup version; a field the host
cannot report is ``None``. The backends import this module only when stats are read, so that
starting a container does not build these classes (the plain parsers live in ``_fs``).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from pycontainers.cgroups._fs import flat_keyed as flat_keyed  # moved there; still here
from pycontainers.cgroups._fs import limit_value as limit_value
from pycontainers.cgroups._units import format_bytes


@attrs.frozen
class MemoryStats:
    """Memory use: ``usage`` and ``peak`` (bytes), ``limit`` (``None``: no limit), ``oom``
    (times the group ran out of memory; v2 only), ``oom_kill`` (processes the OOM killer killed)
    and ``failcnt`` (times usage hit the limit: v1 ``memory.failcnt``, v2 ``max`` event).
    """

    usage: int
    peak: int | None
    limit: int | None
    oom: int | None
    oom_kill: int
    failcnt: int | None


@attrs.frozen
class CpuStats:
    """CPU time used (ns: ``usage`` = ``user`` + ``system``, roughly) and CFS throttling:
    ``nr_periods`` elapsed, ``nr_throttled`` of them throttled, ``throttled`` ns in total.
    """

    usage: int
    user: int | None
    system: int | None
    nr_periods: int | None
    nr_throttled: int | None
    throttled: int | None


@attrs.frozen
class PidsStats:
    """Tasks in the group (``current``), the most ever (``peak``) and the limit (``max``;
    ``None``: no limit).
    """

    current: int
    max: int | None
    peak: int | None = None


@attrs.frozen
class IoDeviceStats:
    """I/O of one block device: bytes and operations read and written."""

    read_bytes: int = 0
    write_bytes: int = 0
    read_ops: int = 0
    write_ops: int = 0


@attrs.frozen
class IoStats:
    """I/O per block device, keyed by ``"major:minor"``."""

    devices: Mapping[str, IoDeviceStats] = attrs.field(factory=dict)

    @property
    def read_bytes(self) -> int:
        """Bytes read from all devices."""
        return sum(d.read_bytes for d in self.devices.values())

    @property
    def write_bytes(self) -> int:
        """Bytes written to all devices."""
        return sum(d.write_bytes for d in self.devices.values())


@attrs.frozen
class CgroupStats:
    """A snapshot of a cgroup's statistics; a controller the host lacks is ``None``."""

    memory: MemoryStats | None = None
    cpu: CpuStats | None = None
    pids: PidsStats | None = None
    io: IoStats | None = None

    def summary(self) -> list[tuple[str, str]]:
        """Short ``(name, value)`` pairs for a repr: memory, cpu, pids."""
        out: list[tuple[str, str]] = []
        if self.memory is not None:
            out.append(("memory", format_bytes(self.memory.usage)))
            if self.memory.oom_kill:
                out.append(("oom_kill", str(self.memory.oom_kill)))
        if self.cpu is not None:
            out.append(("cpu", f"{self.cpu.usage / 1e9:.3f}s"))
        if self.pids is not None:
            out.append(("pids", str(self.pids.current)))
        return out


# -- parsers ------------------------------------------------------------------------------------


def io_stat_v2(text: str) -> IoStats:
    """Parse v2 ``io.stat``: ``8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0``."""
    devices: dict[str, IoDeviceStats] = {}
    for line in text.splitlines():
        device, *pairs = line.split()
        values = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        devices[device] = IoDeviceStats(
            read_bytes=int(values.get("rbytes", 0)),
            write_bytes=int(values.get("wbytes", 0)),
            read_ops=int(values.get("rios", 0)),
            write_ops=int(values.get("wios", 0)),
        )
    return IoStats(devices)


def io_stat_v1(service_bytes: str, serviced: str) -> IoStats:
    """Parse v1 ``blkio.throttle.io_service_bytes`` and ``io_serviced`` (``8:0 Read 4096``)."""
    counts: dict[str, dict[str, int]] = {}
    for text, suffix in ((service_bytes, "bytes"), (serviced, "ops")):
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in ("Read", "Write"):
                key = f"{parts[1].lower()}_{suffix}"
                counts.setdefault(parts[0], {})[key] = int(parts[2])
    return IoStats({device: IoDeviceStats(**values) for device, values in counts.items()})
