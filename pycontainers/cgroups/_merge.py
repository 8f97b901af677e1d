"""An update of a cgroup's limits on top of the limits it has: what to store, what to write.

``update --memory-swap 256m`` on a container created with ``--memory 128m`` means memory
128m plus swap up to 256m, as in Docker and runc: an update builds on the stored limits and
is checked against them, not alone. :func:`merge_update` returns both the merged limits (the
container's new stored spec) and the part to write to the live group (the changed fields
and those the kernel needs with them: memory with memory+swap, the CFS quota with its
period, real-time runtime with its period).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pycontainers.cgroups._resources import Resources, as_written, docker_fields
from pycontainers.errors import SpecError

_EXCLUSIVE = {
    "cpus": ("cpu_quota",),
    "cpu_quota": ("cpus",),
    "cpu_shares": ("cpu_weight",),
    "cpu_weight": ("cpu_shares",),
    "blkio_weight": ("io_weight",),
    "io_weight": ("blkio_weight",),
}
"""A field replaces its alternatives: a new ``cpus`` drops a stored ``cpu_quota``."""

_COUPLED = (
    frozenset({"memory_max", "memory_swap"}),
    frozenset({"cpus", "cpu_quota", "cpu_period"}),
    frozenset({"cpu_rt_runtime", "cpu_rt_period"}),
)
"""Fields written together when one of them changes (v2's swap.max is memory_swap minus
memory_max; cpu.max holds quota and period)."""

_KEYED = frozenset({"io_read_bps", "io_write_bps", "io_read_iops", "io_write_iops", "hugetlb",
                    "blkio_weight_device", "blkio_leaf_weight_device", "net_prio_ifpriomap",
                    "rdma", "unified"})  # fmt: skip
"""Per-key fields (device, page size, interface, file): an update replaces the keys it names
and keeps the others."""

_FIXED = ("devices_deny", "devices_allow")


def _key(item: Any) -> Any:
    return item.device if hasattr(item, "device") else item[0]


def merge_update(base: Resources | None, change: Mapping[str, Any]) -> tuple[Resources, Resources]:
    """``(merged, to_write)``: the limits ``base`` with the fields of ``change`` (field name →
    value, as :class:`Resources` takes it) on top. Device rules cannot be changed (they are
    the container's device access, fixed at create, as in runc and Docker); rules equal to
    the stored ones are no change (containerd sends a container's whole ``linux.resources``
    to ``update``). A combination that is not valid raises :class:`SpecError` naming the
    field.
    """
    known = attrs.fields_dict(Resources)
    change = dict(change)
    for name in _FIXED:
        value = change.pop(name, None)
        if value in (None, ()):
            continue
        converter = known[name].converter
        value = converter(value) if callable(converter) else value
        if base is None or value != getattr(base, name):
            raise SpecError(name, "device rules cannot be updated; they are fixed at create")
    values: dict[str, Any] = {name: getattr(base, name) for name in known} if base else {}
    converted: dict[str, Any] = {}
    for name, value in change.items():
        if name not in known:
            raise SpecError(name, "unknown resource field")
        if value is None:
            continue
        converter = known[name].converter
        converted[name] = converter(value) if callable(converter) else value
    for name in converted:
        for other in _EXCLUSIVE.get(name, ()):
            if other not in converted:
                values[other] = None
    for name, value in converted.items():
        if name in _KEYED and values.get(name):
            new = {_key(item) for item in value}
            values[name] = (*(i for i in values[name] if _key(i) not in new), *value)
        else:
            values[name] = value
    try:
        merged = Resources(**values)
    except SpecError as exc:
        raise _blame(exc, set(converted)) from None
    write = set(converted)
    for group in _COUPLED:
        if write & group:
            write |= group
    if merged.memory_check_before_update and write & {"memory_max", "memory_swap"}:
        write.add("memory_check_before_update")  # stored: it guards every later update
    return merged, Resources(
        **{name: converted[name] if name in _KEYED else getattr(merged, name) for name in write}
    )


_RELATED = (
    frozenset({"memory_max", "memory_low", "memory_swap"}),
    frozenset({"cpus", "cpu_quota", "cpu_period"}),
    frozenset({"cpu_rt_runtime", "cpu_rt_period"}),
)


def _blame(exc: SpecError, changed: set[str]) -> SpecError:
    """``exc`` naming a field of the update: a new ``memory_max`` below the stored
    ``memory_low`` is the new limit's fault (``memory_max: conflicts with the stored
    memory_low: ...``).
    """
    if exc.field in changed:
        return exc
    for group in _RELATED:
        if exc.field in group and group & changed:
            culprit = min(group & changed)
            return SpecError(culprit, f"conflicts with the stored {exc}")
    return exc


def merge_limits(
    base: Resources | None, resources: Resources | None, limits: Mapping[str, Any]
) -> tuple[Resources, Resources]:
    """:func:`merge_update` of a :class:`Resources` (its fields that are set) or of
    :meth:`Resources.from_docker`'s keywords (``limits``; an error names the keyword as
    written), not both.
    """
    if resources is not None and limits:
        raise SpecError("resources", "give a Resources object or keywords, not both")
    if resources is not None:
        if not isinstance(resources, Resources):
            raise SpecError("resources", f"expected a Resources object, got {resources!r}")
        change = {
            a.name: value
            for a in attrs.fields(Resources)
            if (value := getattr(resources, a.name)) not in (None, ()) and value is not a.default
        }
        return merge_update(base, change)
    given = docker_fields(limits)
    try:
        return merge_update(base, {name: value for name, (_, value) in given.items()})
    except SpecError as exc:
        renamed = as_written(exc, given)
        if renamed is exc:
            raise
        raise renamed from exc


__all__ = ["merge_limits", "merge_update"]
