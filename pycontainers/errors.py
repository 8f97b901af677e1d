"""The exception tree of pycontainers: every error the library raises derives from one base.

Every class is defined here (the packages re-export their own: ``pycontainers.cgroups``
has :class:`CgroupError`, ``pycontainers.images.registry`` the registry errors...), so
this module is the whole tree, and it imports nothing. Each error carries the same two
fields: ``errno``, the kernel's error number when a system call failed (``None``
otherwise), and ``path``, the file or directory involved (``None`` if there is none).
Every constructor takes them as keywords::

    PyContainersError
    ├── SpecError (ValueError)                a spec field is invalid: ``field``
    │   ├── OciConfigError                    config.json: ``field`` is the JSON path
    │   └── CodecError                        an io.pycontainers.* annotation
    ├── SyscallError (OSError)                a system call through the C shim failed
    ├── NamespaceError
    ├── CgroupError
    │   └── CgroupNotSupported
    ├── OverlayError
    ├── SeccompError
    ├── NetworkError                          netlink
    ├── NetfilterError                        nftables
    ├── NetworkNotFound (LookupError)
    ├── NetworkInUse
    ├── IpamError
    │   ├── AddressExhausted
    │   └── IpamCorrupt
    ├── PortError
    │   ├── PortInUse
    │   └── PortLeasesCorrupt
    ├── ImageNotFound (LookupError)
    ├── ImageError
    │   ├── BlobNotFound (LookupError)
    │   ├── DigestMismatch
    │   └── LayerError
    ├── RegistryError                         ``status``, ``url``, ``code``
    │   ├── Unauthorized, Forbidden, UnsupportedMediaType, RegistryUnavailable
    │   ├── RegistryNotFound (LookupError)
    │   │   └── ManifestUnknown
    │   └── NoMatchingPlatform (LookupError)
    ├── BuildError                            a Dockerfile build: ``dockerfile``, ``line``
    │   └── BuildCancelled                    a step stopped as another stage failed
    ├── ContainerError
    │   ├── ContainerStartError               ``stage``, ``errno`` (an int), ``exit_code``
    │   ├── ContainerTimeout
    │   ├── ContainerExitError
    │   └── OciRuntimeError                   pycontainers-runtime's own
    ├── VolumeError
    ├── MonitorMissingError
    ├── CommandError                          the CLI's own errors
    ├── ApiError                              the API daemon's answers: ``status``
    │   └── DaemonUnreachable (ConnectionError)   the client reaches no daemon at its host
    ├── CleanupError                          the pytest plugin's
    ├── WaitTimeout (TimeoutError)
    ├── SandboxError
    │   ├── SandboxMemoryError (MemoryError)
    │   ├── SandboxResultError (TypeError)        a result that cannot be pickled back
    │   └── SandboxTimeout (TimeoutError)
    └── RemoteTraceback                       a sandbox's traceback (only ever a cause)
"""

from __future__ import annotations


class PyContainersError(Exception):
    """Base class of every error raised by pycontainers.

    ``errno`` is the kernel's error number when a system call failed (``None`` otherwise)
    and ``path`` the file or directory involved (``None`` if there is none).
    """

    errno: int | None
    path: str | None

    def __init__(self, *args: object, errno: int | None = None, path: str | None = None) -> None:
        super().__init__(*args)
        self.errno = errno
        self.path = path


# -- specs ------------------------------------------------------------------------------------


class SpecError(PyContainersError, ValueError):
    """A spec field holds an invalid value; ``field`` names it."""

    def __init__(
        self, field: str, message: str, *, errno: int | None = None, path: str | None = None
    ) -> None:
        super().__init__(f"{field}: {message}", errno=errno, path=path)
        self.field = field


class OciConfigError(SpecError):
    """A ``config.json`` is invalid; ``field`` is the JSON path of the problem."""


class CodecError(SpecError):
    """A value in a ``io.pycontainers.*`` annotation cannot be decoded; ``field`` is its path."""


# -- primitives -------------------------------------------------------------------------------


class SyscallError(PyContainersError, OSError):
    """A system call failed; the message names the call and its argument.

    An ``OSError`` too: ``errno`` is set as for any ``OSError``; ``path`` is the call's path
    argument, if it had one.
    """

    errno: int

    def __init__(self, errno: int, message: str, *, path: str | None = None) -> None:
        super().__init__(errno, message, errno=errno, path=path)


class NamespaceError(PyContainersError):
    """A namespace could not be inspected, created, entered or removed."""


class CgroupError(PyContainersError):
    """A cgroup could not be created, changed, read or removed.

    ``path`` names the cgroupfs file or directory involved and ``errno`` the kernel's error
    number (``None`` if the failure was not a system call's).
    """


class CgroupNotSupported(CgroupError):
    """The host's cgroups cannot do what was asked.

    A controller is not mounted or not enabled, no cgroup filesystem at all...
    """


class OverlayError(PyContainersError):
    """An overlay mount could not be made, unmounted or diffed; ``path`` names the culprit."""


class SeccompError(PyContainersError):
    """libseccomp is missing or failed, or this machine has no known seccomp architecture."""


# -- network ----------------------------------------------------------------------------------


class NetworkError(PyContainersError):
    """A netlink operation on a link, address or route failed."""


class NetfilterError(PyContainersError):
    """libnftables refused a command; the message carries its error text."""


class NetworkNotFound(PyContainersError, LookupError):
    """No network of that name exists."""


class NetworkInUse(PyContainersError):
    """The network still has containers attached."""


class IpamError(PyContainersError):
    """An address could not be allocated, released or read back from disk."""


class AddressExhausted(IpamError):
    """Every host address of a network's subnet is leased."""


class IpamCorrupt(IpamError):
    """A network's state file is unreadable or inconsistent; ``path`` names it."""

    path: str

    def __init__(self, path: str, message: str, *, errno: int | None = None) -> None:
        super().__init__(f"{path}: corrupt IPAM state: {message}", errno=errno, path=path)


class PortError(PyContainersError):
    """A host port could not be leased, released or read back from disk."""


class PortInUse(PortError):
    """A host port is leased to another owner or bound by a process on the host.

    ``address``, ``port`` and ``protocol`` name the port; ``holder`` says who has it.
    """

    def __init__(
        self,
        address: str,
        port: int,
        protocol: str,
        holder: str,
        *,
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            f"host port {address}:{port}/{protocol} is already in use: {holder}",
            errno=errno,
            path=path,
        )
        self.address = address
        self.port = port
        self.protocol = protocol
        self.holder = holder


class PortLeasesCorrupt(PortError):
    """The lease file is unreadable or inconsistent; ``path`` names it. Nothing is changed."""

    path: str

    def __init__(self, path: str, message: str, *, errno: int | None = None) -> None:
        super().__init__(f"{path}: corrupt port leases: {message}", errno=errno, path=path)


# -- images -----------------------------------------------------------------------------------


class ImageNotFound(PyContainersError, LookupError):
    """The image or rootfs named by the user does not exist."""


class ImageError(PyContainersError):
    """An image, blob or layer could not be stored, read or unpacked."""


class BlobNotFound(ImageError, LookupError):
    """The content store holds no blob of that digest (a :class:`~pycontainers.images.Digest`)."""

    def __init__(
        self, digest: object, *, errno: int | None = None, path: str | None = None
    ) -> None:
        super().__init__(f"blob {digest} is not in the content store", errno=errno, path=path)
        self.digest = digest


class DigestMismatch(ImageError):
    """Content does not match the digest or size it was announced with.

    ``expected`` and ``actual`` are digests (or byte counts when ``what`` is ``"size"``).
    """

    def __init__(
        self,
        what: str,
        expected: object,
        actual: object,
        *,
        source: str = "",
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        where = f" of {source}" if source else ""
        super().__init__(
            f"{what}{where} mismatch: expected {expected}, got {actual}", errno=errno, path=path
        )
        self.what = what
        self.expected = expected
        self.actual = actual


class LayerError(ImageError):
    """A layer tar is malformed, truncated or unsafe (path traversal) and was refused.

    ``member`` names the tar entry at fault (empty if the fault is not one entry's).
    """

    def __init__(
        self,
        message: str,
        *,
        member: str = "",
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(f"{member}: {message}" if member else message, errno=errno, path=path)
        self.member = member


class RegistryError(PyContainersError):
    """A registry refused or failed a request; ``status`` is the HTTP status (0 if none)."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        url: str = "",
        code: str = "",
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, errno=errno, path=path)
        self.status = status
        self.url = url
        self.code = code


class Unauthorized(RegistryError):
    """401: credentials are missing or wrong (``pycontainers login`` stores them)."""


class Forbidden(RegistryError):
    """403: the credentials are valid but do not allow this operation."""


class RegistryNotFound(RegistryError, LookupError):
    """404: the repository or blob does not exist in the registry."""


class ManifestUnknown(RegistryNotFound):
    """The registry has no manifest for that tag or digest."""


class UnsupportedMediaType(RegistryError):
    """The manifest, config or a layer has a media type pycontainers cannot use."""


class NoMatchingPlatform(RegistryError, LookupError):
    """An image index has no manifest for the requested platform."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or kept failing (5xx) after every retry."""


# -- containers -------------------------------------------------------------------------------


class BuildError(PyContainersError):
    """A Dockerfile build failed; ``dockerfile`` and ``line`` (1-based, 0 if none) name where.

    The message starts with ``Dockerfile:LINE`` when the failure belongs to a line.
    """

    def __init__(
        self,
        message: str,
        *,
        dockerfile: str = "",
        line: int = 0,
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        where = f"{dockerfile or 'Dockerfile'}:{line}: " if line else ""
        super().__init__(f"{where}{message}", errno=errno, path=path)
        self.dockerfile = dockerfile
        self.line = line
        self.reason = message


class BuildCancelled(BuildError):
    """A build step stopped because another stage of the same build failed (or SIGINT)."""

    def __init__(
        self,
        message: str = "cancelled: another stage of the build failed",
        *,
        dockerfile: str = "",
        line: int = 0,
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, dockerfile=dockerfile, line=line, errno=errno, path=path)


class ContainerError(PyContainersError):
    """A container operation failed (wrong state, missing container, ...)."""


class ContainerStartError(ContainerError):
    """The container's child failed before its payload ran.

    ``stage`` names the setup step that failed (``mount``, ``pivot_root``, ``exec``...),
    ``errno`` is the kernel's error number (0 if none) and ``exit_code`` follows Docker's
    convention: 125 for a runtime error, 126 for a command that cannot be run, 127 for a
    command that was not found.
    """

    errno: int

    def __init__(
        self,
        stage: str,
        errno: int,
        message: str,
        exit_code: int = 125,
        *,
        path: str | None = None,
    ) -> None:
        super().__init__(message, errno=errno, path=path)
        self.stage = stage
        self.exit_code = exit_code


class OciRuntimeError(ContainerError):
    """An OCI runtime command (``pycontainers-runtime``) cannot be carried out: an unknown
    container, an option it does not support, a container in the wrong state.
    """


class ContainerTimeout(ContainerError):
    """A container ran past its timeout and was killed."""

    def __init__(
        self,
        args: list[str],
        timeout: float,
        stdout: bytes | None,
        stderr: bytes | None,
        *,
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            f"container command {args!r} timed out after {timeout} seconds", errno=errno, path=path
        )
        self.cmd = args
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr


class ContainerExitError(ContainerError):
    """``check=True`` was given and the container exited with a non-zero status."""

    def __init__(
        self,
        args: list[str],
        returncode: int,
        stdout: bytes | None,
        stderr: bytes | None,
        *,
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            f"container command {args!r} exited with status {returncode}", errno=errno, path=path
        )
        self.cmd = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class VolumeError(PyContainersError):
    """A volume is missing, in use, or its metadata is unreadable."""


class MonitorMissingError(PyContainersError):
    """The monitor program is not built or not executable."""


# -- front ends -------------------------------------------------------------------------------


class CommandError(PyContainersError):
    """A CLI-level error: printed as ``pycontainers: <message>``, exit 125."""


class ApiError(PyContainersError):
    """An error answer of the Engine API daemon: HTTP ``status`` and Docker's ``message``."""

    def __init__(
        self, status: int, message: str, *, errno: int | None = None, path: str | None = None
    ) -> None:
        super().__init__(message, errno=errno, path=path)
        self.status = status
        self.message = message


class DaemonUnreachable(ApiError, ConnectionError):
    """The client cannot reach a daemon at ``host`` (down, refused, ssh failed)."""

    def __init__(
        self, host: str, reason: str, *, errno: int | None = None, path: str | None = None
    ) -> None:
        super().__init__(
            0, f"cannot connect to the daemon at {host}: {reason}", errno=errno, path=path
        )
        self.host = host


class CleanupError(PyContainersError):
    """Some containers of a test could not be removed; the message names them and why."""


class WaitTimeout(PyContainersError, TimeoutError):
    """What was awaited did not happen in time (or can no longer happen)."""


class SandboxError(PyContainersError):
    """A sandboxed command or callable did not run to completion.

    ``stdout`` and ``stderr`` hold what the sandbox printed before it ended.
    """

    def __init__(
        self,
        message: str,
        stdout: bytes = b"",
        stderr: bytes = b"",
        *,
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, errno=errno, path=path)
        self.stdout = stdout
        self.stderr = stderr


class SandboxMemoryError(SandboxError, MemoryError):
    """The kernel's OOM killer killed the sandbox at its memory cap (``memory``)."""

    def __init__(
        self,
        what: str,
        memory: str | int,
        stdout: bytes,
        stderr: bytes,
        *,
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            f"{what} was killed by the OOM killer at the sandbox's memory cap "
            f"(memory={memory!r}); give it more with memory=...",
            stdout,
            stderr,
            errno=errno,
            path=path,
        )
        self.memory = memory


class SandboxResultError(SandboxError, TypeError):
    """The sandboxed callable returned a value that cannot be pickled back to the caller
    (a generator, a lock, an open file...); its traceback there is the ``__cause__``.
    """


class SandboxTimeout(SandboxError, TimeoutError):
    """The sandbox ran past its ``timeout`` and was killed."""

    def __init__(
        self,
        what: str,
        timeout: float,
        stdout: bytes,
        stderr: bytes,
        *,
        errno: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            f"{what} did not finish within timeout={timeout} s and was killed",
            stdout,
            stderr,
            errno=errno,
            path=path,
        )
        self.timeout = timeout


class RemoteTraceback(PyContainersError):
    """The traceback text of an exception raised inside the sandbox (set as its cause)."""

    def __init__(self, text: str, *, errno: int | None = None, path: str | None = None) -> None:
        super().__init__(text, errno=errno, path=path)
        self.text = text

    def __str__(self) -> str:
        return f"\n\nTraceback inside the sandbox:\n{self.text.rstrip()}"


__all__ = [
    "AddressExhausted",
    "ApiError",
    "BlobNotFound",
    "BuildCancelled",
    "BuildError",
    "CgroupError",
    "CgroupNotSupported",
    "CleanupError",
    "CodecError",
    "CommandError",
    "ContainerError",
    "ContainerExitError",
    "ContainerStartError",
    "ContainerTimeout",
    "DaemonUnreachable",
    "DigestMismatch",
    "Forbidden",
    "ImageError",
    "ImageNotFound",
    "IpamCorrupt",
    "IpamError",
    "LayerError",
    "ManifestUnknown",
    "MonitorMissingError",
    "NamespaceError",
    "NetfilterError",
    "NetworkError",
    "NetworkInUse",
    "NetworkNotFound",
    "NoMatchingPlatform",
    "OciConfigError",
    "OciRuntimeError",
    "OverlayError",
    "PortError",
    "PortInUse",
    "PortLeasesCorrupt",
    "PyContainersError",
    "RegistryError",
    "RegistryNotFound",
    "RegistryUnavailable",
    "RemoteTraceback",
    "SandboxError",
    "SandboxMemoryError",
    "SandboxResultError",
    "SandboxTimeout",
    "SeccompError",
    "SpecError",
    "SyscallError",
    "Unauthorized",
    "UnsupportedMediaType",
    "VolumeError",
    "WaitTimeout",
]
