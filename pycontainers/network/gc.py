"""Network garbage collection: what a killed owner left behind — endpoints, leases, port
leases, rules and veths — found by comparing every kind of object with the live endpoints.
"""

from __future__ import annotations

import os
import re
from typing import Any

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import PyContainersError

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


def collect(
    state_root: str | None = None, data_root: str | None = None, *, host: bool = True
) -> NetworkGarbage:
    """Undo the endpoints whose container (or creator) is gone, then remove leases, port
    leases, nftables rules and ``pc…`` veths that no live endpoint owns.

    ``host=False`` is the cheap pass a process makes before its first network use: only
    the files (endpoint records, leases, port leases), no netlink and no nftables. That is
    enough after any crash: an endpoint's record is written before its veth or rules exist
    and removed only after they are gone (a failed removal keeps it for the next pass), so
    a rule or veth without a record can only come from outside; :func:`pycontainers.gc`
    (``pycontainers system prune``) looks for those too.
    """
    from pycontainers.network.endpoint import Endpoints, disconnect
    from pycontainers.network.ipam import Ipam
    from pycontainers.network.network import data_dir

    eps = Endpoints(state_root)
    dead = []

    def undo(owner: str) -> None:
        try:
            disconnect(owner, state_root, data_root)
        except PyContainersError as exc:  # its record stays: the next pass tries again
            log.warning("network.gc_failed", owner=owner, error=str(exc))
        else:
            dead.append(owner)

    for ep in eps.all():
        if not ep.alive():
            undo(ep.owner)
    # records that could not be read (corrupt or truncated) are dropped with their owner's rest
    readable = {ep.owner for ep in eps.all()}
    for owner in eps.owners() - readable:
        undo(owner)
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
        rules: list[str] = []
        veths: list[str] = []
        if host:
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
