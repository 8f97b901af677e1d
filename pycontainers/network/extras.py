"""The networks a container joins besides the one of its stored spec.

Docker keeps every network a container was connected to until it is disconnected: a stop
tears the endpoints down, the next start (``docker start``, a restart policy) makes them
again. The stored spec names one network (the first: ``eth0``, the default route, the
published ports); the others are kept here, in the container's state directory
(:data:`EXTRA_NAME`: a JSON list of :class:`~pycontainers.network.spec.NetworkSpec`, each
with its network, aliases and the address asked for, if any), written by
:func:`pycontainers.network.attach.attach` and removed by
:func:`~pycontainers.network.attach.detach`; a container started again
(:func:`pycontainers.runtime.monitored.start_again`) joins each of them before its command
runs.
"""

from __future__ import annotations

import json
import os

from pycontainers.errors import NetworkError
from pycontainers.network.spec import NetworkSpec

__all__ = ["EXTRA_NAME", "forget", "load", "remember"]

EXTRA_NAME = "networks.json"
"""In a container's state directory: the networks it joins at each start besides the one
its stored spec names (see the module)."""


def load(state_dir: str) -> list[NetworkSpec]:
    """The networks recorded for the container of ``state_dir``, in the order connected
    (none without the file); a corrupt file raises :class:`NetworkError` naming it.
    """
    from pycontainers.oci._codec import decode

    path = os.path.join(state_dir, EXTRA_NAME)
    try:
        with open(path, "rb") as f:
            value = [decode(item, EXTRA_NAME) for item in json.loads(f.read())]
    except FileNotFoundError:
        return []
    except (ValueError, TypeError) as exc:  # (CodecError is a ValueError)
        raise NetworkError(f"corrupt network list {path}: {exc}", path=path) from None
    if not all(isinstance(v, NetworkSpec) and v.network for v in value):
        raise NetworkError(f"corrupt network list {path}: not a list of networks", path=path)
    return value


def _save(state_dir: str, specs: list[NetworkSpec]) -> None:
    from pycontainers._files import write_atomic
    from pycontainers.oci._codec import encode

    path = os.path.join(state_dir, EXTRA_NAME)
    if not specs:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    text = json.dumps([encode(s) for s in specs], sort_keys=True)
    write_atomic(path, text.encode(), durable=False)


def remember(state_dir: str, spec: NetworkSpec) -> None:
    """Record ``spec`` (replacing an earlier record of its network). The caller holds the
    endpoints' lock.
    """
    kept = [s for s in load(state_dir) if s.network != spec.network]
    _save(state_dir, [*kept, spec])


def forget(state_dir: str, network: str) -> bool:
    """Drop the record of ``network``; False if there was none. The caller holds the
    endpoints' lock.
    """
    specs = load(state_dir)
    kept = [s for s in specs if s.network != network]
    if len(kept) == len(specs):
        return False
    _save(state_dir, kept)
    return True
