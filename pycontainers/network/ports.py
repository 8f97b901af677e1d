"""Published ports: ``PortMapping``, parsing of docker-py's and Docker's forms, host-port leases.

``parse_ports`` turns what a user writes (``{"80/tcp": 8080}``, ``"127.0.0.1:8080:80"``,
``"8000-8002:80-82/udp"``...) into one :class:`PortMapping` per port. A
:class:`PortAllocator` leases host ports to owners (containers) in one JSON file under an
exclusive ``flock``, resolves random host ports from the ephemeral range and refuses a port
that another owner leases or that a host process has bound. The netfilter rules that make a
mapping work live in :mod:`pycontainers.network.nft`.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from ipaddress import IPv4Address
from typing import Any, Literal

import attrs

from pycontainers._files import locked, write_atomic
from pycontainers._log import get_logger
from pycontainers.errors import PyContainersError, SpecError

log = get_logger("pycontainers.network")

Protocol = Literal["tcp", "udp"]
_PROTOCOLS: tuple[str, ...] = ("tcp", "udp")
_FIELD = "ports"
_FORMAT = 1
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$")
_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
_FORMS = "expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. '127.0.0.1:8080:80/tcp'"


class PortError(PyContainersError):
    """A host port could not be leased, released or read back from disk."""


class PortInUse(PortError):
    """A host port is leased to another owner or bound by a process on the host.

    ``address``, ``port`` and ``protocol`` name the port; ``holder`` says who has it.
    """

    def __init__(self, address: str, port: int, protocol: str, holder: str) -> None:
        super().__init__(f"host port {address}:{port}/{protocol} is already in use: {holder}")
        self.address = address
        self.port = port
        self.protocol = protocol
        self.holder = holder


class PortLeasesCorrupt(PortError):
    """The lease file is unreadable or inconsistent; ``path`` names it. Nothing is changed."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: corrupt port leases: {message}")
        self.path = path


# -- PortMapping ----------------------------------------------------------------------------


def _port_number(minimum: int) -> Any:
    def check(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= 65535:
            raise SpecError(
                _FIELD, f"{attr.name} must be an integer in {minimum}-65535, got {value!r}"
            )

    return check


def _protocol(value: str) -> str:
    proto = value.lower() if isinstance(value, str) else value
    if proto not in _PROTOCOLS:
        raise SpecError(_FIELD, f"protocol must be 'tcp' or 'udp', got {value!r}")
    return str(proto)


def _host_ip(value: str | IPv4Address | None) -> str:
    if value is None or value == "":
        return ""
    try:
        addr = IPv4Address(value)
    except (ValueError, TypeError):
        raise SpecError(
            _FIELD, f"host_ip must be '' (all addresses) or an IPv4 address, got {value!r}"
        ) from None
    return "" if addr.is_unspecified else str(addr)


@attrs.frozen
class PortMapping:
    """One published port: ``host_ip:host_port/protocol`` on the host -> ``container_port``.

    ``host_port`` 0 means "any free port" (resolved by :meth:`PortAllocator.reserve`);
    ``host_ip`` ``""`` (or ``"0.0.0.0"``) means every address of the host.
    """

    container_port: int = attrs.field(validator=_port_number(1))
    protocol: Protocol = attrs.field(default="tcp", converter=_protocol)
    host_port: int = attrs.field(default=0, validator=_port_number(0))
    host_ip: str = attrs.field(default="", converter=_host_ip)

    def __str__(self) -> str:
        host = f"{self.host_ip or '0.0.0.0'}:{self.host_port or '*'}"
        return f"{host}->{self.container_port}/{self.protocol}"

    def clashes(self, other: PortMapping) -> bool:
        """Whether both claim the same host port (same protocol, overlapping addresses)."""
        return (
            self.host_port != 0
            and self.host_port == other.host_port
            and self.protocol == other.protocol
            and (not self.host_ip or not other.host_ip or self.host_ip == other.host_ip)
        )


# -- parsing --------------------------------------------------------------------------------


def _range(text: str, what: str, source: object) -> tuple[int, int]:
    match = _RANGE.match(text.strip())
    if not match:
        raise SpecError(_FIELD, f"{source!r}: {what} {text!r} is not a port or a port range")
    start = int(match.group(1))
    end = int(match.group(2) or start)
    if not 1 <= start <= end <= 65535:
        raise SpecError(_FIELD, f"{source!r}: {what} {text!r} is not within 1-65535 (low-high)")
    return start, end


def _split_protocol(text: str, source: object) -> tuple[str, str]:
    rest, sep, proto = text.rpartition("/")
    if not sep:
        return text, "tcp"
    if proto.lower() not in _PROTOCOLS:
        raise SpecError(_FIELD, f"{source!r}: protocol {proto!r} is not supported (tcp or udp)")
    return rest, proto.lower()


def _expand(
    container: tuple[int, int],
    host: tuple[int, int] | None,
    protocol: str,
    host_ip: str,
    source: object,
) -> list[PortMapping]:
    count = container[1] - container[0] + 1
    if host is not None and host[1] - host[0] + 1 != count:
        raise SpecError(
            _FIELD,
            f"{source!r}: host range {host[0]}-{host[1]} and container range "
            f"{container[0]}-{container[1]} must have the same length",
        )
    try:
        return [
            PortMapping(container[0] + i, protocol, host[0] + i if host else 0, host_ip)
            for i in range(count)
        ]
    except SpecError as exc:
        raise SpecError(_FIELD, f"{source!r}: {str(exc).removeprefix(_FIELD + ': ')}") from None


def _parse_string(text: str) -> list[PortMapping]:
    rest, proto = _split_protocol(text.strip(), text)
    parts = rest.split(":")
    if len(parts) == 1:
        ip, host, container = "", "", parts[0]
    elif len(parts) == 2:
        ip, host, container = "", parts[0], parts[1]
    elif len(parts) == 3:
        ip, host, container = parts
    else:
        raise SpecError(_FIELD, f"{text!r}: {_FORMS} (IPv6 host addresses are not supported)")
    if not container:
        raise SpecError(_FIELD, f"{text!r}: the container port is missing; {_FORMS}")
    host_range = _range(host, "host port", text) if host else None
    try:
        host_ip = _host_ip(ip)
    except SpecError:
        raise SpecError(_FIELD, f"{text!r}: {ip!r} is not an IPv4 address; {_FORMS}") from None
    return _expand(_range(container, "container port", text), host_range, proto, host_ip, text)


def _host_port(value: object, key: object) -> tuple[int, int] | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SpecError(_FIELD, f"{key!r}: host port {value!r} is not a port")
    if isinstance(value, int):
        if value == 0:
            return None
        return _range(str(value), "host port", key)
    if isinstance(value, str):
        return _range(value, "host port", key)
    raise SpecError(_FIELD, f"{key!r}: host port {value!r} is not a port")


def _binding(value: object, key: object) -> tuple[str, tuple[int, int] | None]:
    """One docker-py binding value -> (host_ip, host port range or None for random)."""
    try:
        if isinstance(value, tuple):
            if len(value) == 2:
                return _host_ip(value[0]), _host_port(value[1], key)
            if len(value) == 1:
                if isinstance(value[0], str) and not value[0].isdigit():
                    return _host_ip(value[0]), None
                return "", _host_port(value[0], key)
            raise SpecError(_FIELD, f"{key!r}: expected (host_ip, host_port), got {value!r}")
        if isinstance(value, Mapping):
            return _host_ip(value.get("HostIp")), _host_port(value.get("HostPort"), key)
        return "", _host_port(value, key)
    except SpecError as exc:
        if repr(key) in str(exc):
            raise
        raise SpecError(_FIELD, f"{key!r}: {str(exc).removeprefix(_FIELD + ': ')}") from None


def _parse_mapping(value: Mapping[Any, Any]) -> list[PortMapping]:
    out: list[PortMapping] = []
    for key, raw in value.items():
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise SpecError(_FIELD, f"{key!r} is not a container port such as 80 or '80/udp'")
        text, proto = _split_protocol(str(key), key)
        container = _range(text, "container port", key)
        bindings = raw if isinstance(raw, list) else [raw]
        if not bindings:
            raise SpecError(_FIELD, f"{key!r}: an empty list publishes nothing; use None")
        for binding in bindings:
            host_ip, host = _binding(binding, key)
            out.extend(_expand(container, host, proto, host_ip, key))
    return out


def _parse_item(item: object) -> list[PortMapping]:
    if isinstance(item, PortMapping):
        return [item]
    if isinstance(item, str):
        return _parse_string(item)
    if isinstance(item, int) and not isinstance(item, bool):
        return _expand(_range(str(item), "container port", item), None, "tcp", "", item)
    raise SpecError(_FIELD, f"{item!r} is not a port mapping; {_FORMS}")


def check_unique(mappings: Iterable[PortMapping]) -> None:
    """Raise SpecError if two mappings claim the same host port (same protocol and address)."""
    seen: dict[tuple[str, int], list[PortMapping]] = {}
    for m in mappings:
        if m.host_port == 0:
            continue
        same = seen.setdefault((m.protocol, m.host_port), [])
        for other in same:
            if m.clashes(other):
                raise SpecError(_FIELD, f"{m} and {other} publish the same host port")
        same.append(m)


def parse_ports(value: Any) -> tuple[PortMapping, ...]:
    """Parse published ports from docker-py's dict form or Docker's ``-p`` strings.

    Accepted: a dict ``{container_port: binding}`` whose keys are ``80``, ``"80"``,
    ``"80/udp"`` (or a range ``"80-82/tcp"``) and whose bindings are a host port (int or
    str), ``None`` (random), ``(host_ip, host_port)``, ``(host_ip,)``, ``(host_ip, None)``,
    ``{"HostIp": ..., "HostPort": ...}`` or a list of those; a string such as ``"80"``,
    ``"8080:80"``, ``"127.0.0.1:8080:80"``, ``"127.0.0.1::80"``, ``"8000-8002:80-82/udp"``;
    a :class:`PortMapping`; an int (container port, random host port); or a sequence of
    strings, ints and mappings. Ranges expand to one mapping per port and must have equal
    lengths. Two mappings claiming the same host port raise ``SpecError("ports", ...)``.
    """
    out: list[PortMapping]
    if isinstance(value, Mapping):
        out = _parse_mapping(value)
    elif isinstance(value, (str, int, PortMapping)):
        out = _parse_item(value)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        out = [m for item in value for m in _parse_item(item)]
    else:
        raise SpecError(_FIELD, f"expected a dict, a string or a list of port mappings: {value!r}")
    check_unique(out)
    return tuple(out)


# -- leases ---------------------------------------------------------------------------------


def check_owner(owner: str) -> str:
    """Return ``owner`` if it is a valid lease/rule owner (``[A-Za-z0-9_.:@-]``, 1-100)."""
    if not isinstance(owner, str) or not _OWNER.match(owner):
        raise SpecError("owner", f"{owner!r} is not a valid owner ([A-Za-z0-9_.:@-], 1-100)")
    return owner


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral port range of the calling thread's netns (random host ports)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def _socket_holder(protocol: str, port: int) -> str:
    """Best effort: which process of this netns has a socket bound to ``port``."""
    inodes: set[str] = set()
    for table in (protocol, protocol + "6"):
        try:
            with open(f"/proc/thread-self/net/{table}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    inodes.discard("socket:[0]")
    if inodes:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
                if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                    with open(f"/proc/{pid}/comm") as f:
                        return f"a process on the host holds it (pid {pid}, {f.read().strip()})"
            except OSError:
                continue
    return "a process on the host holds it"


def _try_bind(m: PortMapping, port: int) -> OSError | None:
    """Bind a socket of ``m``'s protocol on its address and ``port`` (no SO_REUSEADDR)."""
    kind = socket.SOCK_STREAM if m.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        try:
            s.bind((m.host_ip or "0.0.0.0", port))
        except OSError as exc:
            return exc
    return None


def _bind_error(m: PortMapping, port: int, exc: OSError) -> PortError:
    address = m.host_ip or "0.0.0.0"
    if exc.errno == errno.EADDRINUSE:
        return PortInUse(address, port, m.protocol, _socket_holder(m.protocol, port))
    if exc.errno == errno.EADDRNOTAVAIL:
        return PortError(f"cannot publish on {address}: it is not an address of this host")
    return PortError(f"cannot bind {address}:{port}/{m.protocol} to test it: {exc.strerror}")


def _load(path: str) -> dict[str, tuple[PortMapping, ...]]:
    try:
        with open(path, "rb") as f:
            doc: Any = json.loads(f.read())
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise PortLeasesCorrupt(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("version") != _FORMAT:
        raise PortLeasesCorrupt(path, f"expected an object of format version {_FORMAT}")
    raw = doc.get("leases")
    if not isinstance(raw, dict):
        raise PortLeasesCorrupt(path, "missing or wrong 'leases'")
    leases: dict[str, tuple[PortMapping, ...]] = {}
    taken: list[tuple[str, PortMapping]] = []
    for owner, items in raw.items():
        try:
            check_owner(owner)
            if not isinstance(items, list):
                raise SpecError("ports", f"expected a list, got {items!r}")
            maps = tuple(PortMapping(**item) for item in items)
        except (SpecError, TypeError) as exc:
            raise PortLeasesCorrupt(path, f"bad lease of {owner!r}: {exc}") from None
        for m in maps:
            if m.host_port == 0:
                raise PortLeasesCorrupt(path, f"lease {m} of {owner!r} has no host port")
            clash = next((o for o, t in taken if t.clashes(m)), None)
            if clash is not None:
                raise PortLeasesCorrupt(path, f"{m} is leased twice ({clash!r}, {owner!r})")
            taken.append((owner, m))
        leases[owner] = maps
    return leases


def _dump(leases: Mapping[str, Sequence[PortMapping]]) -> bytes:
    doc = {
        "version": _FORMAT,
        "leases": {o: [attrs.asdict(m) for m in ms] for o, ms in sorted(leases.items()) if ms},
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


class PortAllocator:
    """Host-port leases of owners (containers), kept in ``<state_dir>/ports.json``.

    Safe across threads and processes: every operation holds an exclusive ``flock`` on
    ``<state_dir>/ports.lock`` and every write is atomic. Bind tests run in the calling
    thread's network namespace, which must be the one the ports are published in.
    """

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self._dir = os.path.abspath(os.fspath(state_dir))
        os.makedirs(self._dir, mode=0o700, exist_ok=True)
        self._path = os.path.join(self._dir, "ports.json")
        self._lock = os.path.join(self._dir, "ports.lock")

    @property
    def path(self) -> str:
        """The lease file."""
        return self._path

    def reserve(self, owner: str, mappings: Any) -> tuple[PortMapping, ...]:
        """Lease the host ports of ``mappings`` to ``owner``; return them with ports resolved.

        ``mappings`` is anything :func:`parse_ports` accepts. Host port 0 becomes a free
        port of the ephemeral range. The result replaces any earlier leases of ``owner``.
        Raises :class:`PortInUse` if a port is leased to another owner or cannot be bound
        on the host; then nothing is leased (earlier leases of ``owner`` stay as they were).
        """
        check_owner(owner)
        wanted = parse_ports(mappings)
        with locked(self._lock):
            leases = _load(self._path)
            taken = [(o, m) for o, ms in leases.items() if o != owner for m in ms]
            resolved: list[PortMapping | None] = [None] * len(wanted)
            for i, m in enumerate(wanted):
                if m.host_port:
                    clash = next(((o, t) for o, t in taken if t.clashes(m)), None)
                    if clash is not None:
                        address = m.host_ip or "0.0.0.0"
                        holder = f"leased to {clash[0]!r} ({clash[1]})"
                        raise PortInUse(address, m.host_port, m.protocol, holder)
                    error = _try_bind(m, m.host_port)
                    if error is not None:
                        raise _bind_error(m, m.host_port, error)
                    resolved[i] = m
            fixed = [(owner, m) for m in resolved if m is not None]
            for i, m in enumerate(wanted):
                if not m.host_port:
                    picked = self._pick(m, taken + fixed)
                    resolved[i] = picked
                    fixed.append((owner, picked))
            result = tuple(m for m in resolved if m is not None)
            if result:
                leases[owner] = result
            else:
                leases.pop(owner, None)
            write_atomic(self._path, _dump(leases))
        log.info("ports.reserved", owner=owner, ports=[str(m) for m in result])
        return result

    @staticmethod
    def _pick(m: PortMapping, taken: list[tuple[str, PortMapping]]) -> PortMapping:
        low, high = ephemeral_range()
        count = high - low + 1
        start = random.randrange(count)
        for step in range(count):
            candidate = attrs.evolve(m, host_port=low + (start + step) % count)
            if any(t.clashes(candidate) for _, t in taken):
                continue
            if _try_bind(candidate, candidate.host_port) is None:
                return candidate
        raise PortError(
            f"no free host port for {m} in the ephemeral range {low}-{high} "
            "(/proc/sys/net/ipv4/ip_local_port_range)"
        )

    def release(self, owner: str) -> bool:
        """Drop every lease of ``owner``; False if it held none."""
        with locked(self._lock):
            leases = _load(self._path)
            if leases.pop(owner, None) is None:
                return False
            write_atomic(self._path, _dump(leases))
        log.info("ports.released", owner=owner)
        return True

    def leases(self) -> dict[str, tuple[PortMapping, ...]]:
        """Every owner and the host ports it leases."""
        with locked(self._lock):
            return _load(self._path)

    def owners(self) -> set[str]:
        """The owners that hold leases (for garbage collection)."""
        return set(self.leases())


__all__ = [
    "PortAllocator",
    "PortError",
    "PortInUse",
    "PortLeasesCorrupt",
    "PortMapping",
    "check_owner",
    "check_unique",
    "ephemeral_range",
    "parse_ports",
]
