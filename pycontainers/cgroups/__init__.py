"""Control groups as objects: one :class:`CGroup` interface over cgroup v1, v2 and hybrid hosts.

>>> from pycontainers.cgroups import CGroup, Resources
>>> cg = CGroup.create("web", memory="64m", cpus=0.5, pids_limit=32)  # doctest: +SKIP
>>> cg.add(pid); cg.stats().memory.usage  # doctest: +SKIP
>>> cg.delete(kill=True)  # doctest: +SKIP

The backend comes from :func:`detect_layout`, which reads /proc/self/mountinfo and
/proc/self/cgroup; pass ``layout=`` to work on a chosen tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers._lazy import lazy_exports

# Names load on first use: importing one submodule (spec.py needs cgroups._resources and
# security.capabilities) must not pull in every backend.
_EXPORTS = {
    "CGroup": "pycontainers.cgroups._base",
    "CgroupError": "pycontainers.cgroups._errors",
    "CgroupFsMount": "pycontainers.cgroups._layout",
    "CgroupLayout": "pycontainers.cgroups._layout",
    "CgroupNotSupported": "pycontainers.cgroups._errors",
    "CgroupStats": "pycontainers.cgroups._stats",
    "CpuStats": "pycontainers.cgroups._stats",
    "DEFAULT_PARENT": "pycontainers.cgroups._base",
    "DeviceMapping": "pycontainers.cgroups._devices",
    "DeviceRule": "pycontainers.cgroups._devices",
    "HybridCGroup": "pycontainers.cgroups._hybrid",
    "IoDeviceLimit": "pycontainers.cgroups._devices",
    "IoDeviceStats": "pycontainers.cgroups._stats",
    "IoStats": "pycontainers.cgroups._stats",
    "LimitOptions": "pycontainers.cgroups._limits",
    "MemoryStats": "pycontainers.cgroups._stats",
    "OomWatcher": "pycontainers.cgroups._events",
    "PidsStats": "pycontainers.cgroups._stats",
    "Resources": "pycontainers.cgroups._resources",
    "V1CGroup": "pycontainers.cgroups._v1",
    "V2CGroup": "pycontainers.cgroups._v2",
    "allowed_cpus": "pycontainers.cgroups._layout",
    "allowed_mems": "pycontainers.cgroups._layout",
    "blkio_weight_to_io_weight": "pycontainers.cgroups._units",
    "cpu_shares_to_weight": "pycontainers.cgroups._units",
    "cpu_weight_to_shares": "pycontainers.cgroups._units",
    "create_cgroup": "pycontainers.cgroups._factory",
    "detect_layout": "pycontainers.cgroups._layout",
    "io_weight_to_blkio_weight": "pycontainers.cgroups._units",
    "open_cgroup": "pycontainers.cgroups._factory",
    "parse_bytes": "pycontainers.cgroups._units",
    "parse_layout": "pycontainers.cgroups._layout",
    "remove_parent": "pycontainers.cgroups._factory",
}

__all__ = [
    "DEFAULT_PARENT",
    "CGroup",
    "CgroupError",
    "CgroupFsMount",
    "CgroupLayout",
    "CgroupNotSupported",
    "CgroupStats",
    "CpuStats",
    "DeviceMapping",
    "DeviceRule",
    "HybridCGroup",
    "IoDeviceLimit",
    "IoDeviceStats",
    "IoStats",
    "LimitOptions",
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

if TYPE_CHECKING:
    from pycontainers.cgroups._base import DEFAULT_PARENT, CGroup
    from pycontainers.cgroups._devices import DeviceMapping, DeviceRule, IoDeviceLimit
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
    from pycontainers.cgroups._limits import LimitOptions
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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
