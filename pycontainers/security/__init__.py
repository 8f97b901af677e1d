"""Container security: seccomp profiles compiled to BPF (and, later, capabilities).

>>> from pycontainers.security import compile_profile, default_profile
>>> bpf = compile_profile(default_profile(), capabilities={"CAP_CHOWN"})  # doctest: +SKIP
"""

from __future__ import annotations

from pycontainers.security.seccomp import (
    SeccompArg,
    SeccompCondition,
    SeccompError,
    SeccompProfile,
    SeccompRule,
    compile_profile,
    default_profile,
    libseccomp_version,
)

__all__ = [
    "SeccompArg",
    "SeccompCondition",
    "SeccompError",
    "SeccompProfile",
    "SeccompRule",
    "compile_profile",
    "default_profile",
    "libseccomp_version",
]
