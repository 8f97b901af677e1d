"""Linux namespaces as objects: inspect, compare, create, persist, enter and run code in them.

>>> from pycontainers.namespaces import Namespace, NamespaceSet
>>> Namespace.of_pid(1, "net") == Namespace.current("net")  # doctest: +SKIP
True
>>> NamespaceSet.of_pid(container_pid).compare(NamespaceSet.current())  # doctest: +SKIP
<NamespaceComparison shared=cgroup,time unshared=ipc,mnt,net,pid,user,uts>
"""

from __future__ import annotations

from pycontainers.namespaces._kinds import NamespaceKind
from pycontainers.namespaces._namespace import Namespace
from pycontainers.namespaces._set import NamespaceComparison, NamespaceSet

__all__ = ["Namespace", "NamespaceComparison", "NamespaceKind", "NamespaceSet"]
