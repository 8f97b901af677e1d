"""Connecting a running container to another network, and disconnecting it again
(``docker network connect|disconnect``).

A container gets its first endpoint when it is created (:mod:`.endpoint`: ``eth0``, the
default route, the published ports, its /etc files). :func:`attach` adds one more endpoint
on another bridge network to the running container: an address lease, then a veth whose
container end is the next free ``ethN`` (no default route: that stays on the first network),
and the hosts files of everyone sharing a network with it rewritten. The endpoint is a
record like the first one, keyed ``<container id>.<network id[:12]>`` and naming its
container, saved before the veth exists, so a failure, a stop of the container
(:func:`.endpoint.disconnect` of the container takes its extra endpoints along) or the
network collector undoes it. :func:`detach` tears down that one endpoint.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from pycontainers._log import get_logger
from pycontainers.errors import NetworkError

if TYPE_CHECKING:
    from pycontainers.network.endpoint import Endpoint
    from pycontainers.network.network import Network
    from pycontainers.runtime.container import Container

__all__ = ["attach", "detach", "endpoints_of"]

log = get_logger("pycontainers.network")


def _key(container_id: str, network: Network) -> str:
    return f"{container_id}.{network.id[:12]}"


def _state_root(c: Container) -> str:
    return os.path.dirname(c.state_dir)


def endpoints_of(container_id: str, state_root: str | None = None) -> list[Endpoint]:
    """Every endpoint of the container: the one it was created with first, then the ones
    added while it ran.
    """
    from pycontainers.network.endpoint import Endpoints

    found = [e for e in Endpoints(state_root).all() if e.container_id == container_id]
    return sorted(found, key=lambda e: (bool(e.container), e.owner))


def _free_ifname(pid: int) -> str:
    from pycontainers.network.links import links_in

    names = set(links_in(pid))
    n = 0
    while f"eth{n}" in names:
        n += 1
    return f"eth{n}"


def attach(
    network: Network,
    c: Container,
    *,
    aliases: tuple[str, ...] = (),
    ip: str | IPv4Address | None = None,
) -> Endpoint:
    """Connect the running container ``c`` to ``network`` (see the module). ``aliases`` are
    more names it has there; ``ip`` asks for that address. Raises :class:`NetworkError`
    if it is not running, has no network of its own (``none``, ``host``, ``container:``)
    or is on the network already; on failure nothing is left.
    """
    from pycontainers._proc import proc_starttime
    from pycontainers.network.endpoint import Endpoint, Endpoints, _undo, refresh_hosts, veth_name
    from pycontainers.network.links import create_veth_into
    from pycontainers.network.spec import NetworkSpec

    spec = NetworkSpec(network=network.name, aliases=tuple(aliases))  # checks the names
    wanted = None if ip is None else _address(network, ip)
    c.reload()
    if c.status != "running" or not c.pid:
        raise NetworkError(
            f"container {c.name or c.short_id} is not running: only a running container "
            f"can be connected to network {network.name!r}"
        )
    state_root = _state_root(c)
    eps = Endpoints(state_root)
    key = _key(c.id, network)
    with eps.locked():
        first = eps.load(c.id)
        if first is None:
            raise NetworkError(
                f"container {c.name or c.short_id} has no network of its own (network mode "
                "none, host or container:) and cannot be connected to another network"
            )
        if first.network == network.name or eps.load(key) is not None:
            raise NetworkError(
                f"container {c.name or c.short_id} is already connected to network {network.name!r}"
            )
        network.ensure_up()
        lease = made = False
        try:
            address = network.ipam.allocate(network.name, key, wanted)
            lease = True
            names = tuple(dict.fromkeys(n for n in (c.name, *spec.aliases, c.id[:12]) if n))
            endpoint = Endpoint(
                owner=key,
                network=network.name,
                bridge=network.bridge,
                address=address,
                gateway=network.gateway.ip,
                host_veth=veth_name(key),
                mtu=network.config.mtu,
                names=names,
                hostname=first.hostname,
                spec=spec,
                pid=c.pid,
                starttime=proc_starttime(c.pid),
                creator=os.getpid(),
                creator_start=proc_starttime(os.getpid()),
                container=c.id,
            )
            eps.save(endpoint)  # before the veth: a crash from here on is collected
            ifname = _free_ifname(c.pid)
            create_veth_into(
                c.pid, endpoint.host_veth, ifname, bridge=endpoint.bridge,
                address=address, mtu=endpoint.mtu,
            )  # fmt: skip
            made = True  # (create_veth_into removes a pair it made and then failed on)
            refresh_hosts(eps, network.name, (c.id,))
        except BaseException:
            veth = veth_name(key) if made else None  # a link of that name is not ours
            _undo(eps, key, network.name if lease else None, veth,
                  data_root=network.data_root, rules=False)  # fmt: skip
            refresh_hosts(eps, network.name, (c.id,))
            raise
    log.info("network.attached", container=c.id, network=network.name, address=str(address),
             ifname=ifname)  # fmt: skip
    return endpoint


def _address(network: Network, ip: str | IPv4Address) -> IPv4Address:
    from pycontainers.errors import SpecError

    try:
        addr = IPv4Address(str(ip))
    except ValueError:
        raise SpecError("ip", f"{ip!r} is not an IPv4 address") from None
    subnet = network.subnet
    if addr not in subnet or addr in (subnet.network_address, subnet.broadcast_address):
        raise SpecError("ip", f"{addr} is not a host address of {network.name!r} ({subnet})")
    if addr == network.gateway.ip:
        raise SpecError("ip", f"{addr} is the gateway of {network.name!r}")
    return addr


def detach(network: Network, container_id: str, state_root: str | None, *, force: bool) -> bool:
    """Disconnect the container ``container_id`` from ``network``: its veth, address lease
    and record there go, the hosts files are rewritten. The network a container was
    created with stays (its default route and /etc files live on it) unless ``force``
    and the container is gone. False if it was not on the network.
    """
    from pycontainers.network.endpoint import Endpoints, disconnect

    eps = Endpoints(state_root)
    first = eps.load(container_id)
    if first is not None and first.network == network.name:
        if force and not first.alive():
            return disconnect(container_id, state_root, network.data_root)
        raise NetworkError(
            f"container {container_id[:12]} was created on network {network.name!r}: it "
            "keeps that network while it exists (its default route and /etc files are "
            "there); remove the container, or connect it to more networks"
        )
    key = _key(container_id, network)
    if eps.load(key) is None:
        return False
    disconnect(key, state_root, network.data_root)
    log.info("network.detached", container=container_id, network=network.name)
    return True
