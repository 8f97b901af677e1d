"""``NetworkSpec``: how a container joins a bridge network (ports, aliases, DNS, bandwidth)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers.errors import SpecError

if TYPE_CHECKING:
    from pycontainers.network._bandwidth import Bandwidth
    from pycontainers.network._portmap import PortMapping

DEFAULT_NETWORK = "bridge"
"""The name of the default network (bridge ``pc0``), made on first use."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")  # fmt: skip


def check_network_name(value: str, field: str = "network") -> str:
    """Return ``value`` if it is a valid network name (``[A-Za-z0-9_.-]``, 1-64)."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise SpecError(field, f"{value!r} is not a valid network name ([A-Za-z0-9_.-], 1-64)")
    return value


def check_host_name(value: str, field: str) -> str:
    """Return ``value`` if it is a valid DNS name (for aliases and extra hosts)."""
    if not isinstance(value, str) or len(value) > 253 or not _HOST.match(value):
        raise SpecError(field, f"{value!r} is not a valid host name")
    return value


def _ports(value: Any) -> tuple[PortMapping, ...]:
    from pycontainers.network._portmap import parse_ports

    if value is None:
        return ()
    return parse_ports(value)


def _bandwidth(value: Any) -> Bandwidth | None:
    from pycontainers.network._bandwidth import Bandwidth

    if value is None or isinstance(value, Bandwidth):
        return value
    return Bandwidth.parse(value)


def _aliases(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple(check_host_name(a, "aliases") for a in value)


def _dns(value: Iterable[str]) -> tuple[IPv4Address, ...]:
    if isinstance(value, str):
        value = (value,)
    out = []
    for v in value:
        try:
            out.append(IPv4Address(v))
        except ValueError:
            raise SpecError("dns", f"{v!r} is not an IPv4 address") from None
    return tuple(out)


def _extra_hosts(value: Mapping[str, str] | Iterable[str]) -> tuple[tuple[str, IPv4Address], ...]:
    items: Iterable[tuple[str, str]]
    if isinstance(value, Mapping):
        items = value.items()
    else:
        pairs = []
        for entry in value:
            name, sep, addr = str(entry).partition(":")
            if not sep:
                raise SpecError("extra_hosts", f"expected HOST:IP, got {entry!r}")
            pairs.append((name, addr))
        items = pairs
    out = []
    for name, addr in items:
        try:
            out.append((check_host_name(name, "extra_hosts"), IPv4Address(addr)))
        except ValueError:
            raise SpecError("extra_hosts", f"{addr!r} is not an IPv4 address") from None
    return tuple(out)


def _search(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple("." if d == "." else check_host_name(d.rstrip("."), "dns_search") for d in value)


def _dns_options(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    out = []
    for v in value:
        if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9_-]+(:[0-9]+)?", v):
            raise SpecError("dns_options", f"{v!r} is not a resolv.conf option (ndots:2, rotate)")
        out.append(v)
    return tuple(out)


def _ip(value: str | IPv4Address | None) -> IPv4Address | None:
    if value is None or isinstance(value, IPv4Address):
        return value
    try:
        return IPv4Address(value)
    except ValueError:
        raise SpecError("ip", f"{value!r} is not an IPv4 address") from None


@attrs.frozen
class NetworkSpec:
    """A container's place on a bridge network.

    ``network`` is ``"bridge"`` (the default network) or the name of a network made with
    :meth:`pycontainers.Network.create`. ``ports`` publishes container ports on the host
    (docker-py's form ``{"80/tcp": 8080}`` — container port to host port — or Docker's
    ``-p`` strings such as ``"127.0.0.1:8080:80"``). ``aliases`` are extra names the other
    containers of a user network resolve to this one; ``dns`` the resolv.conf name servers
    (default: the host's, without loopback ones); ``extra_hosts`` more /etc/hosts entries;
    ``bandwidth`` egress/ingress limits (``{"egress": "1mbit"}``); ``dns_search``,
    ``dns_options`` for resolv.conf; ``ip`` a fixed address on a user-defined network.
    """

    network: str = attrs.field(
        default=DEFAULT_NETWORK, validator=lambda _s, _a, v: check_network_name(v)
    )
    ports: tuple[PortMapping, ...] = attrs.field(default=(), converter=_ports)
    aliases: tuple[str, ...] = attrs.field(default=(), converter=_aliases)
    dns: tuple[IPv4Address, ...] = attrs.field(default=(), converter=_dns)
    extra_hosts: tuple[tuple[str, IPv4Address], ...] = attrs.field(
        default=(), converter=_extra_hosts
    )
    bandwidth: Bandwidth | None = attrs.field(default=None, converter=_bandwidth)
    dns_search: tuple[str, ...] = attrs.field(
        default=(), converter=_search, metadata={"omit_default": True}
    )
    """resolv.conf ``search`` domains (Docker's ``--dns-search``; default: the host's)."""
    dns_options: tuple[str, ...] = attrs.field(
        default=(), converter=_dns_options, metadata={"omit_default": True}
    )
    """resolv.conf ``options`` (Docker's ``--dns-option``, such as ``ndots:2``)."""
    ip: IPv4Address | None = attrs.field(
        default=None, converter=_ip, metadata={"omit_default": True}
    )
    """The container's address on a user-defined network (Docker's ``--ip``); None: the
    lowest free one."""

    def __attrs_post_init__(self) -> None:
        if self.ip is not None and self.network == DEFAULT_NETWORK:
            raise SpecError(
                "ip", "user specified IP address is supported on user defined networks only"
            )


__all__ = ["DEFAULT_NETWORK", "NetworkSpec", "check_host_name", "check_network_name"]
