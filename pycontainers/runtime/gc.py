"""``gc()``: remove what killed processes left behind (``pycontainers system prune``)."""

from __future__ import annotations

from pycontainers.network.gc import NetworkGarbage, collect


def gc(state_root: str | None = None, data_root: str | None = None) -> NetworkGarbage:
    """Collect garbage under the state and data roots: network endpoints whose container
    or creator is gone, and the leases, port leases, nftables rules and veths no live
    container owns. Returns what was removed.
    """
    return collect(state_root, data_root)


__all__ = ["gc"]
