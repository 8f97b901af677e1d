"""IP address management: subnets and leases of named networks, persisted on disk.

Each network is one JSON file ``<state_dir>/<name>.json``; every read-modify-write happens
under an exclusive ``flock`` on ``<state_dir>/ipam.lock`` and every write is atomic (temp
file, fsync, rename), so concurrent processes never hand out the same address.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

import attrs

from pycontainers._files import locked, write_atomic
from pycontainers._log import get_logger
from pycontainers.errors import AddressExhausted as AddressExhausted
from pycontainers.errors import IpamCorrupt as IpamCorrupt
from pycontainers.errors import IpamError as IpamError
from pycontainers.errors import SpecError

log = get_logger("pycontainers.network")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FORMAT = 1


def _parse_network(value: IPv4Network | str) -> IPv4Network:
    if isinstance(value, IPv4Network):
        net = value
    else:
        try:
            net = IPv4Network(value, strict=True)
        except (ValueError, TypeError) as exc:
            raise SpecError(
                "subnet", f"{value!r} is not an IPv4 network in CIDR form: {exc}"
            ) from None
    if net.prefixlen > 30:
        raise SpecError("subnet", f"{net} is too small: a gateway and a host need at least a /30")
    return net


@attrs.frozen
class Subnet:
    """An IPv4 subnet of a network; its gateway is the first host address."""

    network: IPv4Network = attrs.field(converter=_parse_network)

    @property
    def gateway(self) -> IPv4Interface:
        """The gateway (the bridge's address): the first host address, with the prefix."""
        return IPv4Interface((self.network.network_address + 1, self.network.prefixlen))

    @property
    def capacity(self) -> int:
        """How many addresses can be leased (hosts minus the gateway)."""
        return self.network.num_addresses - 3

    def overlaps(self, other: Subnet) -> bool:
        """Whether the two subnets share an address."""
        return self.network.overlaps(other.network)

    def __str__(self) -> str:
        return str(self.network)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError("network", f"{name!r} is not a valid network name ([A-Za-z0-9_.-], 1-64)")
    return name


def _check_owner(owner: str) -> str:
    if not isinstance(owner, str) or not owner or len(owner) > 256 or "\n" in owner:
        raise SpecError("owner", f"{owner!r} is not a valid lease owner (1-256 characters)")
    return owner


@attrs.define
class _State:
    name: str
    subnet: Subnet
    leases: dict[str, IPv4Address]

    def dump(self) -> bytes:
        doc = {
            "version": _FORMAT,
            "name": self.name,
            "subnet": str(self.subnet.network),
            "gateway": str(self.subnet.gateway.ip),
            "leases": {owner: str(addr) for owner, addr in sorted(self.leases.items())},
        }
        return (json.dumps(doc, indent=2) + "\n").encode()


def _load(path: str, name: str) -> _State:
    try:
        with open(path, "rb") as f:
            doc: Any = json.loads(f.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise IpamCorrupt(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("version") != _FORMAT:
        raise IpamCorrupt(path, f"expected an object of format version {_FORMAT}")
    if doc.get("name") != name or not isinstance(doc.get("leases"), dict):
        raise IpamCorrupt(path, "missing or wrong 'name' or 'leases'")
    try:
        subnet = Subnet(doc["subnet"])
    except (SpecError, KeyError) as exc:
        raise IpamCorrupt(path, f"bad 'subnet': {exc}") from None
    leases: dict[str, IPv4Address] = {}
    seen: set[IPv4Address] = set()
    net = subnet.network
    for owner, raw in doc["leases"].items():
        try:
            addr = IPv4Address(raw)
        except (ValueError, TypeError):
            raise IpamCorrupt(path, f"lease of {owner!r} is not an IPv4 address: {raw!r}") from None
        if addr not in net or addr in (net.network_address, net.broadcast_address):
            raise IpamCorrupt(path, f"lease {addr} of {owner!r} is not a host of {net}")
        if addr == subnet.gateway.ip or addr in seen:
            raise IpamCorrupt(path, f"address {addr} is leased twice or is the gateway")
        seen.add(addr)
        leases[owner] = addr
    return _State(name, subnet, leases)


class Ipam:
    """Subnets and address leases of named networks, kept in ``state_dir``.

    Safe across threads and processes: every operation holds an exclusive ``flock``.
    """

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self._dir = os.path.abspath(os.fspath(state_dir))
        os.makedirs(self._dir, mode=0o700, exist_ok=True)

    @property
    def state_dir(self) -> str:
        """The directory holding one JSON file per network."""
        return self._dir

    def _path(self, name: str) -> str:
        return os.path.join(self._dir, f"{name}.json")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with locked(os.path.join(self._dir, "ipam.lock")):
            yield

    def _names(self) -> list[str]:
        return sorted(
            entry[: -len(".json")]
            for entry in os.listdir(self._dir)
            if entry.endswith(".json") and not entry.startswith(".")
        )

    def _state(self, name: str) -> _State:
        path = self._path(_check_name(name))
        if not os.path.exists(path):
            raise IpamError(f"network {name!r} does not exist in {self._dir}")
        return _load(path, name)

    def _save(self, state: _State) -> None:
        write_atomic(self._path(state.name), state.dump())

    # -- networks --------------------------------------------------------------------

    def create_network(self, name: str, subnet: Subnet | IPv4Network | str) -> Subnet:
        """Register network ``name`` on ``subnet``; idempotent for the same subnet.

        Raises SpecError("subnet", ...) naming the network whose subnet overlaps.
        """
        _check_name(name)
        sub = subnet if isinstance(subnet, Subnet) else Subnet(subnet)
        with self._locked():
            for other in self._names():
                state = _load(self._path(other), other)
                if other == name:
                    if state.subnet == sub:
                        return sub
                    raise SpecError("subnet", f"network {name!r} already exists on {state.subnet}")
                if state.subnet.overlaps(sub):
                    raise SpecError("subnet", f"{sub} overlaps {state.subnet} of network {other!r}")
            self._save(_State(name, sub, {}))
        log.info("ipam.network_created", network=name, subnet=str(sub))
        return sub

    def remove_network(self, name: str, *, force: bool = False) -> bool:
        """Forget network ``name``; refuse while it has leases unless ``force``. False if absent."""
        with self._locked():
            path = self._path(_check_name(name))
            if not os.path.exists(path):
                return False
            state = _load(path, name)
            if state.leases and not force:
                raise IpamError(f"network {name!r} still has leases: {sorted(state.leases)}")
            os.unlink(path)
        log.info("ipam.network_removed", network=name)
        return True

    def networks(self) -> dict[str, Subnet]:
        """Every registered network and its subnet."""
        with self._locked():
            return {n: _load(self._path(n), n).subnet for n in self._names()}

    def subnet(self, network: str) -> Subnet:
        """The subnet of ``network``."""
        with self._locked():
            return self._state(network).subnet

    # -- leases ----------------------------------------------------------------------

    def allocate(
        self, network: str, owner: str, address: IPv4Address | None = None
    ) -> IPv4Interface:
        """Lease the lowest free host address of ``network`` to ``owner`` (same one if
        leased), or ``address`` (Docker's ``--ip``: an error if it is outside the subnet,
        the gateway's or another owner's).
        """
        _check_owner(owner)
        with self._locked():
            state = self._state(network)
            net = state.subnet.network
            if owner in state.leases:
                return IPv4Interface((state.leases[owner], net.prefixlen))
            used = set(state.leases.values())
            if address is not None:
                self._check_wanted(network, state, address, used)
                state.leases[owner] = address
                self._save(state)
                log.info("ipam.allocated", network=network, owner=owner, address=str(address))
                return IPv4Interface((address, net.prefixlen))
            first = int(net.network_address) + 2  # skip the network address and the gateway
            for value in range(first, int(net.broadcast_address)):
                addr = IPv4Address(value)
                if addr not in used:
                    break
            else:
                raise AddressExhausted(
                    f"network {network!r} ({net}) is exhausted: all "
                    f"{state.subnet.capacity} addresses are leased"
                )
            state.leases[owner] = addr
            self._save(state)
        log.info("ipam.allocated", network=network, owner=owner, address=str(addr))
        return IPv4Interface((addr, net.prefixlen))

    @staticmethod
    def _check_wanted(
        network: str, state: _State, address: IPv4Address, used: set[IPv4Address]
    ) -> None:
        net = state.subnet.network
        first = int(net.network_address) + 2
        if address not in net:
            raise SpecError("ip", f"{address} is not in network {network!r} ({net})")
        if not first <= int(address) < int(net.broadcast_address):
            raise SpecError("ip", f"{address} is reserved in network {network!r} ({net})")
        if address in used:
            raise SpecError("ip", f"address {address} is already in use on network {network!r}")

    def release(self, network: str, owner: str) -> bool:
        """Release the lease of ``owner`` on ``network``; False if it held none."""
        with self._locked():
            state = self._state(network)
            if state.leases.pop(owner, None) is None:
                return False
            self._save(state)
        log.info("ipam.released", network=network, owner=owner)
        return True

    def leases(self, network: str) -> dict[str, IPv4Interface]:
        """The leases of ``network``: owner -> address with the subnet's prefix."""
        with self._locked():
            state = self._state(network)
        prefix = state.subnet.network.prefixlen
        return {o: IPv4Interface((a, prefix)) for o, a in sorted(state.leases.items())}

    def release_owner(self, owner: str) -> list[str]:
        """Release every lease of ``owner``; return the networks it had leases on."""
        released: list[str] = []
        with self._locked():
            for name in self._names():
                state = _load(self._path(name), name)
                if state.leases.pop(owner, None) is not None:
                    self._save(state)
                    released.append(name)
        if released:
            log.info("ipam.owner_released", owner=owner, networks=released)
        return released


__all__ = ["AddressExhausted", "Ipam", "IpamCorrupt", "IpamError", "Subnet"]
