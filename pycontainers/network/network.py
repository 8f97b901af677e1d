"""``Network``: named bridge networks — create, list, inspect, remove — kept on disk.

A network is a bridge (``pc0`` for the default network ``bridge``, ``pcb<hash>`` for user
networks), a subnet whose first address is the bridge's, address leases (:class:`Ipam`)
and netfilter rules in our own nftables table (masquerade out, no traffic between two of
our networks). Definitions live under ``<data root>/networks`` so they outlive a reboot;
the bridge and rules are made again on first use when they are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import NetworkInUse as NetworkInUse
from pycontainers.errors import NetworkNotFound as NetworkNotFound
from pycontainers.errors import PyContainersError, SpecError
from pycontainers.network.ipam import Ipam, Subnet
from pycontainers.network.spec import DEFAULT_NETWORK, check_network_name

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

log = get_logger("pycontainers.network")

DEFAULT_BRIDGE = "pc0"
DEFAULT_SUBNET = IPv4Network("10.88.0.0/16")
_POOL = IPv4Network("10.89.0.0/16")  # user networks get a /24 of it unless told otherwise
_FORMAT = 1


def data_dir(data_root: str | None = None) -> str:
    """Where network definitions and address leases live (``<data root>/networks``)."""
    from pycontainers.paths import default_data_root

    return os.path.join(data_root or default_data_root(), "networks")


def _sha256(text: str) -> str:
    import hashlib  # here: a container's start only reads a network; a create names one

    return hashlib.sha256(text.encode()).hexdigest()


def _bridge_name(name: str) -> str:
    if name == DEFAULT_NETWORK:
        return DEFAULT_BRIDGE
    return "pcb" + _sha256(name)[:10]


@attrs.frozen
class NetworkConfig:
    """The persisted definition of one network."""

    name: str
    id: str
    bridge: str
    subnet: IPv4Network
    mtu: int = 1500
    labels: Mapping[str, str] = attrs.field(factory=dict)
    created: float = 0.0

    @property
    def gateway(self) -> IPv4Interface:
        """The bridge's address: the subnet's first host address."""
        return Subnet(self.subnet).gateway

    def to_json(self) -> str:
        """Serialize."""
        return json.dumps(
            {
                "version": _FORMAT,
                "name": self.name,
                "id": self.id,
                "bridge": self.bridge,
                "subnet": str(self.subnet),
                "mtu": self.mtu,
                "labels": dict(self.labels),
                "created": self.created,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, path: str) -> NetworkConfig:
        """Parse, refusing anything truncated or malformed."""
        try:
            raw: Any = json.loads(text)
            return cls(
                name=check_network_name(str(raw["name"])),
                id=str(raw["id"]),
                bridge=str(raw["bridge"]),
                subnet=IPv4Network(raw["subnet"]),
                mtu=int(raw["mtu"]),
                labels={str(k): str(v) for k, v in dict(raw.get("labels", {})).items()},
                created=float(raw.get("created", 0.0)),
            )
        except (ValueError, KeyError, TypeError, SpecError) as exc:
            raise PyContainersError(
                f"corrupt network definition {path}: {exc}", path=path
            ) from None


def _netfilter() -> Any:
    from pycontainers.network.nft import Netfilter

    return Netfilter()


class Network:
    """A named bridge network. Obtain one with :meth:`create`, :meth:`get` or :meth:`list`."""

    def __init__(self, config: NetworkConfig, data_root: str | None = None) -> None:
        self.config = config
        self._data_root = data_root

    # -- factories -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        *,
        subnet: str | IPv4Network | None = None,
        mtu: int = 1500,
        labels: Mapping[str, str] | None = None,
        data_root: str | None = None,
    ) -> Network:
        """Create network ``name``: its bridge, subnet (a free /24 of 10.89.0.0/16 unless
        given) and rules. An overlapping subnet or a taken name is a SpecError; a failed
        create leaves nothing behind.
        """
        check_network_name(name)
        if not isinstance(mtu, int) or not 68 <= mtu <= 65535:
            raise SpecError("mtu", f"must be an integer in 68..65535, got {mtu!r}")
        if subnet is not None:
            try:
                subnet = IPv4Network(subnet)
            except ValueError as exc:
                raise SpecError("subnet", str(exc)) from None
            if subnet.num_addresses < 4:
                raise SpecError("subnet", f"{subnet} is too small (a /30 at least)")
        with _locked(data_root):
            if os.path.exists(_def_path(name, data_root)):
                raise SpecError("name", f"network {name!r} already exists")
            return cls._create_locked(name, subnet, mtu, dict(labels or {}), data_root)

    @classmethod
    def _create_locked(
        cls,
        name: str,
        subnet: IPv4Network | None,
        mtu: int,
        labels: dict[str, str],
        data_root: str | None,
    ) -> Network:
        from pycontainers.network.links import delete_link, host_networks

        ipam = Ipam(os.path.join(data_dir(data_root), "ipam"))
        taken = [s.network for s in ipam.networks().values()]
        foreign = [n for n in host_networks() if n not in taken and not n.is_loopback]
        if subnet is None:
            subnet = _pick_subnet(name, taken, foreign)
        else:
            for net in foreign:
                if net.overlaps(subnet):
                    raise SpecError("subnet", f"{subnet} overlaps {net}, a network of this host")
        config = NetworkConfig(
            name=name,
            id=_sha256(f"{name}{time.time_ns()}"),
            bridge=_bridge_name(name),
            subnet=subnet,
            mtu=mtu,
            labels=labels,
            created=time.time(),
        )
        ipam.create_network(name, subnet)  # SpecError on overlap with one of ours
        self = cls(config, data_root)
        try:
            self.ensure_up()
            _write_def(config, data_root)
        except BaseException:
            with contextlib.suppress(Exception):
                _netfilter().remove_network(config.bridge)
            with contextlib.suppress(Exception):
                delete_link(config.bridge)
            ipam.remove_network(name, force=True)
            raise
        log.info("network.created", network=name, bridge=config.bridge, subnet=str(subnet))
        from pycontainers.events import record

        record("network", "create", config.id, {"name": name, "type": "bridge"})
        return self

    @classmethod
    def get(cls, name: str, *, data_root: str | None = None) -> Network:
        """The network ``name``; the default network ``bridge`` is made on first use."""
        check_network_name(name)
        path = _def_path(name, data_root)
        try:
            with open(path) as f:
                return cls(NetworkConfig.from_json(f.read(), path), data_root)
        except FileNotFoundError:
            pass
        if name != DEFAULT_NETWORK:
            raise NetworkNotFound(f"network {name!r} not found (create it with Network.create)")
        with _locked(data_root):
            if os.path.exists(path):
                return cls.get(name, data_root=data_root)
            try:
                return cls._create_locked(name, DEFAULT_SUBNET, 1500, {}, data_root)
            except SpecError:  # 10.88.0.0/16 is taken on this host: take a free /24
                return cls._create_locked(name, None, 1500, {}, data_root)

    @classmethod
    def list(cls, *, data_root: str | None = None) -> list[Network]:
        """Every network defined under the data root, by name."""
        directory = data_dir(data_root)
        try:
            names = sorted(n[:-5] for n in os.listdir(directory) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        return [cls.get(n, data_root=data_root) for n in names]

    # -- properties -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The network's name."""
        return self.config.name

    @property
    def id(self) -> str:
        """The network's id (64 hex characters)."""
        return self.config.id

    @property
    def bridge(self) -> str:
        """The host's bridge interface of this network."""
        return self.config.bridge

    @property
    def subnet(self) -> IPv4Network:
        """The network's subnet."""
        return self.config.subnet

    @property
    def gateway(self) -> IPv4Interface:
        """The bridge's address, the containers' default route."""
        return self.config.gateway

    @property
    def data_root(self) -> str | None:
        """The data root this network's definition lives under (None: the default)."""
        return self._data_root

    @property
    def ipam(self) -> Ipam:
        """The address leases of this network's data root."""
        return Ipam(os.path.join(data_dir(self._data_root), "ipam"))

    # -- behaviour ----------------------------------------------------------------------

    def ensure_up(self) -> None:
        """Make the bridge and the netfilter rules exist (again, e.g. after a reboot)."""
        from pycontainers.network.links import ensure_bridge

        ensure_bridge(self.bridge, self.gateway, self.config.mtu)
        _netfilter().ensure_network(self.bridge, self.subnet)

    def containers(self) -> dict[str, IPv4Interface]:
        """The containers (ids) holding an address on this network."""
        return {o.partition(".")[0]: a for o, a in self.ipam.leases(self.name).items()}

    def connect(
        self,
        container: Container | str,
        *,
        aliases: Iterable[str] = (),
        ip: str | IPv4Address | None = None,
        state_root: str | None = None,
    ) -> None:
        """Connect the running or created ``container`` (a :class:`Container`, or its id
        or name under ``state_root``) to this network: one more interface (``eth1``...)
        with an address here (``ip`` if given), reachable by its name and ``aliases`` from
        the containers on this network. The container keeps the network until
        :meth:`disconnect`: a stop tears the interface down, every later start (a restart
        policy too) joins it again before the command runs. A stopped detached container
        gets it at its next start. A created container that left the network it was
        created with gets its first interface back here (``eth0``, default route, published
        ports); a stopped one that left every network gets this one in its stored spec.
        """
        from pycontainers.network.attach import attach

        with _container(container, state_root) as c:
            attach(self, c, aliases=tuple(aliases), ip=ip)

    def disconnect(
        self, container: Container | str, *, force: bool = False, state_root: str | None = None
    ) -> None:
        """Disconnect ``container`` from this network, tearing down only its endpoint here.
        The network a container was created with stays while it runs; a created container
        (not started yet) may leave it, as Docker allows, and :meth:`connect` it again or
        to another network (``force`` removes what a container that is gone left on it).
        Raises :class:`NetworkError` if the container is not on this network.
        """
        from pycontainers.errors import ContainerError, NetworkError
        from pycontainers.network.attach import detach

        root: str | None
        created = False
        if isinstance(container, str):
            try:
                with _container(container, state_root) as c:
                    cid, root, created = c.id, os.path.dirname(c.state_dir), c.status == "created"
            except ContainerError:
                if not force:
                    raise
                cid, root = container, state_root  # a container gone: its id, forced
        else:
            container.reload()
            cid, root = container.id, os.path.dirname(container.state_dir)
            created = container.status == "created"
        if not detach(self, cid, root, force=force, created=created):
            raise NetworkError(f"container {cid[:12]} is not connected to network {self.name!r}")

    def inspect(self) -> dict[str, Any]:
        """A Docker-like description: name, id, driver, IPAM, containers, labels."""
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.config.created)),
            "Driver": "bridge",
            "Options": {"bridge": self.bridge, "mtu": str(self.config.mtu)},
            "IPAM": {"Config": [{"Subnet": str(self.subnet), "Gateway": str(self.gateway.ip)}]},
            "Containers": {
                owner: {"IPv4Address": str(a)} for owner, a in self.containers().items()
            },
            "Labels": dict(self.config.labels),
        }

    def remove(self) -> None:
        """Remove the network: its rules, bridge, leases and definition. A network that
        containers still use is a :class:`NetworkInUse` error (and stays as it was).
        """
        from pycontainers.network.links import delete_link

        with _locked(self._data_root):
            users = self.containers()
            if users:
                raise NetworkInUse(
                    f"network {self.name!r} is in use by {len(users)} container(s): "
                    + ", ".join(o[:12] for o in users)
                )
            _netfilter().remove_network(self.bridge)
            delete_link(self.bridge)
            self.ipam.remove_network(self.name)
            os.unlink(_def_path(self.name, self._data_root))
        log.info("network.removed", network=self.name)
        from pycontainers.events import record

        record("network", "destroy", self.config.id, {"name": self.name, "type": "bridge"})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Network) and other.config == self.config

    def __hash__(self) -> int:
        return hash(self.config.id)

    def __repr__(self) -> str:
        return f"<Network {self.name} {self.subnet} bridge={self.bridge}>"


@contextlib.contextmanager
def _container(container: Container | str, state_root: str | None) -> Iterator[Container]:
    from pycontainers.runtime.container import Container

    if not isinstance(container, str):
        yield container
        return
    c = Container.load(container, state_root=state_root)
    try:
        yield c
    finally:
        c.close()


def _pick_subnet(name: str, taken: list[IPv4Network], foreign: list[IPv4Network]) -> IPv4Network:
    for candidate in _POOL.subnets(new_prefix=24):
        if not any(candidate.overlaps(n) for n in (*taken, *foreign)):
            return candidate
    raise SpecError("subnet", f"no free /24 left in {_POOL} for network {name!r}; give subnet=")


def _def_path(name: str, data_root: str | None) -> str:
    return os.path.join(data_dir(data_root), f"{name}.json")


def _write_def(config: NetworkConfig, data_root: str | None) -> None:
    from pycontainers._files import write_atomic

    write_atomic(_def_path(config.name, data_root), config.to_json().encode())


@contextlib.contextmanager
def _locked(data_root: str | None) -> Iterator[None]:
    from pycontainers._files import locked

    directory = data_dir(data_root)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    with locked(os.path.join(directory, ".lock")):
        yield


__all__ = [
    "DEFAULT_BRIDGE",
    "DEFAULT_SUBNET",
    "Network",
    "NetworkConfig",
    "NetworkInUse",
    "NetworkNotFound",
    "data_dir",
]
