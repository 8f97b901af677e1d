"""The device rules every unprivileged container started by root gets, and the cgroup
hierarchies that hold them.

Docker's device cgroup (:data:`DEFAULT_DEVICE_RULES`: every device may be made, only the
usual nodes opened) plus a rule per ``--device``; enforced by the v1 ``devices`` controller
and, on cgroup v2, a device program on the container's group (on a hybrid host: both).
:func:`needs_cgroup` says when a start makes a group at all; a foreground run without limits
gets one only in :func:`devices_layout` (pooled: :mod:`pycontainers.runtime.devpool`).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from pycontainers.cgroups import CgroupLayout, DeviceMapping, Resources
    from pycontainers.spec import ContainerSpec

__all__ = [
    "DEFAULT_DEVICE_RULES",
    "default_device_resources",
    "devices_layout",
    "needs_cgroup",
    "with_default_devices",
]

# Docker's device cgroup: every device may be mknod'ed, only these opened.
DEFAULT_DEVICE_RULES = (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",
)  # fmt: skip


_DEVICES_LAYOUT: dict[CgroupLayout, CgroupLayout] = {}


def devices_layout() -> CgroupLayout:
    """The host's hierarchies that hold device rules: the v1 ``devices`` hierarchy and the
    unified one (its device program). A group made only for the device rules of a container
    with no limits needs no other (each costs a mkdir, a join and a rmdir per start).
    """
    from pycontainers.cgroups import CgroupLayout, detect_layout

    layout = detect_layout()
    found = _DEVICES_LAYOUT.get(layout)
    if found is not None:
        return found
    v1 = tuple((k, m) for k, m in layout.v1_hierarchies if "devices" in k.split(","))
    found = layout
    if layout.kind == "hybrid":
        found = (
            attrs.evolve(layout, v1_hierarchies=v1)
            if v1
            else CgroupLayout("v2", unified=layout.unified)
        )
    elif layout.kind == "v1" and v1:
        found = attrs.evolve(layout, v1_hierarchies=v1)
    _DEVICES_LAYOUT[layout] = found
    return found


def needs_cgroup(spec: ContainerSpec) -> bool:
    """Whether a start of ``spec`` makes a cgroup: for its limits, and, when root starts an
    unprivileged container without limits, for the device rules alone. Without them root in
    the container could make a node of any host device (``CAP_MKNOD``) and open it, or open
    one a bind mount shows. Rootless containers get none (nor could they mknod a device).
    """
    if spec.resources is not None:
        return True
    return os.geteuid() == 0 and not spec.security.privileged


def with_default_devices(spec: ContainerSpec) -> Resources:
    """The spec's resources, plus Docker's device rules (everything denied but mknod and
    the default nodes) and a rule for each of the spec's devices (``--device``), with that
    device's own permissions. The cgroup enforces them through the v1 devices controller
    and, on cgroup v2, a device program attached to the container's group (on a hybrid
    host: both). A privileged container gets no rules.
    """
    if spec.security.privileged:
        from pycontainers.cgroups import Resources

        return spec.resources if spec.resources is not None else Resources()
    res = spec.resources
    if res is None or not (res.devices_allow or res.devices_deny):
        return default_device_resources(spec.devices, res)
    own = tuple(d.rule for d in spec.devices)
    return attrs.evolve(res, devices_allow=(*res.devices_allow, *own)) if own else res


@functools.lru_cache(maxsize=64)
def default_device_resources(
    devices: tuple[DeviceMapping, ...], resources: Resources | None = None
) -> Resources:
    """``resources`` (default: none) with Docker's device rules and one for each of
    ``devices`` (see :func:`with_default_devices`); cached, most containers share them.
    """
    from pycontainers.cgroups import Resources

    own = tuple(d.rule for d in devices)
    # a device given with its own permissions gets those, not a default rule's (``--device
    # /dev/zero:/dev/z:r`` is read-only, and so is /dev/zero: the cgroup sees one device)
    numbers = {(d.type, d.major, d.minor) for d in devices}
    defaults = tuple(r for r in DEFAULT_DEVICE_RULES if _numbers(r) not in numbers)
    base = resources if resources is not None else Resources()
    return attrs.evolve(base, devices_deny=("a",), devices_allow=(*defaults, *own))


def _numbers(rule: str) -> tuple[str, int, int] | None:
    """``(type, major, minor)`` of a rule naming one device (``"c 1:3 rwm"``), else None."""
    kind, numbers, _ = rule.split()
    major, _, minor = numbers.partition(":")
    if not (major.isdigit() and minor.isdigit()):
        return None
    return kind, int(major), int(minor)
