"""pycontainers for tests: the pytest plugin's sandboxes, container factory and waits.

The plugin (:mod:`pycontainers.testing.plugin`) is registered through the ``pytest11``
entry point, so installing pycontainers gives every pytest run the ``sandbox``,
``container_factory`` and ``pycontainers_engine`` fixtures and the ``pycontainers`` /
``requires_containers`` markers. The names below also work without pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers._lazy import lazy_exports

_EXPORTS = {
    "CleanupError": "pycontainers.testing.factory",
    "ContainerFactory": "pycontainers.testing.factory",
    "FactoryOptions": "pycontainers.testing.factory",
    "RemoteTraceback": "pycontainers.testing.sandbox",
    "Sandbox": "pycontainers.testing.sandbox",
    "SandboxError": "pycontainers.testing.sandbox",
    "SandboxKeywords": "pycontainers.testing.sandbox",
    "SandboxMemoryError": "pycontainers.testing.sandbox",
    "SandboxOptions": "pycontainers.testing.sandbox",
    "SandboxRecord": "pycontainers.testing.sandbox",
    "SandboxResult": "pycontainers.testing.sandbox",
    "SandboxResultError": "pycontainers.testing.sandbox",
    "SandboxTimeout": "pycontainers.testing.sandbox",
    "SandboxedFunction": "pycontainers.testing.decorator",
    "TestEngine": "pycontainers.testing.factory",
    "WaitTimeout": "pycontainers.testing.waits",
    "WarmPool": "pycontainers.testing.warm",
    "can_run_containers": "pycontainers.testing.support",
    "remove_labelled": "pycontainers.testing.factory",
    "sandboxed": "pycontainers.testing.decorator",
    "unavailable_reason": "pycontainers.testing.support",
    "wait_for_health": "pycontainers.testing.waits",
    "wait_for_http": "pycontainers.testing.waits",
    "wait_for_log": "pycontainers.testing.waits",
    "wait_for_port": "pycontainers.testing.waits",
}

__all__ = [
    "CleanupError",
    "ContainerFactory",
    "FactoryOptions",
    "RemoteTraceback",
    "Sandbox",
    "SandboxError",
    "SandboxKeywords",
    "SandboxMemoryError",
    "SandboxOptions",
    "SandboxRecord",
    "SandboxResult",
    "SandboxResultError",
    "SandboxTimeout",
    "SandboxedFunction",
    "TestEngine",
    "WaitTimeout",
    "WarmPool",
    "can_run_containers",
    "remove_labelled",
    "sandboxed",
    "unavailable_reason",
    "wait_for_health",
    "wait_for_http",
    "wait_for_log",
    "wait_for_port",
]

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

if TYPE_CHECKING:
    from pycontainers.testing.decorator import SandboxedFunction, sandboxed
    from pycontainers.testing.factory import (
        CleanupError,
        ContainerFactory,
        FactoryOptions,
        TestEngine,
        remove_labelled,
    )
    from pycontainers.testing.sandbox import (
        RemoteTraceback,
        Sandbox,
        SandboxError,
        SandboxKeywords,
        SandboxMemoryError,
        SandboxOptions,
        SandboxRecord,
        SandboxResult,
        SandboxResultError,
        SandboxTimeout,
    )
    from pycontainers.testing.support import can_run_containers, unavailable_reason
    from pycontainers.testing.waits import (
        WaitTimeout,
        wait_for_health,
        wait_for_http,
        wait_for_log,
        wait_for_port,
    )
    from pycontainers.testing.warm import WarmPool
