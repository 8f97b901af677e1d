"""Control groups as objects: one :class:`CGroup` interface over cgroup v1, v2 and hybrid hosts.

>>> from pycontainers.cgroups import CGroup, Resources
>>> cg = CGroup.create("web", memory="64m", cpus=0.5, pids_limit=32)  # doctest: +SKIP
>>> cg.add(pid); cg.stats().memory.usage  # doctest: +SKIP
>>> cg.delete(kill=True)  # doctest: +SKIP

The backend comes from :func:`detect_layout`, which reads /proc/self/mountinfo and
/proc/self/cgroup; pass ``layout=`` to work on a chosen tree.
"""

from __future__ import annotations

from pycontainers.cgroups._base import DEFAULT_PARENT, CGroup
from pycontainers.cgroups._devices import DeviceRule, IoDeviceLimit
from pycontainers.cgroups._errors import CgroupError, CgroupNotSupported
from pycontainers.cgroups._events import OomWatcher
from pycontainers.cgroups._factory import create_cgroup, open_cgroup, remove_parent
from pycontainers.cgroups._hybrid import HybridCGroup
from pycontainers.cgroups._layout import (
    CgroupFsMount,
    CgroupLayout,
    allowed_cpus,
    allowed_mems,
    detect_layout,
    parse_layout,
)
from pycontainers.cgroups._resources import Resources
from pycontainers.cgroups._stats import (
    CgroupStats,
    CpuStats,
    IoDeviceStats,
    IoStats,
    MemoryStats,
    PidsStats,
)
from pycontainers.cgroups._units import (
    blkio_weight_to_io_weight,
    cpu_shares_to_weight,
    cpu_weight_to_shares,
    io_weight_to_blkio_weight,
    parse_bytes,
)
from pycontainers.cgroups._v1 import V1CGroup
from pycontainers.cgroups._v2 import V2CGroup

__all__ = [
    "DEFAULT_PARENT",
    "CGroup",
    "CgroupError",
    "CgroupFsMount",
    "CgroupLayout",
    "CgroupNotSupported",
    "CgroupStats",
    "CpuStats",
    "DeviceRule",
    "HybridCGroup",
    "IoDeviceLimit",
    "IoDeviceStats",
    "IoStats",
    "MemoryStats",
    "OomWatcher",
    "PidsStats",
    "Resources",
    "V1CGroup",
    "V2CGroup",
    "allowed_cpus",
    "allowed_mems",
    "blkio_weight_to_io_weight",
    "cpu_shares_to_weight",
    "cpu_weight_to_shares",
    "create_cgroup",
    "detect_layout",
    "io_weight_to_blkio_weight",
    "open_cgroup",
    "parse_bytes",
    "parse_layout",
    "remove_parent",
]
