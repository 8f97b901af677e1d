"""The errors of the cgroups package (both derive from :class:`PyContainersError`)."""

from __future__ import annotations

from pycontainers.errors import PyContainersError


class CgroupError(PyContainersError):
    """A cgroup could not be created, changed, read or removed.

    ``path`` names the cgroupfs file or directory involved (``None`` if there is none) and
    ``errno`` the kernel's error number (0 if the failure was not a system call's).
    """

    def __init__(self, message: str, *, path: str | None = None, errno: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class CgroupNotSupported(CgroupError):
    """The host's cgroups cannot do what was asked.

    A controller is not mounted or not enabled, device rules on cgroup v2 (they need a BPF
    program), no cgroup filesystem at all...
    """
