"""The full spec of a container on disk: its runtime-spec ``config.json``.

``<state dir>/config.json`` is the OCI config of the container's resolved
:class:`ContainerSpec` (our extras and the launch options as ``io.pycontainers.*``
annotations; see :mod:`pycontainers.oci`), sealed with a SHA-256 digest: any process, any
later version and any OCI tool can read it, and a truncated, altered or hand-edited file is
refused with the JSON path of the problem, never half-used. Every process that enters the
container takes its security from this file alone. The state directory is root's (0700),
like runc's state.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from pycontainers._files import write_atomic
from pycontainers.errors import ContainerError, SpecError

if TYPE_CHECKING:
    from pycontainers.spec import ContainerSpec

SPEC_NAME = "config.json"


def save_spec(state_dir: str, spec: Any, options: dict[str, Any]) -> None:
    """Write ``spec`` and the launch ``options`` (``name``, ``detach``) atomically."""
    from pycontainers.oci.config import seal, to_config

    doc = seal(to_config(spec, name=options.get("name") or "", detach=options.get("detach")))
    # compact: json's C encoder (an indent takes the pure-Python one, ~2.5 ms a container)
    text = json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
    # runtime state (a reboot voids it): atomic, not fsync'ed (see write_atomic)
    write_atomic(os.path.join(state_dir, SPEC_NAME), text.encode(), durable=False)


def load_spec(state_dir: str) -> tuple[ContainerSpec, dict[str, Any]]:
    """Read back ``(spec, options)``; a missing, unreadable, truncated or corrupt file is a
    ContainerError that names the file and the JSON path of the problem.
    """
    from pycontainers.oci.load import read_config

    path = os.path.join(state_dir, SPEC_NAME)
    short = os.path.basename(state_dir)[:12]
    try:
        loaded = read_config(path, require_digest=True)
    except FileNotFoundError as exc:
        raise ContainerError(
            f"container {short} has no saved spec", errno=exc.errno, path=path
        ) from None
    except PermissionError as exc:
        raise ContainerError(
            f"container {short}: its spec file {path} is not readable by this user "
            f"(uid {os.geteuid()}); only the container's owner can use it",
            errno=exc.errno,
            path=path,
        ) from None
    except OSError as exc:
        raise ContainerError(
            f"cannot read container spec file {path}: {exc.strerror}", errno=exc.errno, path=path
        ) from None
    except SpecError as exc:
        raise ContainerError(f"corrupt container spec file {path}: {exc}", path=path) from None
    return loaded.spec, {"name": loaded.name, "detach": loaded.detach}


def oci_state(container: Any) -> dict[str, Any]:
    """What the runtime-spec ``state`` operation returns for ``container``: ociVersion, id,
    status (creating, created, running, paused, stopped), pid, bundle (its state directory,
    which holds its config.json) and annotations.
    """
    from pycontainers.oci.config import OCI_VERSION

    status = container.status
    with open(os.path.join(container.state_dir, SPEC_NAME), "rb") as f:
        notes = json.loads(f.read()).get("annotations", {})
    out: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "id": container.id,
        "status": status if status != "deleted" else "stopped",
        "bundle": container.state_dir,
        "annotations": notes,
    }
    if status in ("created", "running", "paused"):
        out["pid"] = container.pid
    return out


__all__ = ["SPEC_NAME", "load_spec", "oci_state", "save_spec"]
