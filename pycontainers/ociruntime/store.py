"""What the runtime keeps per container besides the engine's state: ``oci.json`` (the
bundle, its annotations and hooks), and the runtime-spec ``state`` document.

A container is ``<root>/<id>``: the engine's ``state.json`` (pid and its start time, status),
the sealed ``config.json`` every entering process takes its security from, the start fifo
while it is ``created``, and ``oci.json``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from pycontainers.errors import OciRuntimeError

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

OCI_FILE = "oci.json"


def container_dir(root: str, container_id: str) -> str:
    """``<root>/<id>`` of an existing container (an error naming it if there is none)."""
    from pycontainers.runtime.state import check_id

    path = os.path.join(root, check_id(container_id))
    if not os.path.isfile(os.path.join(path, OCI_FILE)):
        raise OciRuntimeError(f"container {container_id} does not exist")
    return path


def load(root: str, container_id: str) -> Container:
    """The container ``container_id`` under ``root`` (exact id, no prefixes or names)."""
    from pycontainers.runtime.container import Container

    container_dir(root, container_id)
    return Container.load(container_id, state_root=root)


def write_oci(state_dir: str, doc: dict[str, Any]) -> None:
    """Write ``oci.json`` atomically."""
    from pycontainers._files import write_atomic

    write_atomic(os.path.join(state_dir, OCI_FILE), json.dumps(doc).encode())


def read_oci(state_dir: str) -> dict[str, Any]:
    """Read ``oci.json`` (an error naming the file if it is corrupt)."""
    path = os.path.join(state_dir, OCI_FILE)
    try:
        with open(path, "rb") as f:
            doc: Any = json.loads(f.read())
    except ValueError as exc:
        raise OciRuntimeError(f"corrupt {path}: {exc}", path=path) from None
    if not isinstance(doc, dict):
        raise OciRuntimeError(f"corrupt {path}: not an object", path=path)
    return doc


def state_doc(c: Container, status: str | None = None) -> dict[str, Any]:
    """The runtime-spec state of ``c``: ociVersion, id, status, pid (while it has one),
    bundle, annotations; and runc's rootfs, created and owner.
    """
    from pycontainers.oci.config import OCI_VERSION

    oci = read_oci(c.state_dir)
    status = status or str(c.status)
    if status == "deleted":
        status = "stopped"
    out: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "id": c.id,
        "status": status,
        "pid": c.pid if status in ("creating", "created", "running", "paused") else 0,
        "bundle": oci.get("bundle", ""),
        "rootfs": c.record.rootfs,
        "created": _rfc3339(c.record.created),
        "owner": "",
        "annotations": oci.get("annotations", {}),
    }
    return out


def _rfc3339(t: float) -> str:
    import datetime as dt  # only for state documents: not loaded by every create

    return (
        dt.datetime.fromtimestamp(t, dt.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def container_ids(root: str) -> list[str]:
    """Every container id under ``root`` (those with an ``oci.json``)."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if os.path.isfile(os.path.join(root, n, OCI_FILE)))


__all__ = ["OCI_FILE", "container_dir", "container_ids", "load", "read_oci", "state_doc",
           "write_oci"]  # fmt: skip
