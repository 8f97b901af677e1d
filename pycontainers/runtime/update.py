"""The ``update`` operation: change a live container's resource limits, and a detached
container's restart policy (saved in its spec for the next start, and written to
``<state dir>/restart-policy``, which its running monitor reads when the container exits).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pycontainers import _log
from pycontainers.runtime.lifecycle import require

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pycontainers.cgroups._resources import Resources
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.options import LimitOptions


POLICY_FILE = "restart-policy"

log = _log.get_logger("pycontainers.runtime")


def update(
    c: Container,
    resources: Resources | None,
    restart: str | None = None,
    **limits: Unpack[LimitOptions],
) -> None:
    """See :meth:`Container.update`. A policy that cannot be set refuses the whole update
    before any limit is written; refused limits leave the policy as it was.
    """
    if restart is not None:
        from pycontainers.runtime.specfile import load_spec

        _check_policy(c, load_spec(c.state_dir)[1], restart)
    if resources is not None or limits or restart is None:
        require("update", c.status, c.id)
        if resources is not None or limits:
            set_limits(c, resources, limits)
    if restart is not None:
        set_restart_policy(c, restart)


def set_limits(c: Container, resources: Resources | None, limits: Mapping[str, Any]) -> None:
    """Apply the new limits to the live cgroup of ``c`` and store them in its spec, merged
    with the stored ones (a later ``update``, ``inspect``, restart or OCI ``state`` reads
    them), as runc rewrites its state with the new config: under the container's lock, and
    only once the cgroup took them (a refused update stores nothing).
    """
    import attrs

    from pycontainers.cgroups._merge import merge_limits
    from pycontainers.runtime import state as st
    from pycontainers.runtime.specfile import load_spec, save_spec

    with st.locked(c.state_dir, create=False):
        spec, options = load_spec(c.state_dir)
        merged, write = merge_limits(spec.resources, resources, limits)
        c.cgroup.update(write)
        c.spec = attrs.evolve(spec, resources=merged)
        save_spec(c.state_dir, c.spec, options)
    log.info("container.updated", id=c.id, resources=repr(merged))


def set_restart_policy(c: Container, policy: str) -> None:
    """Give the detached container ``c`` the restart ``policy`` (Docker's names): from its
    current run on (its monitor reads it at the exit) and for every later start.
    """
    import attrs

    from pycontainers._files import write_atomic
    from pycontainers.runtime import state as st
    from pycontainers.runtime.specfile import load_spec, save_spec

    with st.locked(c.state_dir, create=False):
        spec, options = load_spec(c.state_dir)
        detach = _check_policy(c, options, policy)
        save_spec(c.state_dir, spec, {**options, "detach": attrs.evolve(detach, restart=policy)})
        write_atomic(os.path.join(c.state_dir, POLICY_FILE), policy.encode() + b"\n")


def _check_policy(c: Container, options: Mapping[str, Any], policy: str) -> Any:
    """The stored detach options of ``c`` if it can take restart ``policy``; else raise."""
    from pycontainers.errors import SpecError
    from pycontainers.supervision import check_restart

    check_restart(policy)
    detach = options.get("detach")
    if detach is None:
        raise SpecError(
            "restart", f"container {c.id[:12]} has no monitor (not detached): no restart policy"
        )
    if detach.auto_remove and policy != "no":
        raise SpecError(
            "restart",
            f"container {c.id[:12]} is removed when it exits (auto_remove): it cannot get "
            f"restart policy {policy!r}",
        )
    return detach


__all__ = ["POLICY_FILE", "set_limits", "set_restart_policy", "update"]
