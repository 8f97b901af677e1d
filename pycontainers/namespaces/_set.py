"""``NamespaceSet``: the namespaces of a process, one per kind, and how two sets compare."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import ParamSpec, TypeVar, overload

import attrs

from pycontainers.errors import NamespaceError
from pycontainers.namespaces._kinds import NamespaceKind
from pycontainers.namespaces._namespace import Namespace
from pycontainers.namespaces._run import run_joined

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_ORDER = {kind: i for i, kind in enumerate(NamespaceKind)}


class NamespaceSet(Mapping[NamespaceKind, Namespace]):
    """The namespaces of a process (or any chosen ones), at most one per kind.

    A read-only mapping from :class:`NamespaceKind` to :class:`Namespace`; string keys work
    too (``s["net"]``). Sets are equal when they hold the same namespaces.
    """

    __slots__ = ("_by_kind", "_pid")

    def __init__(self, namespaces: Iterable[Namespace], *, pid: int | None = None) -> None:
        by_kind: dict[NamespaceKind, Namespace] = {}
        for ns in namespaces:
            if ns.kind in by_kind:
                raise ValueError(
                    f"two {ns.kind.value} namespaces given: {by_kind[ns.kind]!r}, {ns!r}"
                )
            by_kind[ns.kind] = ns
        self._by_kind = dict(sorted(by_kind.items(), key=lambda item: _ORDER[item[0]]))
        self._pid = pid

    @classmethod
    def of_pid(cls, pid: int) -> NamespaceSet:
        """Return all namespaces of process ``pid`` (the kinds this kernel has)."""
        if not os.path.exists(f"/proc/{pid}"):
            raise NamespaceError(f"no process with pid {pid}")
        found = [
            Namespace.of_pid(pid, kind)
            for kind in sorted(NamespaceKind.supported(), key=_ORDER.__getitem__)
        ]
        return cls(found, pid=pid)

    @classmethod
    def current(cls) -> NamespaceSet:
        """Return all namespaces of the calling thread."""
        found = [Namespace.current(kind) for kind in NamespaceKind.supported()]
        return cls(found, pid=os.getpid())

    @property
    def pid(self) -> int | None:
        """The pid the set was read from, if any."""
        return self._pid

    def __getitem__(self, kind: NamespaceKind | str) -> Namespace:
        try:
            return self._by_kind[NamespaceKind.parse(kind)]
        except ValueError:
            raise KeyError(kind) from None

    @overload
    def get(self, kind: NamespaceKind | str, /) -> Namespace | None: ...
    @overload
    def get(self, kind: NamespaceKind | str, default: Namespace | T, /) -> Namespace | T: ...
    def get(self, kind: NamespaceKind | str, default: object = None, /) -> object:
        """Return the namespace of ``kind`` (a kind or its name), or ``default``."""
        try:
            return self[kind]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[NamespaceKind]:
        return iter(self._by_kind)

    def __len__(self) -> int:
        return len(self._by_kind)

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NamespaceSet):
            return NotImplemented
        return self._by_kind == other._by_kind

    def __hash__(self) -> int:
        return hash(frozenset(self._by_kind.values()))

    def compare(self, other: NamespaceSet) -> NamespaceComparison:
        """Compare with ``other`` kind by kind (the kinds both sets hold)."""
        shared = {
            kind: ns == other._by_kind[kind] for kind, ns in self._by_kind.items() if kind in other
        }
        return NamespaceComparison(self, other, shared)

    def shared_with(self, other: NamespaceSet) -> frozenset[NamespaceKind]:
        """Return the kinds for which this set and ``other`` are in the same namespace."""
        return self.compare(other).shared_kinds

    def run_in(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)`` in a new process inside all these namespaces.

        Like :meth:`Namespace.run_in` (same pickling rules); the user namespace is joined
        first, and namespaces the calling thread already shares are not joined again.
        With a pid namespace the function runs as a process inside it.
        """
        here = NamespaceSet.current()
        wanted = [ns for kind, ns in self._by_kind.items() if here.get(kind) != ns]
        wanted.sort(key=lambda ns: ns.kind is not NamespaceKind.USER)
        fds: list[int] = []
        try:
            for ns in wanted:
                fds.append(ns.open_fd())
            joins = [(fd, ns.kind.flag) for fd, ns in zip(fds, wanted, strict=True)]
            result: R = run_joined(joins, fn, args, kwargs, label=self._label())
        finally:
            for fd in fds:
                os.close(fd)
        return result

    def __repr__(self) -> str:
        pid = f" pid={self._pid}" if self._pid is not None else ""
        inner = " ".join(str(ns) for ns in self._by_kind.values())
        return f"<NamespaceSet{pid} {inner}>"

    def _repr_html_(self) -> str:
        """Render the set as an HTML table of kind and inode (for notebooks)."""
        from pycontainers._views import repr_html

        return repr_html(self)

    def _label(self) -> str:
        if self._pid is not None:
            return f"the namespaces of pid {self._pid}"
        return "the namespaces " + ", ".join(str(ns) for ns in self._by_kind.values())


def _frozen(shared: Mapping[NamespaceKind, bool]) -> Mapping[NamespaceKind, bool]:
    ordered = sorted(shared.items(), key=lambda item: _ORDER[item[0]])
    return MappingProxyType(dict(ordered))


@attrs.frozen(repr=False)
class NamespaceComparison:
    """How two namespace sets compare: for each kind both hold, whether it is shared.

    ``comparison["net"]`` is True when both are in the same network namespace.
    """

    left: NamespaceSet
    right: NamespaceSet
    shared: Mapping[NamespaceKind, bool] = attrs.field(converter=_frozen, eq=False, hash=False)

    @property
    def shared_kinds(self) -> frozenset[NamespaceKind]:
        """The kinds in which both sides are in the same namespace."""
        return frozenset(kind for kind, same in self.shared.items() if same)

    @property
    def unshared_kinds(self) -> frozenset[NamespaceKind]:
        """The kinds in which the two sides are in different namespaces."""
        return frozenset(kind for kind, same in self.shared.items() if not same)

    @property
    def all_shared(self) -> bool:
        """True if every compared kind is shared (the two sides are in the same place)."""
        return all(self.shared.values())

    def __getitem__(self, kind: NamespaceKind | str) -> bool:
        return self.shared[NamespaceKind.parse(kind)]

    def __repr__(self) -> str:
        def names(kinds: Iterable[NamespaceKind]) -> str:
            return ",".join(k.value for k in kinds) or "-"

        shared = [k for k, same in self.shared.items() if same]
        unshared = [k for k, same in self.shared.items() if not same]
        return f"<NamespaceComparison shared={names(shared)} unshared={names(unshared)}>"

    def _repr_html_(self) -> str:
        """Render the comparison as an HTML table: kind, both inodes, shared or not."""
        from pycontainers._views import repr_html

        return repr_html(self)
