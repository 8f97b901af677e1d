"""The few rtnetlink messages of a container's own links, over a plain blocking socket.

A container on a bridge needs a handful of requests: look up its bridge (and its
addresses), create a veth pair with the peer in the container's namespace, bring links up,
add an address and a default route, delete a link. pyroute2 does all of that, but its
``IPRoute`` imports some 130 modules (asyncio, unittest.mock, multiprocessing...) and runs
every request through an event loop of its own, and even its message classes alone
(``ifinfmsg`` with its plugins) take ~28 ms to import: more than the kernel's whole work for
a veth, in every ``run``. These few fixed layouts (``struct ifinfomsg``, ``ifaddrmsg``,
``rtmsg`` and their attributes, ``linux/rtnetlink.h``) are packed here with ``struct``;
several requests go in one ``send`` where they do not depend on each other's reply.
Everything else (tc, bandwidth) still uses pyroute2.

A socket belongs to the network namespace of the thread that opened it.
"""

from __future__ import annotations

import _socket
import os
import struct
from collections.abc import Iterator

import attrs

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWROUTE = 24

IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_OIF = 4
RTA_GATEWAY = 5

IFF_UP = 1
AF_INET = 2

_NETLINK_ROUTE = 0
_SOL_NETLINK = 270
_NETLINK_CAP_ACK = 10  # errors do not echo the whole request back
_NETLINK_EXT_ACK = 11  # errors carry the kernel's message
_NLMSGERR_ATTR_MSG = 1
_NLA_TYPE_MASK = 0x3FFF

_HEADER = struct.Struct("=IHHII")  # nlmsghdr
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg
_NLA = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_ERROR = struct.Struct("=i")

_RT_TABLE_MAIN = 254
_RTPROT_BOOT = 3
_RT_SCOPE_UNIVERSE = 0
_RTN_UNICAST = 1


@attrs.frozen
class Link:
    """What a link reply says that we use."""

    index: int
    name: str
    flags: int
    mtu: int | None
    master: int | None
    kind: str | None


@attrs.frozen
class Address:
    """An IPv4 address reply: link, address, prefix length."""

    index: int
    address: str
    prefixlen: int


Request = tuple[int, int, bytes]
"""(message type, flags, payload after the netlink header)."""

# -- building ---------------------------------------------------------------------------


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute (padded to 4 bytes)."""
    length = _NLA.size + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * (-length % 4)


def attr_u32(kind: int, value: int) -> bytes:
    """A 32-bit attribute."""
    return attr(kind, _U32.pack(value))


def attr_str(kind: int, value: str) -> bytes:
    """A NUL-terminated string attribute."""
    return attr(kind, value.encode() + b"\0")


def attr_ipv4(kind: int, value: str) -> bytes:
    """An IPv4 address attribute."""
    return attr(kind, _socket.inet_aton(value))


def link(index: int = 0, *attributes: bytes, up: bool = False) -> bytes:
    """An ``ifinfomsg`` with ``attributes`` (``up``: set IFF_UP)."""
    flags = IFF_UP if up else 0
    return _IFINFO.pack(0, 0, index, flags, flags) + b"".join(attributes)


def address(index: int, ip: str, prefixlen: int) -> bytes:
    """An ``ifaddrmsg`` for IPv4 ``ip``/``prefixlen`` on link ``index``."""
    return (
        _IFADDR.pack(AF_INET, prefixlen, 0, 0, index)
        + attr_ipv4(IFA_LOCAL, ip)
        + (attr_ipv4(IFA_ADDRESS, ip))
    )


def default_route(gateway: str, oif: int) -> bytes:
    """An ``rtmsg`` for the IPv4 default route via ``gateway`` out of link ``oif``."""
    head = _RTMSG.pack(AF_INET, 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT, _RT_SCOPE_UNIVERSE,
                       _RTN_UNICAST, 0)  # fmt: skip
    return head + attr_ipv4(RTA_GATEWAY, gateway) + attr_u32(RTA_OIF, oif)


# -- reading ----------------------------------------------------------------------------


def _attrs(data: bytes, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    while offset + _NLA.size <= len(data):
        length, kind = _NLA.unpack_from(data, offset)
        if length < _NLA.size:
            return
        yield kind & _NLA_TYPE_MASK, data[offset + _NLA.size : offset + length]
        offset += (length + 3) & ~3


def _string(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def parse_link(payload: bytes) -> Link:
    """A link reply (the payload of an RTM_NEWLINK)."""
    _, _, index, flags, _ = _IFINFO.unpack_from(payload)
    found = dict(_attrs(payload, _IFINFO.size))
    kind = None
    if IFLA_LINKINFO in found:
        info = dict(_attrs(found[IFLA_LINKINFO]))
        kind = _string(info[IFLA_INFO_KIND]) if IFLA_INFO_KIND in info else None

    def u32(key: int) -> int | None:
        return _U32.unpack(found[key][:4])[0] if key in found else None

    return Link(index, _string(found.get(IFLA_IFNAME, b"")), flags, u32(IFLA_MTU),
                u32(IFLA_MASTER), kind)  # fmt: skip


def parse_address(payload: bytes) -> Address:
    """An address reply (the payload of an RTM_NEWADDR)."""
    _, prefixlen, _, _, index = _IFADDR.unpack_from(payload)
    found = dict(_attrs(payload, _IFADDR.size))
    raw = found.get(IFA_ADDRESS, found.get(IFA_LOCAL, b"\0\0\0\0"))
    return Address(index, _socket.inet_ntoa(raw[:4]), prefixlen)


# -- the socket -------------------------------------------------------------------------


class Rtnl:
    """An rtnetlink socket in the calling thread's network namespace (a context manager)."""

    def __init__(self) -> None:
        self._sock = _socket.socket(
            _socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, _NETLINK_ROUTE
        )
        try:
            self._sock.bind((0, 0))
            for option in (_NETLINK_CAP_ACK, _NETLINK_EXT_ACK):
                self._sock.setsockopt(_SOL_NETLINK, option, 1)
        except BaseException:
            self._sock.close()
            raise
        self._seq = 0

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, *requests: Request) -> list[list[bytes]]:
        """Send ``requests`` in one batch (the kernel handles them in order) and return
        each one's replies (payloads). A request that fails raises ``OSError`` (its errno,
        and the kernel's message) once every reply is read; the others took effect.
        """
        out = bytearray()
        pending: dict[int, int] = {}  # sequence number -> position
        for position, (kind, flags, payload) in enumerate(requests):
            self._seq += 1
            # the dump bits mean REPLACE/EXCL on a NEW request: only a GET dumps (and then
            # ends with NLMSG_DONE instead of an acknowledgement)
            dump = kind % 4 == 2 and flags & NLM_F_DUMP
            flags |= NLM_F_REQUEST | (0 if dump else NLM_F_ACK)
            out += _HEADER.pack(_HEADER.size + len(payload), kind, flags, self._seq, 0)
            out += payload
            pending[self._seq] = position
        self._sock.send(out)
        replies: list[list[bytes]] = [[] for _ in requests]
        error: OSError | None = None
        while pending:
            buf = self._sock.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(buf):
                length, kind, _, seq, _ = _HEADER.unpack_from(buf, offset)
                if length < _HEADER.size:
                    break
                at = pending.get(seq)
                body = buf[offset + _HEADER.size : offset + length]
                if at is not None:
                    if kind == NLMSG_ERROR:
                        code = -_ERROR.unpack_from(body)[0]
                        if code and error is None:
                            error = _error(code, body)
                        del pending[seq]
                    elif kind == NLMSG_DONE:
                        del pending[seq]
                    else:
                        replies[at].append(body)
                offset += (length + 3) & ~3
        if error is not None:
            raise error
        return replies

    def one(self, kind: int, payload: bytes, flags: int = 0) -> list[bytes]:
        """:meth:`request` of one message: its replies."""
        return self.request((kind, flags, payload))[0]

    def get_link(self, name: str) -> Link | None:
        """The link called ``name`` (one RTM_GETLINK), or None."""
        try:
            replies = self.one(RTM_GETLINK, link(0, attr_str(IFLA_IFNAME, name)))
        except OSError as exc:
            if exc.errno == 19:  # ENODEV
                return None
            raise
        return parse_link(replies[0]) if replies else None

    def links(self) -> list[Link]:
        """Every link of the namespace."""
        return [parse_link(p) for p in self.one(RTM_GETLINK, link(), NLM_F_DUMP)]

    def addresses(self) -> list[Address]:
        """Every IPv4 address of the namespace."""
        payload = _IFADDR.pack(AF_INET, 0, 0, 0, 0)
        return [parse_address(p) for p in self.one(RTM_GETADDR, payload, NLM_F_DUMP)]


def _error(code: int, body: bytes) -> OSError:
    """The error of an NLMSG_ERROR (with the kernel's text from the extended ack, if any)."""
    text = os.strerror(code)
    # struct nlmsgerr: the error, the request's header (CAP_ACK: no payload), then attributes
    for kind, raw in _attrs(body, _ERROR.size + _HEADER.size):
        if kind == _NLMSGERR_ATTR_MSG:
            text = f"{text}: {_string(raw)}"
    return OSError(code, text)


__all__ = [
    "AF_INET",
    "IFLA_IFNAME",
    "IFLA_INFO_DATA",
    "IFLA_INFO_KIND",
    "IFLA_LINKINFO",
    "IFLA_MASTER",
    "IFLA_MTU",
    "IFLA_NET_NS_FD",
    "NLM_F_CREATE",
    "NLM_F_DUMP",
    "NLM_F_EXCL",
    "NLM_F_REPLACE",
    "RTM_DELLINK",
    "RTM_GETLINK",
    "RTM_NEWADDR",
    "RTM_NEWLINK",
    "RTM_NEWROUTE",
    "VETH_INFO_PEER",
    "Address",
    "Link",
    "Request",
    "Rtnl",
    "address",
    "attr",
    "attr_str",
    "attr_u32",
    "default_route",
    "link",
    "parse_address",
    "parse_link",
]
