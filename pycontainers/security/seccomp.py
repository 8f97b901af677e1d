"""Seccomp: Docker's default profile, custom profiles in Docker's JSON format, and their
compilation to BPF with libseccomp before a container starts.

>>> from pycontainers.security.seccomp import compile_profile, default_profile
>>> bpf = compile_profile(default_profile(), capabilities={"CAP_CHOWN", "CAP_KILL"})
>>> len(bpf) % 8  # a struct sock_filter array, for seccomp(SECCOMP_SET_MODE_FILTER)
0

The default profile (``seccomp_default.json`` beside this module) keeps the semantics of
Docker's default (moby's ``profiles/seccomp``): an allow-list whose default answer is EPERM;
``clone`` without namespace flags and ``clone3`` failing with ENOSYS (so libc falls back to
``clone``) unless the container has CAP_SYS_ADMIN; ``personality`` only with the usual
personas; ``socket`` for every family except AF_ALG and AF_VSOCK; and groups of syscalls
unlocked by capabilities (CAP_SYS_ADMIN: mount, unshare, setns...; CAP_SYS_PTRACE,
CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_TIME, CAP_SYS_NICE, CAP_SYS_RAWIO, CAP_SYSLOG,
CAP_BPF, CAP_PERFMON...). Syscall names restated from that list; grouping and order ours.

Several rules for one syscall combine as they do under runc and crun (libseccomp's own
semantics): the first rule without ``args`` decides; without one, the conditional rules
together. What a profile leaves ambiguous is refused (see :func:`check_profile`).

Compiling needs libseccomp (``libseccomp.so.2``, Debian package ``libseccomp2``), loaded
with cffi in ABI mode; parsing and :meth:`SeccompProfile.resolve` do not.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from pycontainers.security._seccomp_bpf import compile_bpf, libseccomp_version
from pycontainers.security._seccomp_merge import merge_rules
from pycontainers.security._seccomp_profile import (
    SeccompArg,
    SeccompCondition,
    SeccompError,
    SeccompProfile,
    SeccompRule,
    arch_name,
    capability_name,
    native_arch,
)

__all__ = [
    "SeccompArg",
    "SeccompCondition",
    "SeccompError",
    "SeccompProfile",
    "SeccompRule",
    "check_profile",
    "compile_profile",
    "default_profile",
    "libseccomp_version",
]


@functools.cache
def default_profile() -> SeccompProfile:
    """Docker's default seccomp profile (parsed once, then the same object every time)."""
    from pycontainers.security._seccomp_source import default_source

    return SeccompProfile.from_json(default_source().decode())


def compile_profile(
    profile: SeccompProfile, capabilities: Iterable[str] = frozenset(), arch: str | None = None
) -> bytes:
    """Compile ``profile`` for a container holding ``capabilities`` into BPF bytes.

    The result is a ``struct sock_filter`` array (8 bytes per instruction, native byte
    order), as ``seccomp_export_bpf`` writes it: load it with
    ``seccomp(SECCOMP_SET_MODE_FILTER, profile.filter_flags, &(struct sock_fprog){len / 8,
    bytes})``, which needs no_new_privs or CAP_SYS_ADMIN (the filter does not set
    no_new_privs itself). ``arch`` defaults to this machine's; the profile's ``archMap``
    adds its sub-architectures (x86 and x32 on x86_64). Syscalls unknown to this libseccomp
    are skipped. Results are cached per (profile, capabilities, arch).

    Several rules for one syscall combine as under runc and crun (see
    :func:`check_profile`). Raises ``SpecError("seccomp", "syscalls[i]: ...")`` for an
    ambiguous profile or a rule libseccomp refuses, ``SeccompError`` if libseccomp is
    missing.
    """
    caps = frozenset(capability_name(c) for c in capabilities)
    target = arch_name(arch) if arch is not None else native_arch()
    return _compile_cached(profile, caps, target)


def check_profile(
    profile: SeccompProfile, capabilities: Iterable[str] = frozenset(), arch: str | None = None
) -> None:
    """Refuse ``profile`` if, for a container holding ``capabilities``, two of its rules
    for one syscall say different things; no libseccomp needed.

    Rules combine as runc and crun (through libseccomp) combine them: a syscall's first
    rule without ``args`` decides every call of it, the others are ignored; otherwise a call
    gets the action of the conditional rule it matches, or the default action. Refused,
    with ``SpecError("seccomp", "syscalls[i]: ...")`` naming the syscall and both rules:
    a rule with the default action and no ``args`` that would decide a syscall other rules
    give another action (runc and crun skip it), and two conditional rules with different
    actions that one call matches (libseccomp refuses it or picks one by its own order).
    """
    merge_rules(profile, capabilities, arch)


@functools.lru_cache(maxsize=64)
def _compile_cached(profile: SeccompProfile, caps: frozenset[str], arch: str) -> bytes:
    return compile_bpf(merge_rules(profile, caps, arch), arch)
