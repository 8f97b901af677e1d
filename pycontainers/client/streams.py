"""The client's side of the Engine API's streams: Docker's multiplexed framing, and the
hijacked connection of ``attach`` and ``exec start`` (an ``Upgrade: tcp`` request after
which the socket is a raw two-way stream).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from collections.abc import Iterable, Iterator
from typing import IO

from pycontainers.client.transport import Host, connect
from pycontainers.errors import ApiError

STDIN, STDOUT, STDERR = 0, 1, 2
_HEADER = struct.Struct(">B3xI")


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(stream, data)`` pairs of Docker's multiplexed stream read as ``chunks``."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while len(buf) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(buf)
            if len(buf) < _HEADER.size + size:
                break
            yield stream, buf[_HEADER.size : _HEADER.size + size]
            buf = buf[_HEADER.size + size :]


def socket_chunks(sock: socket.socket, first: bytes = b"") -> Iterator[bytes]:
    """What ``sock`` receives, ``first`` first, until its end."""
    if first:
        yield first
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        if not data:
            return
        yield data


class Hijacked:
    """A hijacked connection: the socket and whatever the daemon sent after its headers."""

    def __init__(self, sock: socket.socket, first: bytes) -> None:
        self.sock = sock
        self.first = first

    def output(self, tty: bool) -> Iterator[tuple[int, bytes]]:
        """``(stream, data)`` until the daemon ends the stream (raw with a tty: stdout)."""
        chunks = socket_chunks(self.sock, self.first)
        if tty:
            return ((STDOUT, c) for c in chunks)
        return demux(chunks)

    def send(self, data: bytes) -> None:
        """Send ``data`` to the container's stdin."""
        self.sock.sendall(data)

    def close_stdin(self) -> None:
        """Half-close: the container's stdin ends, its output still comes."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        """End the connection."""
        self.sock.close()


def hijack(host: Host, path: str, body: object | None = None) -> Hijacked:
    """POST ``path`` asking for ``Upgrade: tcp``; the upgraded (101) or streamed (200)
    connection, or the daemon's error as an ApiError.
    """
    data = b"" if body is None else json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    sock = connect(host)
    try:
        sock.sendall(head.encode() + data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ApiError(502, f"the daemon closed the connection of {path}")
            buf += chunk
        header, _, rest = buf.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        if status not in (101, 200):
            rest += b"".join(socket_chunks(sock))
            start, end = rest.find(b"{"), rest.rfind(b"}")
            try:
                text = str(json.loads(rest[start : end + 1])["message"])
            except (ValueError, KeyError, TypeError):
                text = rest.decode(errors="replace").strip() or f"HTTP {status}"
            raise ApiError(status, text)
        return Hijacked(sock, rest)
    except BaseException:
        sock.close()
        raise


def pump(
    conn: Hijacked, *, tty: bool, stdin: IO[bytes] | None, stdout: IO[bytes], stderr: IO[bytes]
) -> None:
    """Copy ``stdin`` to the connection (in a thread, half-closing at its end) and the
    connection's output to ``stdout``/``stderr`` until the daemon ends it.
    """
    if stdin is not None:
        fd = stdin.fileno()

        def feed() -> None:
            try:
                while data := os.read(fd, 65536):
                    conn.send(data)
            except OSError:
                return
            conn.close_stdin()

        threading.Thread(target=feed, daemon=True).start()
    for stream, data in conn.output(tty):
        out = stderr if stream == STDERR else stdout
        out.write(data)
        out.flush()


__all__ = ["STDERR", "STDIN", "STDOUT", "Hijacked", "demux", "hijack", "pump", "socket_chunks"]
