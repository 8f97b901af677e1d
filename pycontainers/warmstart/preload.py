"""What a warm start server imports before it serves, and the snapshot of the files it
loaded them from (a worker refuses to run a request once any of them changed).
"""

from __future__ import annotations

import importlib
import os
import sys

_ENGINE = (
    # what starting a container loads, whichever the front end
    "pycontainers.cli.argparser",
    "pycontainers.cgroups.prime",
    "pycontainers.cgroups._factory",
    "pycontainers.cgroups._hybrid",
    "pycontainers.cgroups._devbpf",
    "pycontainers.cgroups._devices",
    "pycontainers.cgroups._resources",
    "pycontainers.fs.rootfs",
    "pycontainers.fs.users",
    "pycontainers.oci.load",
    "pycontainers.runtime._crash",
    "pycontainers.runtime.confine",
    "pycontainers.runtime.container",
    "pycontainers.runtime.detach",
    "pycontainers.runtime.devrules",
    "pycontainers.runtime.launch",
    "pycontainers.runtime.lifecycle",
    "pycontainers.runtime.monitored",
    "pycontainers.runtime.plan",
    "pycontainers.runtime.record",
    "pycontainers.runtime.specfile",
    "pycontainers.runtime.state",
    "pycontainers.runtime.stdio",
    "pycontainers.runtime.supervisor",
    "pycontainers.security._seccomp_cache",
    "pycontainers.security.capabilities",
    "pycontainers.security.seccomp",
    "pycontainers.spec",
    "pycontainers.supervision",
    "pycontainers._native",
    "pycontainers._sys",
    "pycontainers._attrscache",
    "pycontainers.events",
)

PRELOAD = (
    # the CLI, its allowlisted commands and what they load to do their work
    "pycontainers.cli.main",
    "pycontainers.cli.containers",
    "pycontainers.cli.runargs",
    "pycontainers.cli.runflags",
    "pycontainers.cli.runextra",
    "pycontainers.cli.output",
    "pycontainers.cli.ps",
    "pycontainers.cli.live",
    "pycontainers.cli.contents",
    "pycontainers.cli.system",
    "pycontainers.cli.volumes",
    "pycontainers.cli.networks",
    "pycontainers.cli.images",
    "pycontainers.cli.imagelist",
    "pycontainers.network.endpoint",
    "pycontainers.network.gc",
    "pycontainers.oci.config",
    "pycontainers.runtime._term",
    "pycontainers.runtime.attach",
    "pycontainers.runtime.create",
    "pycontainers.runtime.delete",
    "pycontainers.runtime.flagparse",
    "pycontainers.runtime.logs",
    "pycontainers.runtime.monitor_bin",
    "pycontainers.runtime.options",
    "pycontainers.runtime.resolve",
    "pycontainers.runtime.start",
    "pycontainers.runtime.volumes",
    "pycontainers.security._seccomp_json",
    "pycontainers.security._seccomp_source",
    *_ENGINE,
)
"""The modules a server imports (a unit test checks that ``run``'s path is covered)."""

PRELOAD_RUNTIME = (
    # what the OCI runtime's `create` and `exec` load
    "pycontainers.ociruntime.main",
    "pycontainers.ociruntime.parser",
    "pycontainers.ociruntime.execute",
    "pycontainers.runtime.enter",
    "pycontainers.runtime.exec",
    "pycontainers.ociruntime.commands",
    "pycontainers.ociruntime.create",
    "pycontainers.ociruntime.createargs",
    "pycontainers.ociruntime.bundle",
    "pycontainers.ociruntime.hooks",
    "pycontainers.ociruntime.report",
    "pycontainers.ociruntime.store",
    "pycontainers.oci.resources",
    "pycontainers.runtime._childsetup",
    "pycontainers.runtime._remote",
    *_ENGINE,
)
"""What a server for the OCI runtime imports."""

Snapshot = dict[str, tuple[int, int, int]]


def preload(names: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import ``names``; the ones that failed (a server without them still works: a worker
    imports them itself, as the cold path does).
    """
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    return failed


def _stat(path: str) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1, -1)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def snapshot(extra: list[str]) -> Snapshot:
    """(mtime ns, size, inode) of every loaded module's file and of ``extra``."""
    paths = set(extra)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            paths.add(path)
    return {path: _stat(path) for path in sorted(paths)}


def changed(snap: Snapshot) -> str | None:
    """The first file of ``snap`` that is not as it was, else None."""
    for path, was in snap.items():
        if _stat(path) != was:
            return path
    return None
