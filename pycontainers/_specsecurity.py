"""The security part of a container's spec: :class:`SecurityOptions` (capabilities,
seccomp, masked and read-only paths).

Part of :mod:`pycontainers.spec`, which re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pycontainers._specchecks import check_container_path
from pycontainers._specchecks import fail as _fail

# -- security -----------------------------------------------------------------------------

DEFAULT_MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def _caps(field: str, value: Iterable[str] | str) -> tuple[str, ...]:
    from pycontainers.security.capabilities import normalize

    if isinstance(value, str):
        value = [value]
    return tuple(normalize(field, v) for v in value)


def _cap_add(value: Iterable[str] | str) -> tuple[str, ...]:
    return _caps("cap_add", value)


def _cap_drop(value: Iterable[str] | str) -> tuple[str, ...]:
    return _caps("cap_drop", value)


def _cap_set(field: str, value: Iterable[str] | str | None) -> tuple[str, ...]:
    """One OCI capability set: names normalized, sorted, no ``ALL`` (None: empty)."""
    names = _caps(field, value or ())
    if "ALL" in names:
        raise _fail(field, "list the capabilities by name (ALL is for cap_add/cap_drop)")
    return tuple(sorted(set(names)))


def _cap_effective(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    return None if value is None else _cap_set("cap_effective", value)


def _cap_permitted(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    return None if value is None else _cap_set("cap_permitted", value)


def _cap_inheritable(value: Iterable[str] | str | None) -> tuple[str, ...]:
    return _cap_set("cap_inheritable", value)


def _cap_ambient(value: Iterable[str] | str | None) -> tuple[str, ...]:
    return _cap_set("cap_ambient", value)


def _paths(field: str, value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise _fail(field, "must be a list of paths, not one string")
    return tuple(check_container_path(field, v) for v in value)


def _masked(value: Iterable[str]) -> tuple[str, ...]:
    return _paths("masked_paths", value)


def _readonly(value: Iterable[str]) -> tuple[str, ...]:
    return _paths("readonly_paths", value)


def _seccomp_profile(value: Any) -> Any:
    if value is None or value == "default":
        return value
    from pycontainers.security._seccomp_profile import SeccompProfile

    if isinstance(value, SeccompProfile):
        return value
    if isinstance(value, (str, bytes, Mapping)):
        return SeccompProfile.from_json(value)
    raise _fail(
        "seccomp", f"expected 'default', None, JSON text or a dict, got {type(value).__name__}"
    )


@attrs.frozen
class SecurityOptions:
    """Docker's defaults unless told otherwise: its 14 capabilities, its seccomp profile,
    masked and read-only /proc and /sys paths.

    ``seccomp`` is ``"default"``, ``None`` (no filter), or a profile in Docker's JSON format
    (a ``str`` of JSON or a parsed ``dict``). ``privileged`` gives every capability, no
    seccomp filter and no masked or read-only paths.
    """

    cap_add: tuple[str, ...] = attrs.field(default=(), converter=_cap_add)
    cap_drop: tuple[str, ...] = attrs.field(default=(), converter=_cap_drop)
    privileged: bool = False
    seccomp: Any = attrs.field(default="default", converter=_seccomp_profile)
    """``"default"``, ``None``, or a ``SeccompProfile`` (JSON text and dicts are parsed)."""
    masked_paths: tuple[str, ...] = attrs.field(default=DEFAULT_MASKED_PATHS, converter=_masked)
    readonly_paths: tuple[str, ...] = attrs.field(
        default=DEFAULT_READONLY_PATHS, converter=_readonly
    )
    cap_effective: tuple[str, ...] | None = attrs.field(
        default=None, converter=_cap_effective, metadata={"omit_default": True}
    )
    """OCI's ``process.capabilities.effective``; None: the permitted set."""
    cap_permitted: tuple[str, ...] | None = attrs.field(
        default=None, converter=_cap_permitted, metadata={"omit_default": True}
    )
    """OCI's ``permitted`` set; None: the whole (bounding) set, :meth:`capabilities`."""
    cap_inheritable: tuple[str, ...] = attrs.field(
        default=(), converter=_cap_inheritable, metadata={"omit_default": True}
    )
    """OCI's ``inheritable`` set (default empty: CVE-2022-29162; only an OCI config sets it)."""
    cap_ambient: tuple[str, ...] = attrs.field(
        default=(), converter=_cap_ambient, metadata={"omit_default": True}
    )
    """OCI's ``ambient`` set (default empty); each must be permitted and inheritable."""

    def __attrs_post_init__(self) -> None:
        if self.cap_sets() == (None, None, (), ()):
            return  # Docker's model: one set
        if self.privileged:
            raise _fail("cap_effective", "privileged gives every capability: no per-set lists")
        bounding = self.capabilities()
        permitted = bounding if self.cap_permitted is None else frozenset(self.cap_permitted)
        inheritable = frozenset(self.cap_inheritable)
        for name, caps, within, what in (
            ("cap_effective", self.cap_effective, permitted, "the permitted set"),
            ("cap_permitted", self.cap_permitted, bounding, "the bounding set"),
            ("cap_inheritable", self.cap_inheritable, bounding, "the bounding set"),
            ("cap_ambient", self.cap_ambient, permitted & inheritable,
             "both the permitted and the inheritable set"),
        ):  # fmt: skip
            outside = sorted(set(caps or ()) - within)  # None: within by definition
            if outside:
                raise _fail(name, f"{', '.join(outside)} not in {what}")

    def capabilities(self) -> frozenset[str]:
        """The container's capability set (names): its bounding set."""
        from pycontainers.security.capabilities import resolve

        return resolve(self.cap_add, self.cap_drop, self.privileged)

    def cap_sets(
        self,
    ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, tuple[str, ...], tuple[str, ...]]:
        """The (effective, permitted, inheritable, ambient) lists as given."""
        return (self.cap_effective, self.cap_permitted, self.cap_inheritable, self.cap_ambient)


__all__ = ["DEFAULT_MASKED_PATHS", "DEFAULT_READONLY_PATHS", "SecurityOptions"]
