"""Lazy package exports: a package lists ``name -> module`` and its names load on first use;
and standard-library modules that the short commands load (through attrs) but never use,
deferred to their first use (:func:`defer_stdlib`).
"""

from __future__ import annotations

import _thread
import importlib
import os
import sys
import types

TYPE_CHECKING = False  # typing is not imported at run time (``import pycontainers`` stays lean)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package`` that import ``exports[name]``
    on first access and cache the value in the package's ``namespace``.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return list(namespace.get("__all__", sorted(exports)))

    return __getattr__, __dir__


_LOAD_LOCK = _thread.RLock()


class _Deferred(types.ModuleType):
    """A standard-library module not executed yet: the first attribute it lacks loads the
    real module (which replaces it in ``sys.modules``; its names are copied in here too, so
    those who imported this object see the same values).
    """

    def __getattr__(self, name: str) -> Any:
        real = _load(self)
        return getattr(real, name)

    def __dir__(self) -> list[str]:
        return dir(_load(self))


class _Platform(_Deferred):
    """``platform`` until first use: attrs asks it only ``python_implementation()``, which on
    CPython is always ``"CPython"`` (``platform`` parses ``sys.version`` for it, after
    compiling nine regular expressions at import).
    """

    @staticmethod
    def python_implementation() -> str:
        """``"CPython"`` (this object is made only where ``sys.implementation`` says so)."""
        return "CPython"


def _load(stub: types.ModuleType) -> types.ModuleType:
    name = stub.__name__
    with _LOAD_LOCK:
        if sys.modules.get(name) is stub:
            del sys.modules[name]
        real = importlib.import_module(name)
        vars(stub).update(vars(real))
    return real


DEFERRED = ("platform", "tokenize", "token", "copy", "unicodedata")
"""What :func:`defer_stdlib` defers: modules that attrs' import loads (``platform``,
``copy``, ``unicodedata``; ``tokenize`` and ``token`` through ``inspect``) and whose names a
plain ``run`` or ``create`` never uses. (Not modules our code lists the names of: ``dir()``
of one loads it, ``vars()`` would not.)"""


def defer_stdlib() -> list[str]:
    """Before a short command (the CLI, ``pycontainers-runtime``) imports attrs: the
    standard-library modules of :data:`DEFERRED` load on first use instead (~4 ms here:
    ``platform`` compiles nine regular expressions at import, ``tokenize`` two, ``copy``
    looks for Jython's module along the whole path). Nothing is done for a module already
    imported, off CPython, or with ``PYCONTAINERS_NO_DEFER=1``. Returns the names deferred.
    """
    if os.environ.get("PYCONTAINERS_NO_DEFER") or sys.implementation.name != "cpython":
        return []
    finder = next((f for f in sys.meta_path if getattr(f, "__name__", "") == "PathFinder"), None)
    stdlib = os.path.dirname(types.__file__ or "")
    done = []
    for name in DEFERRED:
        if name in sys.modules or finder is None:
            continue
        spec = finder.find_spec(name, None)
        where = os.path.dirname(spec.origin or "") if spec is not None else ""
        if spec is None or where not in (stdlib, os.path.join(stdlib, "lib-dynload")):
            continue  # (not the standard library's own: left alone)
        kind = _Platform if name == "platform" else _Deferred
        stub = kind(name)
        stub.__spec__ = spec
        sys.modules[name] = stub
        done.append(name)
    return done
