"""The test session's private roots and the containers its tests start.

Every container a :class:`ContainerFactory` starts carries two labels: ``pycontainers.test``
(the session's id: each pytest process, each xdist worker included, has its own) and
``pycontainers.test.owner`` (``pid:starttime`` of that process). Cleanup finds them by
label: at the end of the test, at the end of the session, at interpreter exit, and — for a
session that was killed outright — at the start of the next session on the same root.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import CleanupError as CleanupError
from pycontainers.errors import PyContainersError
from pycontainers.runtime.options import SpecOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pycontainers.images.image import Image
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.detach import HealthCheck
    from pycontainers.spec import ContainerSpec, OverlayRootfs

log = get_logger("pycontainers.testing")

SESSION_LABEL = "pycontainers.test"
OWNER_LABEL = "pycontainers.test.owner"
TEST_LABEL = "pycontainers.test.node"
ENV_STATE, ENV_ROOT = "PYCONTAINERS_STATE", "PYCONTAINERS_ROOT"


@attrs.frozen
class TestEngine:
    """One pytest process's view of pycontainers: its id and the roots it uses.

    ``state_root`` and ``data_root`` are the session's own temporary roots, or the ones
    the environment (``PYCONTAINERS_STATE``/``PYCONTAINERS_ROOT``) already named.
    """

    __test__ = False  # not a test class, whatever pytest's collection rules say

    id: str
    state_root: str
    data_root: str

    @property
    def labels(self) -> dict[str, str]:
        """The labels that mark a container as started by this session."""
        return {SESSION_LABEL: self.id, OWNER_LABEL: _owner()}


def _owner() -> str:
    from pycontainers.runtime.state import proc_starttime

    return f"{os.getpid()}:{proc_starttime(os.getpid())}"


# -- the process-wide registry of containers still to remove ---------------------------

_live: dict[str, str] = {}  # container id -> state root
_live_lock = threading.Lock()
_atexit_registered = False


def _track(container_id: str, state_root: str) -> None:
    global _atexit_registered
    with _live_lock:
        _live[container_id] = state_root
        if not _atexit_registered:
            atexit.register(remove_tracked)
            _atexit_registered = True


def _untrack(container_id: str) -> None:
    with _live_lock:
        _live.pop(container_id, None)


def remove_tracked() -> list[str]:
    """Remove every container a factory of this process started and did not remove yet."""
    with _live_lock:
        pending = dict(_live)
    removed = []
    for cid, root in pending.items():
        try:
            _remove(cid, root)
            removed.append(cid)
        except Exception as exc:  # at exit: say so, go on with the others
            log.warning("testing.cleanup_failed", id=cid, error=str(exc))
        _untrack(cid)
    return removed


def _remove(container_id: str, state_root: str, stop_timeout: float = 0.0) -> None:
    from pycontainers.errors import ContainerError
    from pycontainers.runtime.container import Container

    try:
        c = Container.load(container_id, state_root=state_root)
    except ContainerError:
        if os.path.isdir(os.path.join(state_root, container_id)):
            from pycontainers.runtime.gc import remove_leftovers

            remove_leftovers(container_id, state_root)
        return
    try:
        if stop_timeout > 0 and c.status in ("running", "paused"):
            c.stop(timeout=stop_timeout)
    finally:
        c.delete()


def remove_labelled(
    state_root: str, labels: Mapping[str, str] | None = None, *, dead_owners: bool = False
) -> list[str]:
    """Remove the containers under ``state_root`` that carry all of ``labels``; with
    ``dead_owners``, those of any test session whose process is gone. Returns their ids.
    """
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.state import proc_alive

    if not os.path.isdir(state_root):
        return []
    removed = []
    for c in Container.list(state_root=state_root):
        mine = labels is not None and all(c.labels.get(k) == v for k, v in labels.items())
        owner = c.labels.get(OWNER_LABEL, "")
        if dead_owners and owner:
            pid, _, start = owner.partition(":")
            mine = mine or (
                pid.isdigit() and start.isdigit() and not proc_alive(int(pid), int(start))
            )
        c.close()
        if mine:
            _remove(c.id, state_root)
            _untrack(c.id)
            removed.append(c.id)
    if removed:
        log.info("testing.removed", containers=removed, state_root=state_root)
    return removed


class FactoryOptions(SpecOptions, total=False):
    """The keywords of a :class:`ContainerFactory` call: :meth:`Container.create`'s for a
    detached container — ``id``, ``name``, ``state_root`` (default: the session's),
    ``labels`` (added to the session's), ``detach`` (only True), ``tty``, ``interactive``,
    ``restart``, ``healthcheck``, ``auto_remove``, ``log_max_size``, ``log_max_files``,
    ``console_socket``, ``stop_timeout``, ``oom_score_adj``, ``log_driver`` — and every
    spec keyword of
    :class:`~pycontainers.runtime.options.SpecOptions` (``memory``, ``network``...).
    """

    id: str | None
    name: str | None
    state_root: str | None
    labels: Mapping[str, str] | None
    detach: Literal[True]
    tty: bool
    interactive: bool
    restart: str
    healthcheck: HealthCheck | str | None
    auto_remove: bool
    log_max_size: int
    log_max_files: int
    console_socket: str | None
    stop_timeout: int | None
    oom_score_adj: int | None
    log_driver: str


class ContainerFactory:
    """Starts detached containers for one test and removes them all afterwards.

    Call it like :meth:`Container.create`: ``factory(image, cmd, **create_kwargs)``
    (keywords: :class:`FactoryOptions`) returns the container, started. :meth:`cleanup` (the fixture calls it at the end of
    the test, whatever the outcome) stops and deletes every one: with SIGTERM and
    ``stop_timeout`` seconds of grace if that is > 0, else (the default) SIGKILL at once.
    """

    def __init__(self, engine: TestEngine, *, test_id: str = "", stop_timeout: float = 0.0) -> None:
        self.engine = engine
        self.test_id = test_id
        self.stop_timeout = stop_timeout
        self.containers: list[Container] = []

    def __call__(
        self,
        image: str | OverlayRootfs | Image | ContainerSpec,
        cmd: Sequence[str] | str | None = None,
        **create_kwargs: Unpack[FactoryOptions],
    ) -> Container:
        """Create ``image`` running ``cmd`` (a string runs under ``/bin/sh -c``), detached,
        labelled for cleanup, and start it. Keywords (:class:`FactoryOptions`) are
        :meth:`Container.create`'s: ``name``, ``restart``, ``healthcheck``, ``memory``...
        """
        from pycontainers.runtime.container import Container

        if create_kwargs.pop("detach", True) is not True:
            raise PyContainersError("container_factory makes detached containers only")
        args = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else cmd
        labels = {**dict(create_kwargs.pop("labels", None) or {}), **self.engine.labels}
        if self.test_id:
            labels[TEST_LABEL] = self.test_id[-200:]
        create_kwargs.setdefault("state_root", self.engine.state_root)
        create_kwargs["detach"], create_kwargs["labels"] = True, labels
        c = Container.create(image, list(args) if args else None, **create_kwargs)
        _track(c.id, os.path.dirname(c.state_dir))
        self.containers.append(c)
        c.start()
        return c

    def cleanup(self) -> None:
        """Stop and delete every container started here (newest first); raise
        :class:`CleanupError` naming those that could not be removed.
        """
        failed = []
        while self.containers:
            c = self.containers.pop()
            try:
                try:
                    if self.stop_timeout > 0 and c.status in ("running", "paused"):
                        c.stop(timeout=self.stop_timeout)
                finally:
                    c.delete()
            except Exception as exc:
                try:  # whatever state it got to, by id
                    _remove(c.id, os.path.dirname(c.state_dir), self.stop_timeout)
                except Exception as again:
                    failed.append(f"{c.id[:12]}: {exc}; then {again}")
            finally:
                _untrack(c.id)
        if failed:
            raise CleanupError("containers not removed: " + "; ".join(failed))
