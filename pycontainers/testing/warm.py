"""The warm path of :class:`~pycontainers.testing.Sandbox`: a pool of zygotes.

A :class:`WarmPool` keeps one :class:`~pycontainers.runtime.zygote.Zygote` per sandbox
filesystem (image, mounts, writable /dev/shm), each with its own
:class:`~pycontainers.runtime.call_cgroups.CallGroups`, and replaces a zygote that died.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pycontainers import _log

if TYPE_CHECKING:
    from pycontainers.runtime.zygote import CallOutcome, Zygote
    from pycontainers.spec import ContainerSpec

log = _log.get_logger("pycontainers.testing")

SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The zygote's defaults (the sandbox's env overrides them): a zygote must be
single-threaded to fork, so preloaded numerical libraries start no thread pools."""


@attrs.frozen
class WarmOutcome:
    """A call's :class:`~pycontainers.runtime.zygote.CallOutcome`, and the end of its
    zygote's own stderr when the zygote died.
    """

    call: CallOutcome
    zygote_log: str


class WarmPool:
    """Zygotes for sandboxes that share them; :meth:`close` stops them and removes their
    cgroups. ``preload``: the module names every zygote imports first.
    """

    def __init__(self, preload: Sequence[str]) -> None:
        self.preload = tuple(preload)
        self._id = os.urandom(4).hex()
        self._lock = threading.Lock()
        self._zygotes: dict[Hashable, Zygote] = {}
        self._started = 0
        self._closed = False

    def call(
        self,
        spec: ContainerSpec,
        *,
        writable_shm: bool,
        payload: bytes,
        env: Mapping[str, str],
        timeout: float | None,
        modules: Sequence[str] = (),
    ) -> WarmOutcome:
        """Run one pickled call in a zygote for ``spec`` (started or restarted as needed),
        under the limits of ``spec``.
        """
        from pycontainers.runtime.call_cgroups import call_limits

        zygote = self._zygote(spec, writable_shm)
        outcome = zygote.call(
            payload, env=env, limits=call_limits(spec), timeout=timeout, modules=modules
        )
        tail = ""
        if outcome.zygote_died or not zygote.alive():
            tail = zygote.log_tail()
            self._retire(spec, writable_shm, zygote)
        return WarmOutcome(outcome, tail)

    def _zygote(self, spec: ContainerSpec, writable_shm: bool) -> Zygote:
        from pycontainers.runtime.call_cgroups import CallGroups
        from pycontainers.runtime.zygote import Zygote, call_plan, zygote_spec

        key = (spec.rootfs, spec.mounts, writable_shm)
        with self._lock:
            if self._closed:
                from pycontainers.errors import SandboxError

                raise SandboxError("the sandbox is closed")
            zygote = self._zygotes.get(key)
            if zygote is not None and zygote.alive():
                return zygote
            if zygote is not None:
                log.info("sandbox.zygote_restarted", pid=zygote.pid)
                self._zygotes.pop(key)
                zygote.close()
            env = {
                **SINGLE_THREADED,
                **spec.process.environ(),
                "PYTHONPATH": os.pathsep.join(_python_path()),
            }
            self._started += 1
            zygote = Zygote(
                zygote_spec(spec, sys.executable, env),
                call_plan(spec, writable_shm=writable_shm),
                self.preload,
                groups=CallGroups(spec, f"sandbox-{self._id}-{self._started}"),
            )
            self._zygotes[key] = zygote
            return zygote

    def _retire(self, spec: ContainerSpec, writable_shm: bool, zygote: Zygote) -> None:
        key = (spec.rootfs, spec.mounts, writable_shm)
        with self._lock:
            if self._zygotes.get(key) is zygote:
                del self._zygotes[key]
        zygote.close()

    def close(self) -> None:
        """Stop every zygote (and the calls they run) and remove their cgroups."""
        with self._lock:
            self._closed = True
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for zygote in zygotes:
            zygote.close()


def _python_path() -> list[str]:
    cwd = os.getcwd()
    return [p if os.path.isabs(p) else os.path.join(cwd, p) for p in sys.path if p]
