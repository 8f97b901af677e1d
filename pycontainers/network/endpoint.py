"""Endpoints: one container's attachment to a bridge network, from reservation to removal.

``prepare`` (before the container's process exists) takes an address lease and the host
ports, and writes the container's ``/etc/hosts``, ``/etc/hostname`` and ``/etc/resolv.conf``;
``connect`` (between clone and release) moves a veth into the new network namespace, limits
its bandwidth and publishes the ports; ``disconnect`` undoes all of it and is safe to call
twice or from another process. Each endpoint is a JSON record under
``<state root>/network/endpoints``, so :func:`pycontainers.network.gc.collect` can find and
undo the endpoints of containers whose owner died.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Interface
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import PyContainersError
from pycontainers.network.spec import DEFAULT_NETWORK, NetworkSpec

if TYPE_CHECKING:
    from pycontainers.network._portmap import PortMapping
    from pycontainers.spec import Mount

log = get_logger("pycontainers.network")

_HEX = re.compile(r"^[0-9a-f]{11,}$")
_FORMAT = 1


def state_dir(state_root: str | None = None) -> str:
    """``<state root>/network``: endpoint records, port leases, per-container files."""
    from pycontainers.paths import default_state_root

    return os.path.join(state_root or default_state_root(), "network")


def veth_name(owner: str) -> str:
    """The host end's name for ``owner``: ``pc`` + 11 hex characters of its id (or hash)."""
    import hashlib

    from pycontainers.network.links import host_veth_name

    hexid = (
        owner.lower() if _HEX.match(owner.lower()) else hashlib.sha256(owner.encode()).hexdigest()
    )
    return host_veth_name(hexid)


@attrs.frozen
class Endpoint:
    """What one container holds on one network (persisted as JSON)."""

    owner: str
    network: str
    bridge: str
    address: IPv4Interface
    gateway: IPv4Address
    host_veth: str
    mtu: int
    names: tuple[str, ...]
    hostname: str
    ports: tuple[PortMapping, ...] = ()
    spec: NetworkSpec = attrs.field(factory=NetworkSpec)
    pid: int = 0
    starttime: int = 0
    creator: int = 0
    creator_start: int = 0
    container: str = ""
    """The container of an endpoint added to a running one (:mod:`.attach`); empty for
    the endpoint a container was created with, whose ``owner`` is the container id."""

    @property
    def container_id(self) -> str:
        """The id of the container this endpoint belongs to."""
        return self.container or self.owner

    def to_json(self) -> str:
        """Serialize (ports and bandwidth as plain data)."""
        bw = self.spec.bandwidth
        return json.dumps(
            {
                "version": _FORMAT,
                "owner": self.owner,
                "network": self.network,
                "bridge": self.bridge,
                "address": str(self.address),
                "gateway": str(self.gateway),
                "host_veth": self.host_veth,
                "mtu": self.mtu,
                "names": list(self.names),
                "hostname": self.hostname,
                "ports": [_port_dict(p) for p in self.ports],
                "aliases": list(self.spec.aliases),
                "dns": [str(d) for d in self.spec.dns],
                "extra_hosts": [f"{h}:{a}" for h, a in self.spec.extra_hosts],
                "bandwidth": None if bw is None else {"egress": bw.egress, "ingress": bw.ingress},
                "pid": self.pid,
                "starttime": self.starttime,
                "creator": self.creator,
                "creator_start": self.creator_start,
                "container": self.container,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, path: str) -> Endpoint:
        """Parse, refusing anything truncated or malformed."""
        from pycontainers.network._portmap import PortMapping

        try:
            raw: Any = json.loads(text)
            ports = tuple(PortMapping(**p) for p in raw["ports"])
            return cls(
                owner=str(raw["owner"]),
                network=str(raw["network"]),
                bridge=str(raw["bridge"]),
                address=IPv4Interface(raw["address"]),
                gateway=IPv4Address(raw["gateway"]),
                host_veth=str(raw["host_veth"]),
                mtu=int(raw["mtu"]),
                names=tuple(str(n) for n in raw["names"]),
                hostname=str(raw["hostname"]),
                ports=ports,
                spec=NetworkSpec(
                    network=str(raw["network"]),
                    ports=ports,
                    aliases=tuple(raw.get("aliases", ())),
                    dns=tuple(raw.get("dns", ())),
                    extra_hosts=tuple(raw.get("extra_hosts", ())),
                    bandwidth=raw.get("bandwidth"),
                ),
                pid=int(raw["pid"]),
                starttime=int(raw["starttime"]),
                creator=int(raw["creator"]),
                creator_start=int(raw["creator_start"]),
                container=str(raw.get("container", "")),
            )
        except (ValueError, KeyError, TypeError, PyContainersError) as exc:
            raise PyContainersError(
                f"corrupt network endpoint record {path}: {exc}", path=path
            ) from None

    def alive(self) -> bool:
        """Whether the container (or, before it exists, its creator) is still running."""
        from pycontainers._proc import proc_alive

        if self.pid:
            return proc_alive(self.pid, self.starttime)
        return bool(self.creator) and proc_alive(self.creator, self.creator_start)


def _port_dict(p: PortMapping) -> dict[str, Any]:
    return {
        "container_port": p.container_port,
        "protocol": p.protocol,
        "host_port": p.host_port,
        "host_ip": p.host_ip,
    }


class Endpoints:
    """The endpoint records and per-container files under one state root."""

    def __init__(self, state_root: str | None = None) -> None:
        self.dir = state_dir(state_root)
        self.records = os.path.join(self.dir, "endpoints")
        os.makedirs(self.records, mode=0o700, exist_ok=True)

    def record_path(self, owner: str) -> str:
        """The JSON record of ``owner``."""
        return os.path.join(self.records, f"{owner}.json")

    def files(self, owner: str) -> str:
        """The directory of ``owner``'s hosts, hostname and resolv.conf."""
        return os.path.join(self.dir, "files", owner)

    def save(self, endpoint: Endpoint) -> None:
        """Write ``endpoint``'s record atomically (not durably: like a container's own
        state, it describes veths and rules a reboot takes away anyway).
        """
        from pycontainers._files import write_atomic

        write_atomic(self.record_path(endpoint.owner), endpoint.to_json().encode(), durable=False)

    def load(self, owner: str) -> Endpoint | None:
        """``owner``'s record, or None."""
        path = self.record_path(owner)
        try:
            with open(path) as f:
                return Endpoint.from_json(f.read(), path)
        except FileNotFoundError:
            return None

    def all(self) -> list[Endpoint]:
        """Every readable record (a corrupt one is logged and left for :meth:`owners`)."""
        out = []
        for name in sorted(os.listdir(self.records)):
            if name.endswith(".json"):
                try:
                    ep = self.load(name[:-5])
                except PyContainersError as exc:
                    log.warning("network.endpoint_corrupt", path=name, error=str(exc))
                    continue
                if ep is not None:
                    out.append(ep)
        return out

    def owners(self) -> set[str]:
        """The owners that have a record (readable or not)."""
        return {n[:-5] for n in os.listdir(self.records) if n.endswith(".json")}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialize endpoint changes (and the hosts files they rewrite)."""
        from pycontainers._files import locked

        with locked(os.path.join(self.dir, ".lock")):
            yield

    def ports(self) -> Any:
        """The host-port allocator of this state root."""
        from pycontainers.network.ports import PortAllocator

        return PortAllocator(os.path.join(self.dir, "ports"))


def _netfilter() -> Any:
    from pycontainers.network.nft import Netfilter

    return Netfilter()


def prepare(
    spec: NetworkSpec,
    owner: str,
    *,
    name: str | None,
    hostname: str,
    state_root: str | None = None,
    data_root: str | None = None,
) -> Endpoint:
    """Reserve what ``owner`` needs on ``spec.network`` before its process exists: the
    network (and bridge) up, an address, the host ports; write its /etc files. On failure
    nothing stays reserved.
    """
    from pycontainers._proc import proc_starttime
    from pycontainers.network.network import Network

    _collect_once(state_root, data_root)
    network = Network.get(spec.network, data_root=data_root)
    eps = Endpoints(state_root)
    with eps.locked():
        network.ensure_up()
        names = tuple(dict.fromkeys(n for n in (name, *spec.aliases, owner[:12]) if n))
        ports: tuple[PortMapping, ...] = ()
        address = None
        try:
            if spec.ports:
                ports = eps.ports().reserve(owner, spec.ports)
            address = network.ipam.allocate(network.name, owner, spec.ip)
            endpoint = Endpoint(
                owner=owner,
                network=network.name,
                bridge=network.bridge,
                address=address,
                gateway=network.gateway.ip,
                host_veth=veth_name(owner),
                mtu=network.config.mtu,
                names=names,
                hostname=hostname,
                ports=ports,
                spec=spec,
                creator=os.getpid(),
                creator_start=proc_starttime(os.getpid()),
            )
            eps.save(endpoint)
            _write_files(eps, endpoint)
            refresh_hosts(eps, endpoint.network)
        except BaseException:
            _undo(eps, owner, network.name if address is not None else None, None)
            raise
    log.info("network.prepared", owner=owner, network=network.name, address=str(address))
    return endpoint


_collected: set[tuple[str, str]] = set()


def _collect_once(state_root: str | None, data_root: str | None) -> None:
    """The first network use of a process collects what killed processes left behind (the
    cheap pass over files: see :func:`pycontainers.network.gc.collect`).
    """
    from pycontainers.network.gc import collect
    from pycontainers.paths import default_data_root

    key = (state_dir(state_root), data_root or default_data_root())
    if key not in _collected:
        _collected.add(key)
        collect(state_root, data_root, host=False)


def mounts(endpoint: Endpoint, state_root: str | None = None) -> tuple[Mount, ...]:
    """Bind mounts of the endpoint's /etc/hosts, /etc/hostname and /etc/resolv.conf."""
    from pycontainers.spec import Mount

    files = Endpoints(state_root).files(endpoint.owner)
    return tuple(
        Mount(target=f"/etc/{n}", source=os.path.join(files, n), options=("nosuid", "nodev"))
        for n in ("hosts", "hostname", "resolv.conf")
    )


def connect(endpoint: Endpoint, pid: int, state_root: str | None = None) -> Endpoint:
    """Wire ``endpoint`` into the network namespace of ``pid``: veth (eth0 there, address,
    default route), bandwidth limits, published ports. Recorded with the pid.
    """
    from pycontainers._proc import proc_starttime
    from pycontainers.network.links import create_veth_into

    create_veth_into(
        pid,
        endpoint.host_veth,
        "eth0",
        bridge=endpoint.bridge,
        address=endpoint.address,
        gateway=endpoint.gateway,
        mtu=endpoint.mtu,
    )
    if endpoint.spec.bandwidth is not None:
        from pycontainers.network.tc import apply_bandwidth

        apply_bandwidth(endpoint.host_veth, endpoint.spec.bandwidth, container_netns=pid)
    if endpoint.ports:
        _netfilter().publish(endpoint.owner, endpoint.address.ip, endpoint.ports, endpoint.bridge)
    connected = attrs.evolve(endpoint, pid=pid, starttime=proc_starttime(pid))
    Endpoints(state_root).save(connected)
    log.info("network.connected", owner=endpoint.owner, veth=endpoint.host_veth, pid=pid)
    return connected


def disconnect(owner: str, state_root: str | None = None, data_root: str | None = None) -> bool:
    """Undo everything ``owner`` holds on its network, and the endpoints it was given on
    other networks while it ran (idempotent); False if it held nothing.
    """
    eps = Endpoints(state_root)
    with eps.locked():
        extras = [e for e in eps.all() if e.container == owner]
        for extra in extras:
            _undo(eps, extra.owner, extra.network, extra.host_veth, data_root=data_root,
                  rules=False)  # fmt: skip
        endpoint = eps.load(owner)
        network = endpoint.network if endpoint is not None else None
        held = endpoint is not None or os.path.exists(eps.files(owner)) or bool(extras)
        if not held and os.geteuid() != 0:
            return False  # rootless: no bridge, veth or rule can exist, and none is ours to touch
        # the record is saved before any veth or rule exists (connect), so without one only
        # the leases a crash in prepare() may have left can be there: no netlink, no nftables
        veth = endpoint.host_veth if endpoint is not None else veth_name(owner) if held else None
        added = endpoint is not None and bool(endpoint.container)  # no ports, no rules
        # with a record, rules and host-port leases exist only for its ports (prepare
        # reserves them before the record is saved, connect publishes them)
        published = endpoint is None or bool(endpoint.ports)
        _undo(eps, owner, network, veth, data_root=data_root,
              rules=held and not added and published, ports=published)  # fmt: skip
        also = (endpoint.container_id,) if endpoint is not None else ()
        for net in {network, *(e.network for e in extras)}:
            if net is not None:
                refresh_hosts(eps, net, also)
    if held:
        log.info("network.disconnected", owner=owner)
    return held


def _undo(
    eps: Endpoints,
    owner: str,
    network: str | None,
    veth: str | None,
    data_root: str | None = None,
    *,
    rules: bool = True,
    ports: bool = True,
    files: bool = True,
) -> None:
    """Release whatever ``owner`` may hold; each step tolerates what is already gone
    (``rules``: its published-port rules may exist; ``ports``: its host-port leases may;
    ``files``: its /etc files go too — a created container keeps them, bind-mounted, while
    it changes networks).
    """
    from pycontainers.network.ipam import Ipam
    from pycontainers.network.network import data_dir

    errors: list[str] = []

    def step(what: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except FileNotFoundError:
            pass
        except Exception as exc:
            errors.append(f"{what}: {exc}")

    if rules:
        step("rules", lambda: _netfilter().unpublish(owner))
    if ports:
        step("ports", lambda: eps.ports().release(owner))
    if veth is not None:
        from pycontainers.network.links import delete_link

        step("veth", delete_link, veth)
    ipam = Ipam(os.path.join(data_dir(data_root), "ipam"))
    if network is not None:
        step("lease", ipam.release, network, owner)
    else:
        step("lease", ipam.release_owner, owner)
    if not errors:  # else the record stays, so the next collection tries again
        if files:
            step("files", shutil.rmtree, eps.files(owner))
        step("record", os.unlink, eps.record_path(owner))
    if errors:
        raise PyContainersError(f"cleaning up the network of {owner[:12]}: " + "; ".join(errors))


def _resolv_conf(spec: NetworkSpec) -> str:
    servers = [str(s) for s in spec.dns]
    search: list[str] = []
    if not servers:
        try:
            with open("/etc/resolv.conf") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            words = line.split()
            if len(words) >= 2 and words[0] == "nameserver":
                if not words[1].startswith("127.") and ":" not in words[1]:
                    servers.append(words[1])
            elif words and words[0] == "search":
                search = words[1:]
        if not servers:  # as Docker: a host that only has a local resolver gets public ones
            servers = ["8.8.8.8", "8.8.4.4"]
    if spec.dns_search:
        search = [d for d in spec.dns_search if d != "."]  # "." : no search domain at all
    text = "".join(f"nameserver {s}\n" for s in servers)
    if search:
        text += "search " + " ".join(search) + "\n"
    if spec.dns_options:
        text += "options " + " ".join(spec.dns_options) + "\n"
    return text


def _write_files(eps: Endpoints, endpoint: Endpoint) -> None:
    files = eps.files(endpoint.owner)
    os.makedirs(files, mode=0o755, exist_ok=True)
    with open(os.path.join(files, "hostname"), "w") as f:
        f.write(endpoint.hostname + "\n")
    with open(os.path.join(files, "resolv.conf"), "w") as f:
        f.write(_resolv_conf(endpoint.spec))
    with open(os.path.join(files, "hosts"), "w"):
        pass  # filled by refresh_hosts
    for n in ("hostname", "resolv.conf", "hosts"):
        os.chmod(os.path.join(files, n), 0o644)


def _hosts_text(own: Endpoint | None, mine: list[Endpoint], peers: list[Endpoint]) -> str:
    """The hosts file of the container of ``own`` (its first endpoint; None: it has none):
    its own names on each of its endpoints ``mine``, then the peers it shares a user
    network with.
    """
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    lines += [
        f"{ep.address.ip}\t" + " ".join(dict.fromkeys((ep.hostname, *ep.names))) for ep in mine
    ]
    if own is not None:
        lines += [f"{addr}\t{host}" for host, addr in own.spec.extra_hosts]
    lines += [f"{p.address.ip}\t" + " ".join(p.names) for p in peers]
    return "\n".join(lines) + "\n"


def refresh_hosts(eps: Endpoints, network: str, also: tuple[str, ...] = ()) -> None:
    """Rewrite the hosts files of the containers on ``network`` (and of the containers
    ``also``, e.g. one that just left it), in place: the files are bind-mounted, and a rename
    would leave the containers looking at the old inode. As Docker, names resolve on user
    networks only.
    """
    everything = eps.all()
    by_container: dict[str, list[Endpoint]] = {}
    for ep in everything:
        by_container.setdefault(ep.container_id, []).append(ep)
    touched = {ep.container_id for ep in everything if ep.network == network} | set(also)
    for cid in sorted(touched):
        mine = sorted(by_container.get(cid, []), key=lambda e: bool(e.container))
        if not mine:  # off every network (a created container between networks)
            _write_hosts(os.path.join(eps.files(cid), "hosts"), _hosts_text(None, [], []))
            continue
        shared = {e.network for e in mine if e.network != DEFAULT_NETWORK}
        peers = [p for p in everything if p.network in shared and p.container_id != cid]
        _write_hosts(os.path.join(eps.files(cid), "hosts"), _hosts_text(mine[0], mine, peers))


def _write_hosts(path: str, text: str) -> None:
    """Rewrite a hosts file in place (it is bind-mounted); a container without one: skip."""
    try:
        with open(path, "r+") as f:
            f.truncate(0)
            f.write(text)
    except FileNotFoundError:
        pass


__all__ = [
    "Endpoint",
    "Endpoints",
    "connect",
    "disconnect",
    "mounts",
    "prepare",
    "refresh_hosts",
    "state_dir",
    "veth_name",
]
