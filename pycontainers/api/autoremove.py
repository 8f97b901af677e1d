"""``HostConfig.AutoRemove`` (``docker run --rm``) done by the daemon itself.

A container created with ``auto_remove`` is otherwise removed by its monitor's exit hook, a
fresh Python process (``python -m pycontainers.runtime.hooks exit``) that imports the
library cold: most of a short ``docker run --rm``. The daemon, whose imports are warm, takes
the container's clean-up claim before it starts (at ``wait?condition=removed``, which the
docker CLI sends first, or at ``start``) — as a foreground ``pycontainers run --rm`` does —
and deletes it from a thread of its own once it exits; the monitor then skips its hook. If
the daemon dies first, the kernel drops the claim and the monitor cleans up as before.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import TYPE_CHECKING

from pycontainers import _log

if TYPE_CHECKING:
    from pycontainers.api.context import Daemon
    from pycontainers.runtime.container import Container

log = _log.get_logger("pycontainers.api")

_KEEP = 256  # finished removals remembered, for a waiter that comes late


def auto_removes(c: Container) -> bool:
    """Whether ``c`` was created with ``auto_remove``: from the create request this daemon
    kept, else (a container the CLI or library made) from its stored options.
    """
    from pycontainers.api.inspect import saved_request
    from pycontainers.errors import ContainerError
    from pycontainers.runtime.specfile import load_spec

    host = saved_request(c).get("HostConfig")
    if isinstance(host, dict):
        return bool(host.get("AutoRemove"))

    try:
        _, options = load_spec(c.state_dir)
    except ContainerError:
        return False
    return bool(getattr(options.get("detach"), "auto_remove", False))


class Removal:
    """One container this daemon removes: its exit status once it exited, then removed."""

    def __init__(self, cid: str) -> None:
        self.id = cid
        self.code: int | None = None
        """The exit status (None: the wait failed, e.g. the container was removed)."""
        self.exited = threading.Event()
        self.removed = threading.Event()


class Removals:
    """The containers this daemon removes when they exit, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._removals: collections.OrderedDict[str, Removal] = collections.OrderedDict()
        self._deleting: set[threading.Thread] = set()

    def get(self, cid: str) -> Removal | None:
        """The removal of ``cid`` under way or recently done, if this daemon has one."""
        with self._lock:
            return self._removals.get(cid)

    def claim(self, d: Daemon, c: Container) -> Removal | None:
        """Before ``c`` starts: if it auto-removes and is still ``created``, claim its
        clean-up and remove it once it exits (blocking; call in a worker thread). None if it
        is not ours to remove.
        """
        existing = self.get(c.id)
        if existing is not None or c.status != "created" or not auto_removes(c):
            return existing
        removal = Removal(c.id)
        with self._lock:
            if c.id in self._removals:
                return self._removals[c.id]
            self._removals[c.id] = removal
            while len(self._removals) > _KEEP:
                oldest = next(iter(self._removals.values()))
                if not oldest.removed.is_set():
                    break
                self._removals.popitem(last=False)
        try:
            owner = d.load(c.id)  # a handle of its own: the claim lasts while it is open
            try:
                owner.claim_cleanup()
            except BaseException:
                owner.close()
                raise
        except BaseException:
            with self._lock:
                self._removals.pop(c.id, None)
            removal.exited.set()
            removal.removed.set()
            raise
        threading.Thread(
            target=self._remove, args=(owner, removal), daemon=True, name="api-autoremove"
        ).start()
        return removal

    def _remove(self, owner: Container, removal: Removal) -> None:
        from pycontainers.errors import PyContainersError

        me = threading.current_thread()
        try:
            removal.code = int(owner.wait())
            removal.exited.set()
            with self._lock:
                self._deleting.add(me)
            owner.delete()
        except (PyContainersError, OSError) as exc:  # removed meanwhile (docker rm -f)
            log.info("api.autoremove_skipped", id=owner.id, reason=str(exc))
        except Exception as exc:
            log.warning("api.autoremove_failed", id=owner.id, error=repr(exc), exc_info=exc)
        finally:
            owner.close()
            removal.exited.set()
            removal.removed.set()
            with self._lock:
                self._deleting.discard(me)

    def join(self, timeout: float) -> None:
        """At shutdown: let the deletes under way finish (the containers still running are
        left to their monitors, which clean up once the daemon's claims are gone).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._deleting)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


__all__ = ["Removal", "Removals", "auto_removes"]
