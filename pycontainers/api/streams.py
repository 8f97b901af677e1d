"""Streams of the Engine API: Docker's multiplexed framing and the hijacked connection.

``attach`` and ``exec start`` take over the connection as Docker does: a client asking for
``Upgrade: tcp`` gets ``101 UPGRADED`` and the socket becomes a raw two-way stream (the
client may half-close its side when its stdin ends and still read); others get a ``200``
whose body is the output stream, to the end of the connection.
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

from aiohttp import web

STDIN, STDOUT, STDERR = 0, 1, 2
_FRAME = struct.Struct(">B3xI")

RAW = "application/vnd.docker.raw-stream"
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"


def frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stream: ``[stream, 0, 0, 0, size BE]`` + data."""
    return _FRAME.pack(stream, len(data)) + data


class Hijacked(asyncio.Protocol):
    """The connection after the takeover: what the client sends arrives in :meth:`read`
    (None at its end or half-close), :meth:`write` sends (with flow control).
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.lost = asyncio.Event()
        self._can_write = asyncio.Event()
        self._can_write.set()

    # asyncio.Protocol
    def data_received(self, data: bytes) -> None:
        """Queue what the client sent."""
        self.incoming.put_nowait(data)

    def eof_received(self) -> bool:
        """The client half-closed: its stdin ended, it still reads our output."""
        self.incoming.put_nowait(None)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: readers and writers stop."""
        self.incoming.put_nowait(None)
        self.lost.set()
        self._can_write.set()

    def pause_writing(self) -> None:
        """The transport's buffer is full: writers wait."""
        self._can_write.clear()

    def resume_writing(self) -> None:
        """The transport's buffer drained."""
        self._can_write.set()

    # ours
    async def read(self) -> bytes | None:
        """The client's next bytes; None once it closed or half-closed its side."""
        return await self.incoming.get()

    async def write(self, data: bytes) -> None:
        """Send ``data``; ConnectionResetError once the client is gone."""
        if self.lost.is_set() or self.transport.is_closing():
            raise ConnectionResetError("the client went away")
        self.transport.write(data)
        await self._can_write.wait()
        if self.lost.is_set():
            raise ConnectionResetError("the client went away")

    def close(self) -> None:
        """End the connection."""
        self.transport.close()


def wants_upgrade(request: web.Request) -> bool:
    """Whether the client asked to upgrade the connection to a raw stream."""
    upgrade = request.headers.get("Upgrade", "").lower()
    connection = request.headers.get("Connection", "").lower()
    return upgrade == "tcp" and "upgrade" in connection


async def hijack(request: web.Request, *, tty: bool) -> Hijacked:
    """Take over ``request``'s connection: send the status line and headers ourselves
    (101 for an upgrade, else 200 with the stream as the body) and become its protocol.
    """
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away")
    content_type = RAW if tty else MULTIPLEXED
    if wants_upgrade(request):
        head = (
            "HTTP/1.1 101 UPGRADED\r\n"
            f"Content-Type: {content_type}\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        )
    else:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n"
    protocol = Hijacked(transport)
    transport.set_protocol(protocol)
    transport.write(head.encode())
    if request.protocol is not None:
        request.protocol.close()  # aiohttp takes no further request on it
    return protocol


def finished() -> web.StreamResponse:
    """What a handler returns after a hijack (aiohttp writes nothing on a closed transport)."""
    return web.Response(status=200)


def _settle(done: asyncio.Future[Any]) -> None:
    if not done.done():
        done.set_result(None)


async def read_fd(fd: int, size: int = 65536) -> bytes:
    """Read from the non-blocking ``fd`` once it is readable (b"" at EOF or EIO)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return os.read(fd, size)
        except BlockingIOError:
            pass
        except OSError:  # EIO: a pty whose every slave holder closed it
            return b""
        done: asyncio.Future[Any] = loop.create_future()
        loop.add_reader(fd, _settle, done)
        try:
            await done
        finally:
            loop.remove_reader(fd)


async def write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the non-blocking ``fd``."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
            continue
        except BlockingIOError:
            pass
        done: asyncio.Future[Any] = loop.create_future()
        loop.add_writer(fd, _settle, done)
        try:
            await done
        finally:
            loop.remove_writer(fd)


__all__ = [
    "MULTIPLEXED",
    "RAW",
    "STDERR",
    "STDIN",
    "STDOUT",
    "Hijacked",
    "finished",
    "frame",
    "hijack",
    "read_fd",
    "wants_upgrade",
    "write_fd",
]
