"""Links over netlink (pyroute2): bridges, veth pairs into container network namespaces.

Nothing here runs the ``ip`` binary. Work inside another network namespace opens a netlink
socket there (the calling thread enters the namespace for an instant and comes back).
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
from pycontainers.network._loop import off_event_loop
from pycontainers.network._pyroute2 import iproute, netlink_error

# pyroute2 ships no type information: it is typed as Any here (imported lazily, on first use).
_IPRoute = Any

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


def _ipr() -> _IPRoute:
    return iproute()


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


def _index(ipr: _IPRoute, name: str) -> int | None:
    found: list[int] = ipr.link_lookup(ifname=name)
    return found[0] if found else None


_IFF_UP = 1


def _get_link(ipr: _IPRoute, name: str) -> Any | None:
    """The link called ``name`` (one RTM_GETLINK by name), or None."""
    try:
        links: list[Any] = ipr.link("get", ifname=name)
    except _netlink_errors() as exc:
        if _code(exc) == errno.ENODEV:
            return None
        raise
    return links[0] if links else None


def _add_address(ipr: _IPRoute, index: int, address: IPv4Interface) -> None:
    try:
        ipr.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
    except _netlink_errors() as exc:
        if _code(exc) != errno.EEXIST:
            raise


def _ensure_address(ipr: _IPRoute, index: int, address: IPv4Interface) -> None:
    for a in ipr.get_addr(index=index, family=2):
        if a.get("IFA_ADDRESS") == str(address.ip) and a["prefixlen"] == address.network.prefixlen:
            return
    _add_address(ipr, index, address)


@off_event_loop
def ensure_bridge(name: str, address: IPv4Interface | None = None, mtu: int = 1500) -> int:
    """Make bridge ``name`` exist with ``address`` and ``mtu`` and be up; return its index.

    Idempotent. Raises NetworkError if ``name`` exists and is not a bridge.
    """
    check_ifname(name, "bridge")
    with _ipr() as ipr, _netlink(f"bridge {name}"):
        link = _get_link(ipr, name)
        if link is None:
            try:
                ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
            except _netlink_errors() as exc:
                if _code(exc) != errno.EEXIST:
                    raise
            link = _get_link(ipr, name)
            if link is None:
                raise NetworkError(f"bridge {name}: created but not found")
            log.info("network.bridge_created", bridge=name, index=link["index"])
        index: int = link["index"]
        kind = link.get(("IFLA_LINKINFO", "IFLA_INFO_KIND"))
        if kind != "bridge":
            raise NetworkError(
                f"link {name!r} exists but is a {kind or 'plain'} link, not a bridge"
            )
        if link.get("IFLA_MTU") != mtu:
            ipr.link("set", index=index, mtu=mtu)
        if address is not None:
            _ensure_address(ipr, index, address)
        if not link["flags"] & _IFF_UP:
            ipr.link("set", index=index, state="up")
    return index


@off_event_loop
def delete_link(name: str) -> bool:
    """Delete link ``name`` (a veth takes its peer along); False if it did not exist."""
    check_ifname(name)
    with _ipr() as ipr, _netlink(f"delete link {name}"):
        index = _index(ipr, name)
        if index is None:
            return False
        try:
            ipr.link("del", index=index)
        except _netlink_errors() as exc:
            if _code(exc) == errno.ENODEV:
                return False
            raise
    log.info("network.link_deleted", link=name)
    return True


@off_event_loop
def link_names() -> list[str]:
    """The names of the links in the calling thread's network namespace."""
    with _ipr() as ipr:
        return sorted(str(link.get("IFLA_IFNAME")) for link in ipr.get_links())


@off_event_loop
def bridge_ports() -> dict[str, str]:
    """Links enslaved to a bridge, in the calling thread's namespace: port -> bridge name."""
    with _ipr() as ipr:
        links = ipr.get_links()
    names = {link["index"]: str(link.get("IFLA_IFNAME")) for link in links}
    return {
        str(link.get("IFLA_IFNAME")): names[link.get("IFLA_MASTER")]
        for link in links
        if link.get("IFLA_MASTER") in names
    }


@off_event_loop
def host_networks() -> list[IPv4Network]:
    """The IPv4 networks of every address on the links of the calling thread's namespace."""
    with _ipr() as ipr:
        return [
            IPv4Interface(f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}").network
            for a in ipr.get_addr(family=2)
        ]


@off_event_loop
def links_in(target: int | str | os.PathLike[str]) -> list[str]:
    """The names of the links in the network namespace ``target`` (a pid or a path)."""
    with _target_namespace(target).enter():
        ipr = _ipr()  # the netlink socket belongs to the namespace it was opened in
    with ipr:
        return sorted(str(link.get("IFLA_IFNAME")) for link in ipr.get_links())


def _target_namespace(target: int | str | os.PathLike[str]) -> Any:
    from pycontainers.namespaces import Namespace

    if isinstance(target, int):
        return Namespace.of_pid(target, "net")
    return Namespace.open(target)


@off_event_loop
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
        with _ipr() as ipr, _netlink(f"veth {host_name}"):
            master = None
            if bridge is not None:
                master = _index(ipr, bridge)
                if master is None:
                    raise NetworkError(f"veth {host_name}: bridge {bridge!r} does not exist")
            # The kernel creates the peer right in the target namespace, under its final name
            # and with its MTU: no window where a host-side "eth0" could clash. The host end
            # comes up at once, on the bridge: without the peer up it carries nothing yet.
            bridged = {"master": master} if master is not None else {}
            try:
                ipr.link(
                    "add",
                    ifname=host_name,
                    kind="veth",
                    mtu=mtu,
                    state="up",
                    **bridged,
                    peer={"ifname": peer_name, "net_ns_fd": fd, "mtu": mtu},
                )
            except _netlink_errors() as exc:
                if _code(exc) != errno.EEXIST:
                    raise
                raise NetworkError(
                    f"veth {host_name}: a link called {host_name!r} (or {peer_name!r} in the "
                    "target namespace) already exists"
                ) from None
            index = _index(ipr, host_name)
            if index is None:
                raise NetworkError(f"veth {host_name}: created but not found")
            try:
                _configure_peer(ns, peer_name, address, gateway)
            except BaseException:
                try:
                    ipr.link("del", index=index)
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
    """Bring up ``lo`` and the new peer (created with its MTU) with its address and route."""
    with ns.enter():
        ipr = _ipr()  # the netlink socket belongs to the namespace it was opened in
    with ipr, _netlink(f"container end {peer_name}"):
        peer = _index(ipr, peer_name)
        if peer is None:
            raise NetworkError(f"{peer_name!r} did not appear in the target namespace")
        lo = _index(ipr, "lo")
        if lo is not None:
            ipr.link("set", index=lo, state="up")
        _add_address(ipr, peer, address)  # a new link: no address to look for first
        ipr.link("set", index=peer, state="up")
        if gateway is not None:
            ipr.route("replace", dst="0.0.0.0/0", gateway=str(gateway), oif=peer)


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
