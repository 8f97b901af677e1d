"""The detection factory: the backend that fits the host's :class:`CgroupLayout`."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from pycontainers.cgroups._base import (
    DEFAULT_PARENT,
    CGroup,
    check_path,
    resolve_resources,
)
from pycontainers.cgroups._errors import CgroupError
from pycontainers.cgroups._hybrid import HybridCGroup
from pycontainers.cgroups._layout import CgroupLayout, detect_layout
from pycontainers.cgroups._resources import Resources
from pycontainers.cgroups._v1 import V1CGroup
from pycontainers.cgroups._v2 import V2CGroup

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12

    from pycontainers.cgroups._limits import LimitOptions

_BACKENDS: dict[str, type[CGroup]] = {"v1": V1CGroup, "v2": V2CGroup, "hybrid": HybridCGroup}


def backend(path: str, layout: CgroupLayout | None = None) -> CGroup:
    """The group at ``path`` for ``layout`` (default: this host's), without touching it."""
    layout = layout or detect_layout()
    return _BACKENDS[layout.kind](check_path("path", path), layout)


def open_cgroup(path: str, *, layout: CgroupLayout | None = None) -> CGroup:
    """Return the existing group at ``path`` (relative to each hierarchy's root, e.g.
    ``"pycontainers/web"``) with the backend for this host (or ``layout``).
    """
    group = backend(path, layout)
    if not group.exists():
        missing = [d for d in group.paths.values() if not os.path.isdir(d)]
        raise CgroupError(
            f"no cgroup {group.path}: missing {', '.join(missing)}",
            path=missing[0],
            errno=errno.ENOENT,
        )
    return group


def create_cgroup(
    name: str,
    resources: Resources | None = None,
    *,
    parent: str = DEFAULT_PARENT,
    layout: CgroupLayout | None = None,
    **limits: Unpack[LimitOptions],
) -> CGroup:
    """Create (or reuse) ``parent/name`` in every hierarchy and apply the limits given.

    The same as :meth:`CGroup.create`: ``parent`` (``"pycontainers"``), ``layout``.

    Limits are a :class:`Resources` or its keywords (:class:`LimitOptions`; ``None``
    leaves a limit unset), not both: docker-py's ``memory`` / ``mem_limit``,
    ``mem_reservation`` / ``memory_reservation``, ``memswap_limit``, ``nano_cpus``,
    ``pids_limit``, ``device_read_bps``, ``device_write_bps``, ``device_read_iops``,
    ``device_write_iops``, ``device_cgroup_rules``, and :class:`Resources`' own
    ``memory_max``, ``memory_low``, ``memory_swap``, ``cpu_shares``, ``cpu_weight``,
    ``cpu_quota``, ``cpu_period``, ``cpus``, ``cpuset_cpus``, ``cpuset_mems``,
    ``pids_max``, ``blkio_weight``, ``io_weight``, ``io_read_bps``, ``io_write_bps``,
    ``io_read_iops``, ``io_write_iops``, ``hugetlb``, ``devices_deny``,
    ``devices_allow``; the rarer ones (see :class:`Resources`): ``memory_swappiness``
    (docker-py's ``mem_swappiness``), ``memory_kernel_tcp``, ``oom_kill_disable``,
    ``memory_use_hierarchy``, ``memory_check_before_update``, ``cpu_rt_runtime``,
    ``cpu_rt_period``, ``cpu_idle``, ``cpu_burst``, ``blkio_weight_device``,
    ``blkio_leaf_weight``, ``blkio_leaf_weight_device``, ``net_cls_classid``,
    ``net_prio_ifpriomap``, ``rdma``, ``unified``.
    """
    res = resolve_resources(resources, limits)
    name = check_path("name", name)
    parent = check_path("parent", parent, allow_empty=True)
    group = backend(f"{parent}/{name}" if parent else name, layout)
    group.materialize(res)
    return group


def remove_parent(parent: str = DEFAULT_PARENT, *, layout: CgroupLayout | None = None) -> bool:
    """Remove the (empty) parent group from every hierarchy; return False if some hierarchy
    still has groups or processes in it.
    """
    path = check_path("parent", parent, allow_empty=True)
    if not path:
        return True  # "/": the hierarchies' roots, never removed
    group = backend(path, layout)
    done = True
    for directory in group.paths.values():
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                raise CgroupError(
                    f"cannot remove {directory}: {exc.strerror}",
                    path=directory,
                    errno=exc.errno,
                ) from exc
            done = False
    return done
