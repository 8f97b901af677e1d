"""Container security: seccomp profiles compiled to BPF (and, later, capabilities).

>>> from pycontainers.security import compile_profile, default_profile
>>> bpf = compile_profile(default_profile(), capabilities={"CAP_CHOWN"})  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers._lazy import lazy_exports

# Names load on first use: importing one submodule (spec.py needs cgroups._resources and
# security.capabilities) must not pull in every backend.
_EXPORTS = {
    "SeccompArg": "pycontainers.security.seccomp",
    "SeccompCondition": "pycontainers.security.seccomp",
    "SeccompError": "pycontainers.security.seccomp",
    "SeccompProfile": "pycontainers.security.seccomp",
    "SeccompRule": "pycontainers.security.seccomp",
    "check_profile": "pycontainers.security.seccomp",
    "compile_profile": "pycontainers.security.seccomp",
    "default_profile": "pycontainers.security.seccomp",
    "libseccomp_version": "pycontainers.security.seccomp",
}

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

if TYPE_CHECKING:
    from pycontainers.security.seccomp import (
        SeccompArg,
        SeccompCondition,
        SeccompError,
        SeccompProfile,
        SeccompRule,
        check_profile,
        compile_profile,
        default_profile,
        libseccomp_version,
    )


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
