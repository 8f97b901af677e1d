"""The exception tree of pycontainers: every error the library raises derives from one base."""

from __future__ import annotations


class PyContainersError(Exception):
    """Base class of every error raised by pycontainers."""


class SpecError(PyContainersError, ValueError):
    """A spec field holds an invalid value; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NamespaceError(PyContainersError):
    """A namespace could not be inspected, created, entered or removed."""


class ContainerError(PyContainersError):
    """A container operation failed (wrong state, missing container, ...)."""


class ContainerStartError(ContainerError):
    """The container's child failed before its payload ran.

    ``stage`` names the setup step that failed (``mount``, ``pivot_root``, ``exec``...),
    ``errno`` is the kernel's error number (0 if none) and ``exit_code`` follows Docker's
    convention: 125 for a runtime error, 126 for a command that cannot be run, 127 for a
    command that was not found.
    """

    def __init__(self, stage: str, errno: int, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.stage = stage
        self.errno = errno
        self.exit_code = exit_code


class ContainerTimeout(ContainerError):
    """A container ran past its timeout and was killed."""

    def __init__(
        self, args: list[str], timeout: float, stdout: bytes | None, stderr: bytes | None
    ) -> None:
        super().__init__(f"container command {args!r} timed out after {timeout} seconds")
        self.cmd = args
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr


class ContainerExitError(ContainerError):
    """``check=True`` was given and the container exited with a non-zero status."""

    def __init__(
        self, args: list[str], returncode: int, stdout: bytes | None, stderr: bytes | None
    ) -> None:
        super().__init__(f"container command {args!r} exited with status {returncode}")
        self.cmd = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class ImageNotFound(PyContainersError, LookupError):
    """The image or rootfs named by the user does not exist."""
