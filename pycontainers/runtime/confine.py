"""The security of a process in a container, from the container's spec: one function.

Every process that enters a container — its first process, a restart by its monitor,
``exec`` from any process (CLI, health checks, later the builder's ``RUN`` steps, the OCI
runtime's and the API's exec) — gets its capability sets, seccomp filter, no_new_privs,
rlimits and setgroups policy from :func:`confinement`, and nothing else builds them. The
result has no "unknown" value: there is no way to ask for a process with the restrictions
left out, only for Docker's explicit ``privileged`` / ``cap_add`` widening of an exec.
"""

from __future__ import annotations

import errno
import functools
import os
import resource
from collections.abc import Iterable
from typing import Any

import attrs

from pycontainers.errors import ContainerStartError
from pycontainers.security.capabilities import CAPABILITIES, normalize, to_mask
from pycontainers.spec import ContainerSpec

CAP_SYS_RESOURCE = 24
CAP_BITS = 64


@attrs.frozen
class Confinement:
    """The security part of one process's plan, resolved from a container spec.

    ``capabilities`` are the (bounding, effective, permitted, inheritable, ambient) masks;
    inheritable and ambient are empty (CVE-2022-29162) unless the spec lists them (an OCI
    config's ``process.capabilities``); every bounding bit up to ``cap_last`` that is not in
    the mask is dropped. ``seccomp_bpf`` is None only
    when the spec itself says no filter (``seccomp=None`` or ``privileged``).
    """

    capabilities: tuple[int, int, int, int, int]
    cap_last: int
    seccomp_bpf: bytes | None
    seccomp_flags: int
    no_new_privs: bool
    rlimits: tuple[tuple[int, int, int], ...]
    no_setgroups: bool

    def plan_fields(self) -> dict[str, Any]:
        """The :class:`~pycontainers._plan.Plan` keywords this confinement sets."""
        return attrs.asdict(self, recurse=False)


def confinement(
    spec: ContainerSpec, *, privileged: bool = False, cap_add: Iterable[str] = ()
) -> Confinement:
    """The security of a process entering the container described by ``spec``.

    ``privileged`` and ``cap_add`` widen the capability sets of *this* process only, as
    Docker's ``exec --privileged`` does: the container's seccomp filter, no_new_privs,
    rlimits and user mapping still apply. A capability this runtime does not hold itself
    (outside a user namespace) is a :class:`ContainerStartError`, never silently dropped.
    """
    if not isinstance(spec, ContainerSpec):
        raise TypeError(f"confinement needs a ContainerSpec, got {type(spec).__name__}")
    bpf, flags = _seccomp(spec)
    return Confinement(
        capabilities=_capabilities(spec, privileged, cap_add),
        # drop every bit the bounding set can hold, known to this table or not: a kernel newer
        # than CAPABILITIES (or an unreadable cap_last_cap) must not leave one behind
        cap_last=CAP_BITS - 1,
        seccomp_bpf=bpf,
        seccomp_flags=flags,
        no_new_privs=spec.process.no_new_privs,
        rlimits=_rlimits(spec),
        no_setgroups=_setgroups_denied(spec),
    )


@functools.cache
def held_caps(which: str = "CapPrm") -> int:
    """Capability set ``which`` of the calling process, read once (a runtime does not change its own)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{which}:"):
                return int(line.split()[1], 16)
    raise ContainerStartError(
        "capabilities", errno.EIO, f"capabilities: /proc/self/status has no {which} line"
    )


def _capabilities(
    spec: ContainerSpec, privileged: bool, cap_add: Iterable[str]
) -> tuple[int, int, int, int, int]:
    extra = {normalize("cap_add", c) for c in cap_add}
    widened = privileged or spec.security.privileged or "ALL" in extra
    if widened:
        from pycontainers.security.capabilities import all_capabilities

        names = set(all_capabilities())
    else:
        names = set(spec.security.capabilities()) | extra
    mask = to_mask(names)
    # the sets are those of the container's user namespace, where the child has them all
    if "user" not in spec.namespaces:
        held = held_caps()
        if widened:
            mask &= held  # everything this runtime itself has
        elif mask & ~held:
            missing = [name for i, name in enumerate(CAPABILITIES) if mask & ~held >> i & 1]
            raise ContainerStartError(
                "capabilities",
                errno.EPERM,
                f"capabilities: this process does not hold {', '.join(missing)}, so it cannot "
                "give them to a container process; drop them (cap_drop) or run pycontainers "
                "with them",
            )
    effective, permitted, inheritable, ambient = spec.security.cap_sets()
    if widened or extra or (effective, permitted) == (None, None):
        # Docker's model (and an exec's explicit widening): one set, nothing inheritable
        return (mask, mask, mask, to_mask(inheritable) & mask, to_mask(ambient) & mask)
    # an OCI config's sets, each already checked against the others (SecurityOptions)
    prm = mask if permitted is None else to_mask(permitted) & mask
    eff = prm if effective is None else to_mask(effective) & prm
    inh = to_mask(inheritable) & mask
    return (mask, eff, prm, inh, to_mask(ambient) & prm & inh)


def _seccomp(spec: ContainerSpec) -> tuple[bytes | None, int]:
    """The filter of ``spec`` (None: the spec says none), from the on-disk cache when an
    entry for exactly this profile, capability set, kernel and libseccomp is there.
    """
    sec = spec.security
    if sec.privileged or sec.seccomp is None:
        return None, 0
    caps = sec.capabilities()
    memo_key: object = (sec.seccomp, frozenset(caps))
    try:
        known = _SECCOMP_MEMO.get(memo_key)
    except TypeError:  # a profile that cannot be hashed: no memo
        memo_key, known = None, None
    if known is not None:
        return known
    from pycontainers.security import _seccomp_cache

    cache_key = _seccomp_cache.key(_seccomp_cache.profile_source(sec.seccomp), caps)
    cached = _seccomp_cache.load(cache_key)
    if cached is not None:
        _remember(memo_key, cached)
        return cached
    from pycontainers.security.seccomp import compile_profile, default_profile

    profile = default_profile() if sec.seccomp == "default" else sec.seccomp
    bpf = compile_profile(profile, capabilities=caps)
    if not bpf:
        raise ContainerStartError(
            "seccomp", errno.EINVAL, "seccomp: the profile compiled to nothing"
        )
    _seccomp_cache.store(cache_key, bpf, profile.filter_flags)
    _remember(memo_key, (bpf, profile.filter_flags))
    return bpf, profile.filter_flags


_SECCOMP_MEMO: dict[object, tuple[bytes, int]] = {}
"""Filters this process compiled or read from the verified cache, by (profile, capability
set): a process starting many containers hashes and reads the 16 KB profile once."""


def _remember(memo_key: object, filt: tuple[bytes, int]) -> None:
    if memo_key is not None:
        if len(_SECCOMP_MEMO) >= 32:
            _SECCOMP_MEMO.clear()
        _SECCOMP_MEMO[memo_key] = filt


def _rlimits(spec: ContainerSpec) -> tuple[tuple[int, int, int], ...]:
    out = []
    can_raise: bool | None = None
    for name, soft, hard in spec.process.rlimits:
        res = getattr(resource, f"RLIMIT_{name.upper()}")
        _, cur_hard = resource.getrlimit(res)
        if cur_hard != resource.RLIM_INFINITY and hard > cur_hard:
            if can_raise is None:
                can_raise = bool(held_caps("CapEff") >> CAP_SYS_RESOURCE & 1)
            if not can_raise:
                raise ContainerStartError(
                    "rlimit",
                    errno.EPERM,
                    f"rlimits: cannot raise the {name} hard limit to {hard}: the current hard limit "
                    f"is {cur_hard} and raising it needs CAP_SYS_RESOURCE, which this process lacks; "
                    f"ask for at most {cur_hard}",
                )
        out.append((res, soft, hard))
    return tuple(out)


def _setgroups_denied(spec: ContainerSpec) -> bool:
    """Rootless with only our own gid mapped: the kernel made us deny setgroups."""
    if "user" not in spec.namespaces or os.geteuid() == 0:
        return False
    from pycontainers.security.rootless import is_own_single

    return is_own_single(spec.gid_mappings, os.getegid())


__all__ = ["Confinement", "confinement", "held_caps"]
