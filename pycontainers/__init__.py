"""pycontainers: Linux containers from the kernel's own primitives, as a Python library.

Quick start::

    import pycontainers as pc
    r = pc.run("host", ["sh", "-c", "hostname; ps"], capture_output=True)
    r.returncode, r.stdout

Heavy modules load lazily on first use of a name, so ``import pycontainers`` stays fast.
"""

from __future__ import annotations

from pycontainers._lazy import lazy_exports

__version__ = "0.1.0"
TYPE_CHECKING = False  # not typing's: `import pycontainers` does not load typing (~8 ms)

_EXPORTS = {
    "CGroup": "pycontainers.cgroups",
    "CgroupError": "pycontainers.errors",
    "Resources": "pycontainers.cgroups",
    "SecurityOptions": "pycontainers.spec",
    "CompletedContainer": "pycontainers.runtime.run",
    "Container": "pycontainers.runtime.container",
    "ContainerError": "pycontainers.errors",
    "ContainerExitError": "pycontainers.errors",
    "ContainerSpec": "pycontainers.spec",
    "ContainerStartError": "pycontainers.errors",
    "ContainerTimeout": "pycontainers.errors",
    "DEVNULL": "pycontainers.runtime.stdio",
    "DeviceMapping": "pycontainers.spec",
    "DeviceNode": "pycontainers.spec",
    "IdMapping": "pycontainers.spec",
    "Image": "pycontainers.images",
    "ImageStore": "pycontainers.images",
    "OverlayRootfs": "pycontainers.spec",
    "Reference": "pycontainers.images",
    "ImageNotFound": "pycontainers.errors",
    "Mount": "pycontainers.spec",
    "Namespace": "pycontainers.namespaces",
    "NamespaceComparison": "pycontainers.namespaces",
    "OverlayFS": "pycontainers.fs.overlay",
    "NamespaceError": "pycontainers.errors",
    "NamespaceKind": "pycontainers.namespaces",
    "NamespaceSet": "pycontainers.namespaces",
    "PIPE": "pycontainers.runtime.stdio",
    "Process": "pycontainers.spec",
    "PyContainersError": "pycontainers.errors",
    "STDOUT": "pycontainers.runtime.stdio",
    "SpecError": "pycontainers.errors",
    "User": "pycontainers.spec",
    "run": "pycontainers.runtime.run",
    "build": "pycontainers.builder",
    "BuildError": "pycontainers.errors",
    "Bandwidth": "pycontainers.network.tc",
    "Network": "pycontainers.network.network",
    "NetworkInUse": "pycontainers.errors",
    "NetworkNotFound": "pycontainers.errors",
    "NetworkSpec": "pycontainers.network.spec",
    "PortInUse": "pycontainers.errors",
    "PortMapping": "pycontainers.network.ports",
    "RegistryError": "pycontainers.errors",
    "login": "pycontainers.images.registry",
    "logout": "pycontainers.images.registry",
    "gc": "pycontainers.runtime.gc",
    "HealthCheck": "pycontainers.supervision",
    "ExitStatus": "pycontainers.runtime.lifecycle",
    "Volume": "pycontainers.runtime.volumes",
    "VolumeError": "pycontainers.errors",
    "LogEntry": "pycontainers.runtime.logs",
    "Sandbox": "pycontainers.testing.sandbox",
    "SandboxError": "pycontainers.errors",
    "SandboxMemoryError": "pycontainers.errors",
    "SandboxResultError": "pycontainers.errors",
    "SandboxTimeout": "pycontainers.errors",
    "SandboxedFunction": "pycontainers.testing.decorator",
    "sandboxed": "pycontainers.testing.decorator",
    "Client": "pycontainers.client.client",
    "ApiError": "pycontainers.errors",
    "DaemonUnreachable": "pycontainers.errors",
}

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "ApiError",
    "Bandwidth",
    "BuildError",
    "CGroup",
    "CgroupError",
    "Client",
    "CompletedContainer",
    "Container",
    "ContainerError",
    "ContainerExitError",
    "ContainerSpec",
    "ContainerStartError",
    "ContainerTimeout",
    "DaemonUnreachable",
    "DeviceMapping",
    "DeviceNode",
    "ExitStatus",
    "HealthCheck",
    "IdMapping",
    "Image",
    "ImageNotFound",
    "ImageStore",
    "LogEntry",
    "Mount",
    "Namespace",
    "NamespaceComparison",
    "NamespaceError",
    "NamespaceKind",
    "NamespaceSet",
    "Network",
    "NetworkInUse",
    "NetworkNotFound",
    "NetworkSpec",
    "OverlayFS",
    "OverlayRootfs",
    "PortInUse",
    "PortMapping",
    "Process",
    "PyContainersError",
    "Reference",
    "RegistryError",
    "Resources",
    "Sandbox",
    "SandboxError",
    "SandboxMemoryError",
    "SandboxResultError",
    "SandboxTimeout",
    "SandboxedFunction",
    "SecurityOptions",
    "SpecError",
    "User",
    "Volume",
    "VolumeError",
    "__version__",
    "build",
    "gc",
    "login",
    "logout",
    "run",
    "sandboxed",
]

if TYPE_CHECKING:
    from pycontainers.builder import build
    from pycontainers.cgroups import CGroup, Resources
    from pycontainers.client.client import Client
    from pycontainers.errors import (
        ApiError,
        BuildError,
        CgroupError,
        ContainerError,
        ContainerExitError,
        ContainerStartError,
        ContainerTimeout,
        DaemonUnreachable,
        ImageNotFound,
        NamespaceError,
        NetworkInUse,
        NetworkNotFound,
        PortInUse,
        PyContainersError,
        RegistryError,
        SandboxError,
        SandboxMemoryError,
        SandboxResultError,
        SandboxTimeout,
        SpecError,
        VolumeError,
    )
    from pycontainers.fs.overlay import OverlayFS
    from pycontainers.images import Image, ImageStore, Reference
    from pycontainers.images.registry import login, logout
    from pycontainers.namespaces import Namespace, NamespaceComparison, NamespaceKind, NamespaceSet
    from pycontainers.network.network import Network
    from pycontainers.network.ports import PortMapping
    from pycontainers.network.spec import NetworkSpec
    from pycontainers.network.tc import Bandwidth
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.gc import gc
    from pycontainers.runtime.lifecycle import ExitStatus
    from pycontainers.runtime.logs import LogEntry
    from pycontainers.runtime.run import CompletedContainer, run
    from pycontainers.runtime.stdio import DEVNULL, PIPE, STDOUT
    from pycontainers.runtime.volumes import Volume
    from pycontainers.spec import (
        ContainerSpec,
        DeviceMapping,
        DeviceNode,
        IdMapping,
        Mount,
        OverlayRootfs,
        Process,
        SecurityOptions,
        User,
    )
    from pycontainers.supervision import HealthCheck
    from pycontainers.testing.decorator import SandboxedFunction, sandboxed
    from pycontainers.testing.sandbox import Sandbox


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
