"""Links over netlink: bridges, veth pairs into container network namespaces.

The few rtnetlink messages these need are packed by :mod:`pycontainers.network._rtnl`
and sent over a plain blocking socket (no pyroute2 import, no event loop, so they also
work from a thread that runs one). Nothing here runs the
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

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import NetworkError as NetworkError
from pycontainers.errors import SpecError
from pycontainers.network._rtnl import (
    IFF_UP,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MASTER,
    IFLA_MTU,
    IFLA_NET_NS_FD,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    RTM_DELLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    VETH_INFO_PEER,
    Request,
    Rtnl,
    address,
    attr,
    attr_str,
    attr_u32,
    default_route,
    link,
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


def _code(exc: BaseException) -> int:
    return int(getattr(exc, "errno", 0) or 0)


@contextmanager
def _netlink(what: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:  # what the kernel refused, with its errno
        raise NetworkError(f"{what}: {exc}") from exc


def _index(rtnl: Rtnl, name: str) -> int | None:
    found = rtnl.get_link(name)
    return None if found is None else found.index


def _set_link(index: int = 0, *, name: str | None = None, up: bool = False,
              mtu: int | None = None) -> Request:  # fmt: skip
    """An RTM_NEWLINK that changes an existing link (by index, or by name)."""
    nlas = [] if name is None else [attr_str(IFLA_IFNAME, name)]
    if mtu is not None:
        nlas.append(attr_u32(IFLA_MTU, mtu))
    return RTM_NEWLINK, 0, link(index, *nlas, up=up)


def _add_address(index: int, addr: IPv4Interface) -> Request:
    """An RTM_NEWADDR of ``addr`` on link ``index`` (one there already: EEXIST)."""
    return (
        RTM_NEWADDR,
        NLM_F_CREATE | NLM_F_EXCL,
        address(index, str(addr.ip), addr.network.prefixlen),
    )


def ensure_bridge(name: str, address: IPv4Interface | None = None, mtu: int = 1500) -> int:
    """Make bridge ``name`` exist with ``address`` and ``mtu`` and be up; return its index.

    Idempotent (a bridge already right costs two netlink round trips: the link, the
    addresses). Raises NetworkError if ``name`` exists and is not a bridge.
    """
    check_ifname(name, "bridge")
    with Rtnl() as rtnl, _netlink(f"bridge {name}"):
        found = rtnl.get_link(name)
        if found is None:
            kind = attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "bridge"))
            create = link(0, attr_str(IFLA_IFNAME, name), attr_u32(IFLA_MTU, mtu), kind)
            try:
                rtnl.one(RTM_NEWLINK, create, NLM_F_CREATE | NLM_F_EXCL)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
            found = rtnl.get_link(name)
            if found is None:
                raise NetworkError(f"bridge {name}: created but not found")
            log.info("network.bridge_created", bridge=name, index=found.index)
        if found.kind != "bridge":
            raise NetworkError(
                f"link {name!r} exists but is a {found.kind or 'plain'} link, not a bridge"
            )
        index = found.index
        changes: list[Request] = []
        if found.mtu != mtu:
            changes.append(_set_link(index, mtu=mtu))
        if address is not None and not any(
            a.index == index and a.address == str(address.ip)
            and a.prefixlen == address.network.prefixlen
            for a in rtnl.addresses()
        ):  # fmt: skip
            changes.append(_add_address(index, address))
        if not found.flags & IFF_UP:
            changes.append(_set_link(index, up=True))
        if changes:
            try:
                rtnl.request(*changes)
            except OSError as exc:
                if exc.errno != errno.EEXIST:  # the address, added meanwhile
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
            rtnl.one(RTM_DELLINK, link(0, attr_str(IFLA_IFNAME, name)))
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                return False
            raise
    log.info("network.link_deleted", link=name)
    return True


def link_names() -> list[str]:
    """The names of the links in the calling thread's network namespace."""
    with Rtnl() as rtnl:
        return sorted(found.name for found in rtnl.links())


def bridge_ports() -> dict[str, str]:
    """Links enslaved to a bridge, in the calling thread's namespace: port -> bridge name."""
    with Rtnl() as rtnl:
        links = rtnl.links()
    names = {found.index: found.name for found in links}
    return {found.name: names[found.master] for found in links if found.master in names}


def host_networks() -> list[IPv4Network]:
    """The IPv4 networks of every address on the links of the calling thread's namespace."""
    with Rtnl() as rtnl:
        return [IPv4Interface(f"{a.address}/{a.prefixlen}").network for a in rtnl.addresses()]


def _open_netns(target: int | str | os.PathLike[str]) -> int:
    """An fd of the network namespace ``target`` (a pid or a namespace file)."""
    path = f"/proc/{target}/ns/net" if isinstance(target, int) else os.fspath(target)
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise NetworkError(f"network namespace {path}: {exc.strerror}") from exc


def _rtnl_in(netns: int) -> Rtnl:
    """A netlink socket of the network namespace open at ``netns`` (a socket belongs to the
    namespace it was opened in): the calling thread goes there for the instant it takes
    and comes back (the kernel refuses an fd that is not a network namespace). Plain
    setns() here, not :meth:`pycontainers.Namespace.enter`: the namespaces package costs
    ~12 ms to import, a tenth of a whole container run.
    """
    from pycontainers import _sys

    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _sys.setns(netns, _sys.CLONE_NEWNET)
        try:
            return Rtnl()
        finally:
            try:
                _sys.setns(own, _sys.CLONE_NEWNET)
            except OSError as exc:  # never seen; but the thread must not go on in there
                log.error("network.netns_return_failed", error=str(exc))
                raise NetworkError(
                    f"could not return this thread to its network namespace: {exc}"
                ) from exc
    finally:
        os.close(own)


def links_in(target: int | str | os.PathLike[str]) -> list[str]:
    """The names of the links in the network namespace ``target`` (a pid or a path)."""
    fd = _open_netns(target)
    try:
        rtnl = _rtnl_in(fd)
    finally:
        os.close(fd)
    with rtnl:
        return sorted(found.name for found in rtnl.links())


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
    fd = _open_netns(target)
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
            peer = link(0, attr_str(IFLA_IFNAME, peer_name), attr_u32(IFLA_NET_NS_FD, fd),
                        attr_u32(IFLA_MTU, mtu))  # fmt: skip
            info = attr_str(IFLA_INFO_KIND, "veth") + attr(
                IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer)
            )
            nlas = [attr_str(IFLA_IFNAME, host_name), attr_u32(IFLA_MTU, mtu)]
            if master is not None:
                nlas.append(attr_u32(IFLA_MASTER, master))
            nlas.append(attr(IFLA_LINKINFO, info))
            try:
                rtnl.one(RTM_NEWLINK, link(0, *nlas, up=True), NLM_F_CREATE | NLM_F_EXCL)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
                raise NetworkError(
                    f"veth {host_name}: a link called {host_name!r} (or {peer_name!r} in the "
                    "target namespace) already exists"
                ) from None
            try:
                index = _index(rtnl, host_name)
                if index is None:
                    raise NetworkError(f"veth {host_name}: created but not found")
                _configure_peer(fd, peer_name, address, gateway)
            except BaseException:
                try:
                    rtnl.one(RTM_DELLINK, link(0, attr_str(IFLA_IFNAME, host_name)))
                except OSError:
                    pass
                raise
    finally:
        os.close(fd)
    log.info("network.veth_created", host=host_name, peer=peer_name, address=str(address))
    return VethPair(host_name, index, peer_name, address, gateway)


def _configure_peer(
    netns: int, peer_name: str, address: IPv4Interface, gateway: IPv4Address | None
) -> None:
    """Bring up ``lo`` and the new peer (created with its MTU) with its address and route:
    one batch after the lookup of the peer's index.
    """
    with _rtnl_in(netns) as rtnl, _netlink(f"container end {peer_name}"):
        peer = _index(rtnl, peer_name)
        if peer is None:
            raise NetworkError(f"{peer_name!r} did not appear in the target namespace")
        batch = [
            _set_link(name="lo", up=True),
            _add_address(peer, address),  # a new link: no address to look for first
            _set_link(peer, up=True),
        ]
        if gateway is not None:
            route = default_route(str(gateway), peer)
            batch.append((RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route))
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
