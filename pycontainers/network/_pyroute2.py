"""pyroute2's ``IPRoute`` and ``NetlinkError``, without the package ``__init__``'s imports.

``import pyroute2`` (and so any ``import pyroute2.<sub>``: Python runs the package first)
imports every API pyroute2 has: NDB, IPDB, conntrack, ethtool, nl80211, ipvs, plan9... some
160 modules, about 100 ms, in every process that sets up a container's network. Links, addresses,
routes and tc need only ``pyroute2.iproute`` and ``pyroute2.netlink.exceptions``.

So, unless something imported ``pyroute2`` already, its package module is made from its
spec with the body deferred: submodules import as usual, and the first use of a name only
the body defines (``pyroute2.NDB``, ``from pyroute2 import IPRoute``) runs the body then, in
that same module (a PEP 562 ``__getattr__``). Other code in the process that uses pyroute2
the usual way sees the whole package, with the same classes.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import threading
from typing import Any

PACKAGE = "pyroute2"
_lock = threading.RLock()


def _defer_package_body() -> None:
    """Put ``pyroute2`` in ``sys.modules`` with its ``__init__`` not run yet (see above)."""
    with _lock:
        if PACKAGE in sys.modules:
            return
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            importlib.import_module(PACKAGE)  # not installed as a package: its own error
            return
        loader = spec.loader
        package = importlib.util.module_from_spec(spec)

        def deferred(name: str) -> Any:
            # A submodule's name is for the import system to load (``from pyroute2 import
            # config``), not a reason to run the body.
            if importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
                raise AttributeError(name)
            with _lock:
                if package.__dict__.get("__getattr__") is deferred:
                    del package.__dict__["__getattr__"]
                    loader.exec_module(package)
            try:
                return package.__dict__[name]
            except KeyError:
                raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

        package.__dict__["__getattr__"] = deferred
        sys.modules[PACKAGE] = package


@functools.cache
def _modules() -> tuple[Any, Any]:
    _defer_package_body()
    return (
        importlib.import_module("pyroute2.iproute"),
        importlib.import_module("pyroute2.netlink.exceptions"),
    )


def iproute() -> Any:
    """A new ``pyroute2.IPRoute`` (a netlink socket in the calling thread's namespace)."""
    return _modules()[0].IPRoute()


def netlink_error() -> type[BaseException]:
    """``pyroute2.NetlinkError``."""
    error: type[BaseException] = _modules()[1].NetlinkError
    return error


__all__ = ["PACKAGE", "iproute", "netlink_error"]
