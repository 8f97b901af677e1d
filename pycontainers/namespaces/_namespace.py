"""``Namespace``: one Linux namespace, found in /proc, created, persisted, entered or run in."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import ParamSpec, TypeVar

from pycontainers._log import get_logger
from pycontainers.errors import NamespaceError
from pycontainers.namespaces import _persist, _proc
from pycontainers.namespaces._enter import NamespaceEntry
from pycontainers.namespaces._kinds import NamespaceKind
from pycontainers.namespaces._run import run_joined

log = get_logger("pycontainers.namespaces")

P = ParamSpec("P")
R = TypeVar("R")


class Namespace:
    """One Linux namespace, identified by the (device, inode) of its nsfs file.

    Get one with :meth:`of_pid`, :meth:`current`, :meth:`open` or :meth:`create`. Two
    handles on the same namespace compare (and hash) equal, however they were found.
    A handle remembers where the namespace was found (``/proc/PID/ns/KIND`` or a persisted
    file) and checks the identity again each time it opens it, so a handle whose process
    exited stays comparable but can no longer be entered. The kernel reuses the inode
    number of a namespace once it is freed: compare handles of namespaces that are alive.
    """

    __slots__ = ("_device", "_inode", "_kind", "_path", "_persisted", "_pid")

    def __init__(
        self,
        kind: NamespaceKind,
        device: int,
        inode: int,
        *,
        path: str | None,
        pid: int | None = None,
        persisted: _persist.Persisted | None = None,
    ) -> None:
        self._kind = kind
        self._device = device
        self._inode = inode
        self._path = path
        self._pid = pid
        self._persisted = persisted

    # -- finding namespaces ------------------------------------------------------------

    @classmethod
    def of_pid(cls, pid: int, kind: NamespaceKind | str) -> Namespace:
        """Return the namespace of ``kind`` that process ``pid`` is in."""
        k = NamespaceKind.parse(kind)
        st = _proc.stat_pid_ns(pid, k)
        return cls(k, st.st_dev, st.st_ino, path=_proc.pid_path(pid, k), pid=pid)

    @classmethod
    def current(cls, kind: NamespaceKind | str) -> Namespace:
        """Return the namespace of ``kind`` the calling thread is in (inside ``enter()`` too)."""
        k = NamespaceKind.parse(kind)
        path = _proc.task_path(k)
        st = _proc.stat_pid_ns(os.getpid(), k, path)
        return cls(k, st.st_dev, st.st_ino, path=path, pid=os.getpid())

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Namespace:
        """Return the namespace persisted (bind-mounted) at ``path``, learning its kind from it.

        ``path`` may also be a ``/proc/PID/ns/KIND`` file; :meth:`remove` then does not apply.
        """
        where = os.path.abspath(os.fspath(path))
        try:
            fd = os.open(where, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise NamespaceError(
                f"cannot open the namespace file {where}: {exc.strerror}",
                errno=exc.errno,
                path=where,
            ) from exc
        try:
            st = os.fstat(fd)
            if not _proc.is_nsfs(st):
                raise NamespaceError(
                    f"{where} is not a namespace file (not on nsfs): nothing is persisted there"
                )
            kind = _proc.fd_kind(fd)
        finally:
            os.close(fd)
        if where.startswith("/proc/"):  # a /proc/PID/ns link: found, not persisted
            return cls(kind, st.st_dev, st.st_ino, path=where)
        record = _persist.Persisted(where, created_file=False)
        return cls(kind, st.st_dev, st.st_ino, path=where, persisted=record)

    # -- creating and persisting -------------------------------------------------------

    @classmethod
    def create(cls, kind: NamespaceKind | str, path: str | os.PathLike[str]) -> Namespace:
        """Create a new namespace of ``kind`` and persist it by a bind mount on ``path``.

        ``path`` becomes an empty regular file if it does not exist (its directory must).
        Undo with :meth:`remove`. The Python interpreter is never forked: cgroup, ipc, net
        and uts are made by this thread (unshare, bind, setns back), mnt, time and user by a
        holder child of the C shim. A new user namespace maps all ids 1:1. Kind ``pid`` is
        refused: a pid namespace dies with its init, so it cannot outlive a holder.
        """
        k = NamespaceKind.parse(kind)
        where = os.path.abspath(os.fspath(path))
        created = _persist.create(k, where)
        st = os.stat(where)
        log.debug("namespace.created", kind=k.value, path=where, inode=st.st_ino)
        record = _persist.Persisted(where, created_file=created)
        return cls(k, st.st_dev, st.st_ino, path=where, persisted=record)

    def persist(self, path: str | os.PathLike[str]) -> Namespace:
        """Bind-mount this namespace on ``path`` so it outlives its processes; return that handle.

        Like ``ip netns attach``. Undo with :meth:`remove` on the returned handle. A pid
        namespace persisted this way can be inspected and joined only while its init lives.
        """
        where = os.path.abspath(os.fspath(path))
        fd = self.open_fd()
        try:
            created = _persist.bind_fd(fd, self._kind, where)
        finally:
            os.close(fd)
        log.debug("namespace.persisted", kind=self._kind.value, path=where, inode=self._inode)
        record = _persist.Persisted(where, created_file=created)
        return type(self)(self._kind, self._device, self._inode, path=where, persisted=record)

    def remove(self, *, unlink: bool | None = None) -> None:
        """Undo the persistence: lazily unmount (MNT_DETACH) the bind mount, remove the file.

        The file is removed if this handle created it, unless ``unlink`` says otherwise.
        The namespace itself lives on while processes or open fds still use it.
        """
        record = self._persisted
        if record is None:
            raise NamespaceError(f"{self!r} is not persisted: there is nothing to remove")
        do_unlink = record.created_file if unlink is None else unlink
        _persist.unbind(record, self._kind, self.identity, unlink=do_unlink)
        self._persisted = None
        self._path = None
        log.debug("namespace.removed", kind=self._kind.value, path=record.path, unlinked=do_unlink)

    # -- using it ----------------------------------------------------------------------

    def open_fd(self) -> int:
        """Open a new close-on-exec fd on this namespace (for setns); the caller closes it."""
        if self._path is None:
            raise NamespaceError(f"{self!r} was removed and can no longer be opened")
        return _proc.open_ns(self._path, self._kind, self.identity)

    def enter(self) -> AbstractContextManager[Namespace]:
        """Return a context manager that moves the calling thread into this namespace.

        On exit the thread goes back to the namespace it was in before. Only the kinds a
        thread can leave again are allowed: net, uts, ipc, cgroup, and mnt in a
        single-threaded process. user, pid and time raise :class:`NamespaceError`: use
        :meth:`run_in` for them. Leave the block on the thread that entered it. Other
        threads stay where they are, but threads started inside the block inherit the
        namespace (and keep it after the block ends).
        """
        return NamespaceEntry(self._kind, self.open_fd, self._label(), self)

    def run_in(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)`` in a new process inside this namespace; return its result.

        The process is a fresh interpreter (``sys.executable``) started by the C shim after
        setns(), never a fork of this one. ``fn``, its arguments and its result travel
        pickled: with cloudpickle installed lambdas and closures work, otherwise ``fn`` must
        be importable by name. The child gets this process's ``sys.path``. For a mount
        namespace the interpreter and its packages must exist at the same paths inside it.
        Output of ``fn`` is replayed on ``sys.stdout``/``sys.stderr``; an exception raised
        by ``fn`` becomes a :class:`NamespaceError` whose message holds the child's
        traceback and whose ``__cause__`` is the exception, when it can be unpickled.
        """
        if self == Namespace.current(self._kind):
            joins: list[tuple[int, int]] = []
            fds: list[int] = []
        else:
            fds = [self.open_fd()]
            joins = [(fds[0], self._kind.flag)]
        try:
            result: R = run_joined(joins, fn, args, kwargs, label=self._label())
        finally:
            for fd in fds:
                os.close(fd)
        return result

    # -- identity and display ----------------------------------------------------------

    @property
    def kind(self) -> NamespaceKind:
        """The kind of this namespace."""
        return self._kind

    @property
    def inode(self) -> int:
        """The inode number of the namespace (as in ``net:[4026531840]``)."""
        return self._inode

    @property
    def device(self) -> int:
        """The device number of nsfs the inode belongs to."""
        return self._device

    @property
    def identity(self) -> tuple[int, int]:
        """The ``(device, inode)`` pair that identifies the namespace."""
        return (self._device, self._inode)

    @property
    def pid(self) -> int | None:
        """The pid this handle was found through, if any."""
        return self._pid

    @property
    def path(self) -> str | None:
        """Where this handle opens the namespace: ``/proc/...`` or the persisted file."""
        return self._path

    @property
    def persisted_path(self) -> str | None:
        """The file this namespace is bind-mounted on, for handles of persisted namespaces."""
        return None if self._persisted is None else self._persisted.path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Namespace):
            return NotImplemented
        return self.identity == other.identity

    def __hash__(self) -> int:
        return hash(self.identity)

    def __str__(self) -> str:
        return f"{self._kind.value}:[{self._inode}]"

    def __repr__(self) -> str:
        where = ""
        if self._persisted is not None:
            where = f" at {self._persisted.path}"
        elif self._pid is not None:
            where = f" pid={self._pid}"
        return f"<Namespace {self}{where}>"

    def _repr_html_(self) -> str:
        """Kind, inode, where found and owning user namespace as HTML (for notebooks)."""
        from pycontainers._views import repr_html

        return repr_html(self)

    def _label(self) -> str:
        return f"the {self._kind.value} namespace {self._inode}"
