"""``PortMapping``: one published port as data, and the parsing of docker-py's and Docker's
forms (``{"80/tcp": 8080}``, ``"127.0.0.1:8080:80"``, ``"8000-8002:80-82/udp"``...).

Plain values with their validators (no leases, no sockets): the specs use them,
:mod:`.ports` leases host ports for them and :mod:`.nft` publishes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address
from typing import Any, Literal

import attrs

from pycontainers.errors import SpecError

Protocol = Literal["tcp", "udp"]
_PROTOCOLS: tuple[str, ...] = ("tcp", "udp")
_FIELD = "ports"
_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
_FORMS = "expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. '127.0.0.1:8080:80/tcp'"


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
    # host port 0 means "any free port", as in Docker (-p 0:80, -p 127.0.0.1:0:80)
    host_range = _range(host, "host port", text) if host and host.strip() != "0" else None
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
        return None if value.strip() == "0" else _range(value, "host port", key)
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


__all__ = ["PortMapping", "Protocol", "check_unique", "parse_ports"]
