"""Network garbage collection: what a killed owner left behind — endpoints, leases, port
leases, rules and veths — found by comparing every kind of object with the live endpoints.
"""

from __future__ import annotations

import os
import re
from typing import Any

import attrs

from pycontainers._log import get_logger

log = get_logger("pycontainers.network")

_OUR_VETH = re.compile(r"^pc[0-9a-f]{11}$")


@attrs.frozen
class NetworkGarbage:
    """What :func:`collect` removed."""

    endpoints: tuple[str, ...] = ()
    leases: tuple[str, ...] = ()
    port_leases: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    veths: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any(attrs.astuple(self))


def collect(state_root: str | None = None, data_root: str | None = None) -> NetworkGarbage:
    """Undo the endpoints whose container (or creator) is gone, then remove leases, port
    leases, nftables rules and ``pc…`` veths that no live endpoint owns.
    """
    from pycontainers.network.endpoint import Endpoints, disconnect
    from pycontainers.network.ipam import Ipam
    from pycontainers.network.network import data_dir

    eps = Endpoints(state_root)
    dead = []
    for ep in eps.all():
        if not ep.alive():
            disconnect(ep.owner, state_root, data_root)
            dead.append(ep.owner)
    # records that could not be read (corrupt or truncated) are dropped with their owner's rest
    readable = {ep.owner for ep in eps.all()}
    for owner in eps.owners() - readable:
        disconnect(owner, state_root, data_root)
        dead.append(owner)
    with eps.locked():  # no endpoint is half-prepared while we look
        live = {ep.owner: ep for ep in eps.all()}
        ipam = Ipam(os.path.join(data_dir(data_root), "ipam"))
        leases = []
        for network in ipam.networks():
            for owner in ipam.leases(network):
                if owner not in live:
                    ipam.release(network, owner)
                    leases.append(owner)
        allocator = eps.ports()
        port_leases = [o for o in allocator.owners() if o not in live]
        for owner in port_leases:
            allocator.release(owner)
        nft = _netfilter()
        rules = [o for o in nft.owners() if o not in live]
        for owner in rules:
            nft.unpublish(owner)
        from pycontainers.network.network import Network

        bridges = {n.bridge for n in Network.list(data_root=data_root)}
        veths = _stale_veths({ep.host_veth for ep in live.values()}, bridges)
    found = NetworkGarbage(
        tuple(dead), tuple(leases), tuple(port_leases), tuple(rules), tuple(veths)
    )
    if found:
        log.info("network.gc", **{k: list(v) for k, v in attrs.asdict(found).items()})
    return found


def _netfilter() -> Any:
    from pycontainers.network.nft import Netfilter

    return Netfilter()


def _stale_veths(keep: set[str], bridges: set[str]) -> list[str]:
    """Our veths (``pc`` + 11 hex) on one of our bridges that no live endpoint owns."""
    from pycontainers.network.links import bridge_ports, delete_link

    removed = []
    for name, bridge in bridge_ports().items():
        stale = _OUR_VETH.match(name) and bridge in bridges and name not in keep
        if stale and delete_link(name):
            removed.append(name)
    return removed


__all__ = ["NetworkGarbage", "collect"]
