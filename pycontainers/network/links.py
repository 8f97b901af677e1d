"""Links over netlink: bridges, veth pairs into container network namespaces.

pyroute2's messages over a plain blocking socket (:mod:`pycontainers.network._rtnl`):
no event loop, so these also work from a thread that runs one. Nothing here runs the
``ip`` binary. Work inside another network namespace opens a netlink socket there (the
calling thread enters the namespace for an instant and comes back).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import NetworkError as NetworkError
from pycontainers.errors import SpecError
from pycontainers.network._pyroute2 import netlink_error
from pycontainers.network._rtnl import (
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    RTM_DELLINK,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    Request,
    Rtnl,
    new,
)

log = get_logger("pycontainers.network")

_HEX = re.compile(r"^[0-9a-f]{11,}$")


@attrs.frozen
class VethPair:
    """A veth pair made by :func:`create_veth_into`: host end and container end."""

    host_name: str
    host_index: int
    peer_name: str
    address: IPv4Interface
    gateway: IPv4Address | None


def host_veth_name(container_id: str) -> str:
    """The predictable host-side veth name of a container: ``pc`` + 11 hex chars of its id."""
    cid = container_id.lower()
    if not _HEX.match(cid):
        raise SpecError("id", f"{container_id!r} is not a hex container id of 11+ characters")
    return f"pc{cid[:11]}"


def check_ifname(name: str, field: str = "ifname") -> str:
    """Return ``name`` if it is a valid interface name (1-15 bytes, no '/', ':' or space)."""
    if (
        not isinstance(name, str)
        or not 0 < len(name.encode()) <= 15
        or name in (".", "..")
        or any(c in name for c in "/: \t\n")
    ):
        raise SpecError(field, f"{name!r} is not a valid interface name (1-15 chars)")
    return name


def _netlink_errors() -> tuple[type[BaseException], ...]:
    return (netlink_error(), OSError)


def _code(exc: BaseException) -> int:
    return int(getattr(exc, "code", getattr(exc, "errno", 0)) or 0)


@contextmanager
def _netlink(what: str) -> Iterator[None]:
    try:
        yield
    except _netlink_errors() as exc:
        raise NetworkError(f"{what}: {exc}") from exc


_IFF_UP = 1
_AF_INET = 2
_RT_TABLE_MAIN = 254
_RTPROT_BOOT = 3
_RT_SCOPE_UNIVERSE = 0
_RTN_UNICAST = 1


def _get_link(rtnl: Rtnl, name: str) -> Any | None:
    """The link called ``name`` (one RTM_GETLINK by name), or None."""
    try:
        links = rtnl.one(new("link", attrs=[("IFLA_IFNAME", name)]), RTM_GETLINK)
    except _netlink_errors() as exc:
        if _code(exc) == errno.ENODEV:
            return None
        raise
    return links[0] if links else None


def _index(rtnl: Rtnl, name: str) -> int | None:
    link = _get_link(rtnl, name)
    return None if link is None else int(link["index"])


def _set_link(
    index: int = 0, *, name: str | None = None, up: bool = False, **attrs: Any
) -> Request:
    """An RTM_NEWLINK that changes an existing link (by index, or by name)."""
    nlas = [(f"IFLA_{key.upper()}", value) for key, value in attrs.items()]
    if name is not None:
        nlas.append(("IFLA_IFNAME", name))
    flags = {"flags": _IFF_UP, "change": _IFF_UP} if up else {}
    return new("link", index=index, attrs=nlas, **flags), RTM_NEWLINK, 0


def _add_address(index: int, address: IPv4Interface) -> Request:
    """An RTM_NEWADDR of ``address`` on link ``index`` (an existing one: EEXIST)."""
    ip = str(address.ip)
    msg = new("addr", family=_AF_INET, prefixlen=address.network.prefixlen, index=index,
              attrs=[("IFA_LOCAL", ip), ("IFA_ADDRESS", ip)])  # fmt: skip
    return msg, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL


def _has_address(rtnl: Rtnl, index: int, address: IPv4Interface) -> bool:
    for a in rtnl.one(new("addr", family=_AF_INET), RTM_GETADDR, NLM_F_DUMP):
        if (
            a["index"] == index
            and a.get_attr("IFA_ADDRESS") == str(address.ip)
            and a["prefixlen"] == address.network.prefixlen
        ):
            return True
    return False


def ensure_bridge(name: str, address: IPv4Interface | None = None, mtu: int = 1500) -> int:
    """Make bridge ``name`` exist with ``address`` and ``mtu`` and be up; return its index.

    Idempotent (a bridge already right costs two netlink round trips: the link, its
    addresses). Raises NetworkError if ``name`` exists and is not a bridge.
    """
    check_ifname(name, "bridge")
    with Rtnl() as rtnl, _netlink(f"bridge {name}"):
        link = _get_link(rtnl, name)
        if link is None:
            create = new(
                "link",
                attrs=[("IFLA_IFNAME", name), ("IFLA_MTU", mtu),
                       ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "bridge")]})],
            )  # fmt: skip
            try:
                rtnl.one(create, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
            except _netlink_errors() as exc:
                if _code(exc) != errno.EEXIST:
                    raise
            link = _get_link(rtnl, name)
            if link is None:
                raise NetworkError(f"bridge {name}: created but not found")
            log.info("network.bridge_created", bridge=name, index=link["index"])
        index = int(link["index"])
        kind = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
        if kind != "bridge":
            raise NetworkError(
                f"link {name!r} exists but is a {kind or 'plain'} link, not a bridge"
            )
        changes: list[Request] = []
        if link.get_attr("IFLA_MTU") != mtu:
            changes.append(_set_link(index, mtu=mtu))
        if address is not None and not _has_address(rtnl, index, address):
            changes.append(_add_address(index, address))
        if not link["flags"] & _IFF_UP:
            changes.append(_set_link(index, up=True))
        if changes:
            try:
                rtnl.request(*changes)
            except _netlink_errors() as exc:
                if _code(exc) != errno.EEXIST:  # the address, added meanwhile
                    raise
    return index


def delete_link(name: str) -> bool:
    """Delete link ``name`` (a veth takes its peer along); False if it did not exist.

    One RTM_DELLINK by name: a container's veth is usually gone already (its network
    namespace died with its last process, and the kernel deleted the pair).
    """
    check_ifname(name)
    with Rtnl() as rtnl, _netlink(f"delete link {name}"):
        try:
            rtnl.one(new("link", attrs=[("IFLA_IFNAME", name)]), RTM_DELLINK)
        except _netlink_errors() as exc:
            if _code(exc) == errno.ENODEV:
                return False
            raise
    log.info("network.link_deleted", link=name)
    return True


def _links(rtnl: Rtnl) -> list[Any]:
    return rtnl.one(new("link"), RTM_GETLINK, NLM_F_DUMP)


def link_names() -> list[str]:
    """The names of the links in the calling thread's network namespace."""
    with Rtnl() as rtnl:
        return sorted(str(link.get_attr("IFLA_IFNAME")) for link in _links(rtnl))


def bridge_ports() -> dict[str, str]:
    """Links enslaved to a bridge, in the calling thread's namespace: port -> bridge name."""
    with Rtnl() as rtnl:
        links = _links(rtnl)
    names = {link["index"]: str(link.get_attr("IFLA_IFNAME")) for link in links}
    return {
        str(link.get_attr("IFLA_IFNAME")): names[link.get_attr("IFLA_MASTER")]
        for link in links
        if link.get_attr("IFLA_MASTER") in names
    }


def host_networks() -> list[IPv4Network]:
    """The IPv4 networks of every address on the links of the calling thread's namespace."""
    with Rtnl() as rtnl:
        return [
            IPv4Interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}").network
            for a in rtnl.one(new("addr", family=_AF_INET), RTM_GETADDR, NLM_F_DUMP)
        ]


def _rtnl_in(ns: Any) -> Rtnl:
    """A netlink socket of the namespace ``ns`` (it belongs to the one it was opened in)."""
    with ns.enter():
        return Rtnl()


def links_in(target: int | str | os.PathLike[str]) -> list[str]:
    """The names of the links in the network namespace ``target`` (a pid or a path)."""
    with _rtnl_in(_target_namespace(target)) as rtnl:
        return sorted(str(link.get_attr("IFLA_IFNAME")) for link in _links(rtnl))


def _target_namespace(target: int | str | os.PathLike[str]) -> Any:
    from pycontainers.namespaces import Namespace

    if isinstance(target, int):
        return Namespace.of_pid(target, "net")
    return Namespace.open(target)


def create_veth_into(
    target: int | str | os.PathLike[str],
    host_name: str,
    peer_name: str = "eth0",
    *,
    bridge: str | None = None,
    address: IPv4Interface,
    gateway: IPv4Address | None = None,
    mtu: int = 1500,
) -> VethPair:
    """Create a veth pair whose peer lives in the network namespace ``target``.

    ``target`` is a pid (its net namespace) or the path of a net namespace file
    (``/proc/PID/ns/net``, a persisted netns, ``/proc/self/fd/N`` for an open fd). There the
    peer is named ``peer_name``, gets ``address`` and ``mtu``, goes up with ``lo``, and a
    default route via ``gateway`` is added. The host end is attached to ``bridge`` (if
    given), gets ``mtu`` and goes up. On failure the pair is deleted again.
    """
    check_ifname(host_name)
    check_ifname(peer_name, "peer_name")
    if gateway is not None and gateway not in address.network:
        raise SpecError("gateway", f"{gateway} is not in {address.network}")
    ns = _target_namespace(target)
    fd = ns.open_fd()
    try:
        with Rtnl() as rtnl, _netlink(f"veth {host_name}"):
            master = None
            if bridge is not None:
                master = _index(rtnl, bridge)
                if master is None:
                    raise NetworkError(f"veth {host_name}: bridge {bridge!r} does not exist")
            # The kernel creates the peer right in the target namespace, under its final name
            # and with its MTU: no window where a host-side "eth0" could clash. The host end
            # comes up at once, on the bridge: without the peer up it carries nothing yet.
            peer = {"attrs": [("IFLA_IFNAME", peer_name), ("IFLA_NET_NS_FD", fd),
                              ("IFLA_MTU", mtu)]}  # fmt: skip
            info = [("IFLA_INFO_KIND", "veth"),
                    ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", peer)]})]  # fmt: skip
            nlas: list[tuple[str, Any]] = [("IFLA_IFNAME", host_name), ("IFLA_MTU", mtu)]
            if master is not None:
                nlas.append(("IFLA_MASTER", master))
            nlas.append(("IFLA_LINKINFO", {"attrs": info}))
            create = new("link", flags=_IFF_UP, change=_IFF_UP, attrs=nlas)
            try:
                rtnl.one(create, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
            except _netlink_errors() as exc:
                if _code(exc) != errno.EEXIST:
                    raise
                raise NetworkError(
                    f"veth {host_name}: a link called {host_name!r} (or {peer_name!r} in the "
                    "target namespace) already exists"
                ) from None
            try:
                index = _index(rtnl, host_name)
                if index is None:
                    raise NetworkError(f"veth {host_name}: created but not found")
                _configure_peer(ns, peer_name, address, gateway)
            except BaseException:
                try:
                    rtnl.one(new("link", attrs=[("IFLA_IFNAME", host_name)]), RTM_DELLINK)
                except _netlink_errors():
                    pass
                raise
    finally:
        os.close(fd)
    log.info("network.veth_created", host=host_name, peer=peer_name, address=str(address))
    return VethPair(host_name, index, peer_name, address, gateway)


def _configure_peer(
    ns: Any, peer_name: str, address: IPv4Interface, gateway: IPv4Address | None
) -> None:
    """Bring up ``lo`` and the new peer (created with its MTU) with its address and route:
    one batch after the lookup of the peer's index.
    """
    with _rtnl_in(ns) as rtnl, _netlink(f"container end {peer_name}"):
        peer = _index(rtnl, peer_name)
        if peer is None:
            raise NetworkError(f"{peer_name!r} did not appear in the target namespace")
        batch = [
            _set_link(name="lo", up=True),
            _add_address(peer, address),  # a new link: no address to look for first
            _set_link(peer, up=True),
        ]
        if gateway is not None:
            route = new("route", family=_AF_INET, dst_len=0, table=_RT_TABLE_MAIN,
                        proto=_RTPROT_BOOT, scope=_RT_SCOPE_UNIVERSE, type=_RTN_UNICAST,
                        attrs=[("RTA_GATEWAY", str(gateway)), ("RTA_OIF", peer)])  # fmt: skip
            batch.append((route, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE))
        rtnl.request(*batch)


__all__ = [
    "NetworkError",
    "VethPair",
    "bridge_ports",
    "check_ifname",
    "create_veth_into",
    "delete_link",
    "ensure_bridge",
    "host_networks",
    "host_veth_name",
    "link_names",
    "links_in",
]
