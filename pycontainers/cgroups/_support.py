"""Which :class:`~pycontainers.cgroups.Resources` fields a host's cgroup layout cannot
honour, and why: checked before anything is written, so a refused limit leaves no group
behind and names its field (the OCI layer turns the field into its JSON path).

cgroup v2 has no swappiness, OOM-killer switch, non-hierarchical accounting, kernel TCP
limit, real-time bandwidth, leaf weights, net_cls or net_prio (runc ignores most of these
on v2, crun refuses them; a limit is never dropped silently here). ``unified`` needs the
cgroup2 hierarchy, and on a hybrid host only files of controllers that are not v1 ones.
"""

from __future__ import annotations

import os

from pycontainers.cgroups._layout import CgroupLayout
from pycontainers.cgroups._resfields import unified_controller
from pycontainers.cgroups._resources import Resources

_V2_HAS_NO = {
    "memory_swappiness": "cgroup v2 has no per-group swappiness",
    "memory_kernel_tcp": "cgroup v2 has no kernel TCP buffer limit",
    "oom_kill_disable": "cgroup v2 cannot disable the OOM killer",
    "memory_use_hierarchy": "cgroup v2 always accounts hierarchically",
    "cpu_rt_runtime": "cgroup v2 has no real-time group bandwidth",
    "cpu_rt_period": "cgroup v2 has no real-time group bandwidth",
    "blkio_leaf_weight": "cgroup v2 has no leaf weights",
    "blkio_leaf_weight_device": "cgroup v2 has no leaf weights",
}
_CONTROLLER = {
    "memory_swappiness": "memory",
    "memory_kernel_tcp": "memory",
    "oom_kill_disable": "memory",
    "memory_use_hierarchy": "memory",
    "cpu_rt_runtime": "cpu",
    "cpu_rt_period": "cpu",
    "blkio_leaf_weight": "blkio",
    "blkio_leaf_weight_device": "blkio",
    "net_cls_classid": "net_cls",
    "net_prio_ifpriomap": "net_prio",
}


def _asks(res: Resources, field: str) -> bool:
    value = getattr(res, field)
    if field == "oom_kill_disable":
        return value is True  # False: the OOM killer stays, as everywhere on v2
    if field == "memory_use_hierarchy":
        return value is False  # True: what v2 always does
    return value not in (None, ())


def refusal(res: Resources, layout: CgroupLayout) -> tuple[str, str] | None:
    """``(field, why)`` for the first field of ``res`` that ``layout`` cannot apply, or None."""
    v1 = layout.v1_controllers
    for field, controller in _CONTROLLER.items():
        if not _asks(res, field) or controller in v1:
            continue
        if field in _V2_HAS_NO:
            where = "v2" if layout.unified else "v1"
            why = _V2_HAS_NO[field] if where == "v2" else f"no v1 {controller} hierarchy"
            return field, f"{why} (the {controller} controller is not a v1 hierarchy here)"
        return field, f"{controller} is a cgroup v1 controller and is not mounted on this host"
    if res.rdma and "rdma" not in v1:
        root = layout.unified
        text = ""
        if root is not None:
            try:
                with open(os.path.join(root, "cgroup.controllers")) as f:
                    text = f.read()
            except OSError:
                pass
        if "rdma" not in text.split():
            return "rdma", "the rdma controller is not available on this host"
    if res.unified:
        if layout.unified is None:
            return "unified", "cgroup v2 files need a cgroup2 hierarchy; this host has no cgroup2"
        for key, _ in res.unified:
            controller = unified_controller(key)
            if controller in v1 or (controller == "io" and "blkio" in v1):
                return "unified", (
                    f"{key}: the {controller} controller is a cgroup v1 hierarchy on this "
                    f"{layout.kind} host (use its own field)"
                )
    return None


__all__ = ["refusal"]
