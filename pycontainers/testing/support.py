"""Can this host run containers? The reason why not, for the plugin's skip markers."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

_NEEDED_NAMESPACES = ("mnt", "pid", "net", "uts", "ipc")


def decide(
    *,
    platform: str,
    euid: int,
    missing_namespaces: list[str],
    userns_problem: str | None,
    probe: Callable[[], str | None],
) -> str | None:
    """The reason containers cannot run (None: they can) from what was observed.

    As root only missing kernel support is a reason (a broken engine must fail tests, not
    skip them); without root, user namespaces must be usable and ``probe`` (a real
    container start, returning an error text or None) must succeed.
    """
    if not platform.startswith("linux"):
        return f"pycontainers needs Linux namespaces; this is {platform}"
    if missing_namespaces:
        return f"the kernel lacks namespaces: {', '.join(missing_namespaces)}"
    if euid == 0:
        return None
    if userns_problem:
        return f"not root (uid {euid}) and no usable user namespaces: {userns_problem}"
    problem = probe()
    if problem:
        return f"not root (uid {euid}) and a rootless container failed to start: {problem}"
    return None


def _userns_problem() -> str | None:
    from pycontainers.check import OK, _user_namespaces

    finding = _user_namespaces()
    if finding.status == OK:
        return None
    return f"{finding.detail} (fix: {finding.fix})" if finding.fix else finding.detail


def _probe() -> str | None:
    try:
        from pycontainers.runtime.run import run

        result = run("host", ["true"], timeout=30)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if result.returncode == 0 else f"'true' exited with {result.returncode}"


@functools.cache
def unavailable_reason() -> str | None:
    """Why this host cannot run containers, or None if it can (computed once)."""
    return decide(
        platform=sys.platform,
        euid=os.geteuid(),
        missing_namespaces=[
            k for k in _NEEDED_NAMESPACES if not os.path.exists(f"/proc/self/ns/{k}")
        ],
        userns_problem=_userns_problem() if os.geteuid() != 0 else None,
        probe=_probe,
    )


def can_run_containers() -> bool:
    """Whether this host can run containers (root, or usable user namespaces)."""
    return unavailable_reason() is None
