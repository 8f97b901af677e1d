"""The full spec of a container on disk, so any process can start it again (restart
policies, ``pycontainers start`` of a stopped container).

``<state dir>/spec.bin`` is a pickle of the frozen :class:`ContainerSpec` and its launch
options behind a SHA-256 of the payload: a truncated or altered file is detected and
refused, never half-used. The state directory is root's (0700), like runc's state.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from typing import Any

from pycontainers._files import write_atomic
from pycontainers.errors import ContainerError

_MAGIC = b"pycontainers-spec-1\n"
SPEC_NAME = "spec.bin"


def save_spec(state_dir: str, spec: Any, options: dict[str, Any]) -> None:
    """Write ``spec`` and the launch ``options`` atomically."""
    payload = pickle.dumps((spec, options), protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest().encode()
    write_atomic(os.path.join(state_dir, SPEC_NAME), _MAGIC + digest + b"\n" + payload)


def load_spec(state_dir: str) -> tuple[Any, dict[str, Any]]:
    """Read back ``(spec, options)``; a missing, truncated or corrupt file is a ContainerError."""
    path = os.path.join(state_dir, SPEC_NAME)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ContainerError(
            f"container {os.path.basename(state_dir)[:12]} has no saved spec"
        ) from None
    except PermissionError:
        raise ContainerError(
            f"container {os.path.basename(state_dir)[:12]}: its spec file {path} is not readable "
            f"by this user (uid {os.geteuid()}); only the container's owner can use it"
        ) from None
    except OSError as exc:
        raise ContainerError(f"cannot read container spec file {path}: {exc.strerror}") from None
    head = len(_MAGIC) + 65
    if not data.startswith(_MAGIC) or len(data) < head:
        raise ContainerError(f"corrupt container spec file {path}: bad header")
    digest, payload = data[len(_MAGIC) : head - 1], data[head:]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise ContainerError(f"corrupt container spec file {path}: checksum mismatch")
    try:
        spec, options = pickle.loads(payload)  # our own root-only file, checksummed
    except Exception as exc:
        raise ContainerError(f"corrupt container spec file {path}: {exc}") from None
    return spec, dict(options)


__all__ = ["SPEC_NAME", "load_spec", "save_spec"]
