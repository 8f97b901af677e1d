"""A blocking rtnetlink socket that speaks pyroute2's message classes.

pyroute2's ``IPRoute`` runs every request through an asyncio event loop of its own and
imports some 130 modules (asyncio, unittest.mock, multiprocessing...): about 60 ms of
every process that touches a container's network, more than the kernel's whole work for
a veth. The container's hot path (its bridge, its veth, its addresses and route, the
removal) needs only a few requests, so it sends pyroute2's own messages (``ifinfmsg``,
``ifaddrmsg``, ``rtmsg``: encoding and decoding stay pyroute2's) over a plain netlink
socket, several requests in one ``send`` where they do not depend on each other's reply.
Everything else in :mod:`pycontainers.network` (tc, listing links for the garbage
collector) still uses ``IPRoute``.

A socket belongs to the network namespace of the thread that opened it.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from pycontainers.network._pyroute2 import message_classes, netlink_error

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_MULTI = 0x2

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWROUTE = 24

_SOL_NETLINK = 270
_NETLINK_CAP_ACK = 10  # errors do not echo the whole request back
_NETLINK_EXT_ACK = 11  # errors carry the kernel's message
_HEADER = struct.Struct("=IHHII")
_ERROR = struct.Struct("=i")
_NLMSGERR_ATTR_MSG = 1

Request = tuple[Any, int, int]
"""(a pyroute2 message with its fields and attributes set, message type, flags)."""


def new(kind: str, **fields: Any) -> Any:
    """A pyroute2 message of ``kind`` (``"link"``, ``"addr"`` or ``"route"``): ``fields``
    are the fixed header's (``index``, ``family``...) except ``attrs``, a list of
    ``(NLA name, value)``.
    """
    msg = message_classes()[kind]()
    for key, value in fields.items():
        msg[key] = value
    return msg


class Rtnl:
    """An rtnetlink socket in the calling thread's network namespace (a context manager)."""

    def __init__(self) -> None:
        self._sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
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

    def request(self, *requests: Request) -> list[list[Any]]:
        """Send ``requests`` in one batch (the kernel handles them in order) and return
        each one's replies, decoded with the request's own class. A request that fails
        raises pyroute2's ``NetlinkError`` (errno and the kernel's message) once every
        reply is read; the requests before it took effect, the ones after it too.
        """
        out = bytearray()
        pending: dict[int, int] = {}  # sequence number -> position
        classes = []
        for position, (msg, kind, flags) in enumerate(requests):
            self._seq += 1
            header = msg["header"]
            header["type"] = kind
            # the dump bits mean REPLACE/EXCL on a NEW request: only a GET dumps (and then
            # ends with NLMSG_DONE instead of an acknowledgement)
            dump = kind % 4 == 2 and flags & NLM_F_DUMP
            header["flags"] = flags | NLM_F_REQUEST | (0 if dump else NLM_F_ACK)
            header["sequence_number"] = self._seq
            header["pid"] = 0
            msg.encode()
            out += msg.data
            pending[self._seq] = position
            classes.append(type(msg))
        self._sock.send(out)
        replies: list[list[Any]] = [[] for _ in requests]
        error: BaseException | None = None
        while pending:
            buf = self._sock.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(buf):
                length, kind, flags, seq, _ = _HEADER.unpack_from(buf, offset)
                if length < _HEADER.size:
                    break
                position = pending.get(seq)
                if position is not None:
                    if kind == NLMSG_ERROR:
                        code = -_ERROR.unpack_from(buf, offset + _HEADER.size)[0]
                        if code and error is None:
                            error = _error(code, buf[offset : offset + length])
                        del pending[seq]
                    elif kind == NLMSG_DONE:
                        del pending[seq]
                    else:
                        reply = classes[position](bytes(buf[offset : offset + length]))
                        reply.decode()
                        replies[position].append(reply)
                offset += (length + 3) & ~3
        if error is not None:
            raise error
        return replies

    def one(self, msg: Any, kind: int, flags: int = 0) -> list[Any]:
        """:meth:`request` of one message: its replies."""
        return self.request((msg, kind, flags))[0]


def _error(code: int, raw: bytes | bytearray) -> BaseException:
    """pyroute2's ``NetlinkError`` for an error message (with the kernel's text, if any)."""
    import os

    text = os.strerror(code)
    # struct nlmsgerr: the error, then the request's header (CAP_ACK: no payload), then
    # the extended ack attributes
    offset = _HEADER.size + _ERROR.size + _HEADER.size
    while offset + 4 <= len(raw):
        nla_len, nla_type = struct.unpack_from("=HH", raw, offset)
        if nla_len < 4:
            break
        if nla_type & 0x3FFF == _NLMSGERR_ATTR_MSG:
            detail = bytes(raw[offset + 4 : offset + nla_len]).split(b"\0", 1)[0]
            text = f"{text}: {detail.decode(errors='replace')}"
        offset += (nla_len + 3) & ~3
    error: BaseException = netlink_error()(code, text)
    return error


__all__ = [
    "NLM_F_CREATE",
    "NLM_F_DUMP",
    "NLM_F_EXCL",
    "NLM_F_REPLACE",
    "RTM_DELLINK",
    "RTM_GETADDR",
    "RTM_GETLINK",
    "RTM_NEWADDR",
    "RTM_NEWLINK",
    "RTM_NEWROUTE",
    "Request",
    "Rtnl",
    "new",
]
