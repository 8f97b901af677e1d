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
network collector undoes it. :func:`detach` tears down that one endpoint. The network is
also recorded in the container's state directory (:mod:`.extras`) until :func:`detach`:
every later start joins it again, and a stopped detached container may be connected for
its next start, as Docker keeps a container's networks.

A container that is created but not started may also leave the network it was created
with, as Docker allows (docker-compose v1 disconnects every new container and connects it
again with its aliases): :func:`detach` gives back its address, ports, rules and veth but
keeps its /etc files (bind-mounted in the container, rewritten in place), and the next
:func:`attach` makes the container's first endpoint again on the network it names — eth0,
the default route, the published ports of the stored spec, the given aliases — and records
that network and those aliases in the stored spec, so a later start (or restart) uses them.
The stored spec always names what a restart joins: after a created container leaves its
first network it names the network of its next endpoint (one it was connected to besides),
and after the last one it says no network (``network=None``: loopback only, as Docker keeps
a container that was disconnected from everything), so a restart never puts it back. The
network settings it was created with (ports, DNS, limits) are kept beside its state
(:data:`LEFT_NAME`) for the next :func:`attach`.
"""

from __future__ import annotations

import contextlib
import os
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import NetworkError
from pycontainers.network import extras
from pycontainers.network.spec import NetworkSpec

if TYPE_CHECKING:
    from pycontainers.network._portmap import PortMapping
    from pycontainers.network.endpoint import Endpoint, Endpoints
    from pycontainers.network.network import Network
    from pycontainers.runtime.container import Container

__all__ = ["LEFT_NAME", "attach", "detach", "endpoints_of"]

log = get_logger("pycontainers.network")

LEFT_NAME = "network-left.json"
"""In a container's state directory: the network settings of a container whose stored spec
says no network because it left every network (see the module)."""


def _key(container_id: str, network: Network) -> str:
    return f"{container_id}.{network.id[:12]}"


def _state_root(c: Container) -> str:
    return os.path.dirname(c.state_dir)


def endpoints_of(container_id: str, state_root: str | None = None) -> list[Endpoint]:
    """Every endpoint of the container: the one it was created with first, then the ones
    added while it ran.
    """
    from pycontainers.network.endpoint import Endpoints

    eps = Endpoints(state_root)
    found = []
    for owner in sorted(eps.owners()):  # its own record and ``<id>.<network>`` ones only
        if owner == container_id or owner.startswith(container_id + "."):
            ep = eps.load(owner)
            if ep is not None and ep.container_id == container_id:
                found.append(ep)
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
) -> Endpoint | None:
    """Connect the running container ``c`` to ``network`` (see the module). ``aliases`` are
    more names it has there; ``ip`` asks for that address. The network is recorded
    (:mod:`.extras`), so every later start joins it again. A stopped detached container
    gets the network recorded for its next start (in its stored spec when it left every
    network) and None is returned. Raises :class:`NetworkError` if it is neither running,
    created nor a stopped detached one, has no network of its own (``none``, ``host``,
    ``container:``) or is on the network already; on failure nothing is left.
    """
    from pycontainers._proc import proc_starttime
    from pycontainers.network.endpoint import Endpoint, Endpoints, _undo, refresh_hosts, veth_name
    from pycontainers.network.links import create_veth_into

    spec = NetworkSpec(network=network.name, aliases=tuple(aliases))  # checks the names
    wanted = None if ip is None else _address(network, ip)
    c.reload()
    if c.status == "stopped" and c.detached:
        _connect_stopped(network, c, attrs.evolve(spec, ip=wanted))
        return None
    if c.status not in ("running", "created") or not c.pid:
        raise NetworkError(
            f"container {c.name or c.short_id} is not running: only a running or created "
            f"container, or a stopped detached one (which can start again), can be "
            f"connected to network {network.name!r}"
        )
    state_root = _state_root(c)
    eps = Endpoints(state_root)
    key = _key(c.id, network)
    with eps.locked():
        first = eps.load(c.id)
        own = _template(c) if first is None and os.path.isdir(eps.files(c.id)) else None
        if own is not None:
            if eps.load(key) is not None:
                raise NetworkError(
                    f"container {c.name or c.short_id} is already connected to network "
                    f"{network.name!r}"
                )
            return _rejoin(
                network,
                c,
                eps,
                attrs.evolve(own, network=network.name, aliases=spec.aliases, ip=wanted),
            )
        if first is None and os.path.exists(os.path.join(c.state_dir, LEFT_NAME)):
            raise NetworkError(
                f"container {c.name or c.short_id} has no network of its own since it left "
                "every network and was started again without one (loopback and the image's "
                "/etc files only): stop it and connect it then, and its next start joins "
                f"network {network.name!r}"
            )
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
            extras.remember(c.state_dir, attrs.evolve(spec, ip=wanted))  # every start joins it
        except BaseException:
            veth = veth_name(key) if made else None  # a link of that name is not ours
            _undo(eps, key, network.name if lease else None, veth,
                  data_root=network.data_root, rules=False)  # fmt: skip
            refresh_hosts(eps, network.name, (c.id,))
            raise
    log.info("network.attached", container=c.id, network=network.name, address=str(address),
             ifname=ifname)  # fmt: skip
    return endpoint


def _connect_stopped(network: Network, c: Container, spec: NetworkSpec) -> None:
    """Record ``network`` for the next start of the stopped container ``c``: in its stored
    spec when it left every network, else among its further networks (:mod:`.extras`).
    """
    from pycontainers.network.endpoint import Endpoints

    with Endpoints(_state_root(c)).locked():
        left = _left_network(c.state_dir)
        if left is not None:  # (its stored spec says no network)
            _store_network(c, attrs.evolve(left, network=network.name, aliases=spec.aliases,
                                           ip=spec.ip))  # fmt: skip
        else:
            own = _template(c)
            if own is None:
                raise NetworkError(
                    f"container {c.name or c.short_id} has no network of its own (network "
                    "mode none, host or container:) and cannot be connected to another network"
                )
            if own.network == network.name or any(
                s.network == network.name for s in extras.load(c.state_dir)
            ):
                raise NetworkError(
                    f"container {c.name or c.short_id} is already connected to network "
                    f"{network.name!r}"
                )
            extras.remember(c.state_dir, spec)
    log.info("network.stored", container=c.id, network=network.name)


def _rejoin(network: Network, c: Container, eps: Endpoints, spec: NetworkSpec) -> Endpoint:
    """Make the first endpoint of ``c`` (which left the network it was created with) on
    ``network`` from ``spec`` (the stored spec's ports, DNS and limits with the new
    network, aliases and address; see the module). The caller holds the endpoints' lock;
    on failure nothing is left.
    """
    from pycontainers._proc import proc_starttime
    from pycontainers.network.endpoint import Endpoint, _undo, connect, refresh_hosts, veth_name

    wanted = spec.ip
    network.ensure_up()
    lease = made = False
    ports: tuple[PortMapping, ...] = ()
    try:
        ports = eps.ports().reserve(c.id, spec.ports) if spec.ports else ()
        address = network.ipam.allocate(network.name, c.id, wanted)
        lease = True
        names = tuple(dict.fromkeys(n for n in (c.name, *spec.aliases, c.id[:12]) if n))
        endpoint = Endpoint(
            owner=c.id,
            network=network.name,
            bridge=network.bridge,
            address=address,
            gateway=network.gateway.ip,
            host_veth=veth_name(c.id),
            mtu=network.config.mtu,
            names=names,
            hostname=_hostname(eps, c),
            ports=ports,
            spec=spec,
            creator=os.getpid(),
            creator_start=proc_starttime(os.getpid()),
        )
        eps.save(endpoint)  # before the veth: a crash from here on is collected
        made = True
        endpoint = connect(endpoint, c.pid, _state_root(c))  # eth0, default route, ports
        refresh_hosts(eps, network.name, (c.id,))
        _store_network(c, spec)  # what a start, or a restart, will find
    except BaseException:
        _undo(eps, c.id, network.name if lease else None, veth_name(c.id) if made else None,
              data_root=network.data_root, rules=made and bool(ports), files=False)  # fmt: skip
        refresh_hosts(eps, network.name, (c.id,))
        raise
    log.info("network.rejoined", container=c.id, network=network.name, address=str(address))
    return endpoint


def _hostname(eps: Endpoints, c: Container) -> str:
    """The host name the container was created with (its /etc/hostname)."""
    return _files_hostname(eps, c.id) or (c.spec.hostname if c.spec is not None else None) or ""


def _files_hostname(eps: Endpoints, container_id: str) -> str:
    """The host name in the container's /etc/hostname file ("" without one)."""
    try:
        with open(os.path.join(eps.files(container_id), "hostname")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def _template(c: Container) -> NetworkSpec | None:
    """The network settings ``c`` joins a network with: its stored spec's, or those kept
    when it left every network (None: network mode none, host or container:).
    """
    from pycontainers.runtime.specfile import load_spec

    return load_spec(c.state_dir)[0].network or _left_network(c.state_dir)


def _left_network(state_dir: str) -> NetworkSpec | None:
    """The network settings kept in ``state_dir`` when its container left every network."""
    import json

    from pycontainers.oci._codec import decode

    path = os.path.join(state_dir, LEFT_NAME)
    try:
        with open(path) as f:
            value = decode(json.load(f), LEFT_NAME)
    except FileNotFoundError:
        return None
    except ValueError as exc:  # (CodecError is one)
        raise NetworkError(f"corrupt network settings {path}: {exc}", path=path) from None
    if not isinstance(value, NetworkSpec):
        raise NetworkError(f"corrupt network settings {path}: not a NetworkSpec", path=path)
    return value


def _store_network(c: Container, spec: NetworkSpec) -> None:
    """Record ``spec`` as the network of ``c`` in its stored spec (what a restart joins)."""
    from pycontainers._statedir import locked
    from pycontainers.runtime.specfile import load_spec, save_spec

    with locked(c.state_dir, create=False):  # with update's and rename's spec edits
        stored, options = load_spec(c.state_dir)
        c.spec = attrs.evolve(stored, network=spec)
        save_spec(c.state_dir, c.spec, options)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(c.state_dir, LEFT_NAME))


def _settle(eps: Endpoints, container_id: str, state_root: str | None) -> None:
    """After the created container ``container_id`` left a network: unless it still has its
    first endpoint, its stored spec names the network of its next endpoint, or none (its
    settings kept in :data:`LEFT_NAME`, its host name pinned: see the module).
    """
    import json

    from pycontainers._statedir import locked
    from pycontainers.oci._codec import encode
    from pycontainers.paths import default_state_root
    from pycontainers.runtime.specfile import load_spec, save_spec

    if eps.load(container_id) is not None:
        return
    state_dir = os.path.join(state_root or default_state_root(), container_id)
    stored, options = load_spec(state_dir)
    template = stored.network or _left_network(state_dir)
    if template is None:
        return
    remaining = endpoints_of(container_id, state_root)
    network: NetworkSpec | None = None
    if remaining:
        nxt = remaining[0]
        network = attrs.evolve(template, network=nxt.network, aliases=nxt.spec.aliases, ip=None)
        extras.forget(state_dir, nxt.network)  # now the stored spec's own
    else:
        from pycontainers._files import write_atomic

        text = json.dumps(encode(template), sort_keys=True)
        write_atomic(os.path.join(state_dir, LEFT_NAME), text.encode(), durable=False)
    hostname = stored.hostname
    if hostname is None and "uts" in stored.namespaces:  # keep the one it has (/etc/hostname)
        hostname = _files_hostname(eps, container_id) or container_id[:12]
    with locked(state_dir, create=False):  # with update's and rename's spec edits
        again, options = load_spec(state_dir)  # (what they changed meanwhile stays)
        save_spec(state_dir, attrs.evolve(again, network=network, hostname=hostname), options)
    log.info("network.stored", container=container_id,
             network=network.network if network is not None else None)  # fmt: skip


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


def detach(
    network: Network,
    container_id: str,
    state_root: str | None,
    *,
    force: bool,
    created: bool = False,
) -> bool:
    """Disconnect the container ``container_id`` from ``network``: its veth, address lease
    and record there go, the hosts files are rewritten. The network a container was
    created with stays while it runs (its default route and /etc files live on it); a
    ``created`` (not yet started) container may leave it (see the module), and ``force``
    removes what a container that is gone left. False if it was not on the network.
    """
    from pycontainers.network.endpoint import Endpoints, disconnect
    from pycontainers.paths import default_state_root

    eps = Endpoints(state_root)
    first = eps.load(container_id)
    if first is not None and first.network == network.name:
        if force and not first.alive():
            return disconnect(container_id, state_root, network.data_root)
        if created:
            _leave(eps, first, network)
            _settle(eps, container_id, state_root)
            return True
        raise NetworkError(
            f"container {container_id[:12]} was created on network {network.name!r}: it "
            "keeps that network while it exists (its default route and /etc files are "
            "there); remove the container, or connect it to more networks"
        )
    key = _key(container_id, network)
    state_dir = os.path.join(state_root or default_state_root(), container_id)
    if eps.load(key) is None:
        with eps.locked():  # a stopped container connected for its next starts
            return extras.forget(state_dir, network.name)
    disconnect(key, state_root, network.data_root)
    with eps.locked():
        extras.forget(state_dir, network.name)
    log.info("network.detached", container=container_id, network=network.name)
    if created:
        _settle(eps, container_id, state_root)
    return True


def _leave(eps: Endpoints, first: Endpoint, network: Network) -> None:
    """Give back what the created container of ``first`` holds on the network it was
    created with (address, ports, rules, veth, record), keeping its /etc files.
    """
    from pycontainers.network.endpoint import _undo, refresh_hosts

    with eps.locked():
        _undo(eps, first.owner, first.network, first.host_veth, data_root=network.data_root,
              rules=bool(first.ports), files=False)  # fmt: skip
        refresh_hosts(eps, network.name, (first.owner,))
    log.info("network.left", container=first.owner, network=network.name)
