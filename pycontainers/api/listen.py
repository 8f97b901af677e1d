"""Where the daemon listens: ``-H unix:///path.sock`` (mode 0660, a group of choice) and
``-H tcp://host:port`` with TLS and client-certificate verification, as dockerd takes them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import stat
from typing import Any

from aiohttp import web

from pycontainers.errors import SpecError

DEFAULT_SOCKET = "/run/pycontainers.sock"
"""The unix socket the daemon listens on by default (dockerd's is /run/docker.sock)."""

DEFAULT_TCP_PORT = 2376
"""dockerd's TLS port, taken when ``tcp://HOST`` names none."""


class Listener:
    """One listening socket and how aiohttp serves it."""

    def __init__(self, address: str, sock: socket.socket, tls: ssl.SSLContext | None) -> None:
        self.address = address
        self.sock = sock
        self.tls = tls

    def site(self, runner: web.AppRunner) -> web.BaseSite:
        """The aiohttp site serving this socket."""
        return web.SockSite(runner, self.sock, ssl_context=self.tls)

    def close(self) -> None:
        """Close the socket (and remove a unix socket's file)."""
        path = self.address.removeprefix("unix://")
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.address.startswith("unix://"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def tls_context(
    *, cert: str, key: str, ca: str | None = None, verify: bool = True
) -> ssl.SSLContext:
    """A server TLS context from ``cert``/``key``; with ``verify``, clients must present a
    certificate signed by ``ca`` (dockerd's ``--tlsverify``).
    """
    if verify and not ca:
        raise SpecError("tlscacert", "--tlsverify needs --tlscacert (the clients' CA)")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        if ca:
            ctx.load_verify_locations(ca)
    except (OSError, ssl.SSLError) as exc:
        raise SpecError("tls", f"cannot load the TLS files: {exc}") from None
    ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    return ctx


def _unix(path: str, group: str | None) -> socket.socket:
    if not path.startswith("/"):
        raise SpecError("host", f"unix socket path must be absolute: {path!r}")
    gid = -1
    if group is not None:
        import grp

        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise SpecError("group", f"no such group: {group!r}") from None
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise SpecError("host", f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)  # left by a daemon that died
        else:
            raise SpecError("host", f"another daemon is listening on {path}")
        finally:
            probe.close()
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # never a moment with a world-writable socket
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chown(path, -1, gid)
    os.chmod(path, 0o660)
    sock.listen(1024)
    return sock


def _tcp(addr: str) -> socket.socket:
    host, sep, port = addr.rpartition(":")
    if not sep:
        host, port = addr, str(DEFAULT_TCP_PORT)
    host = host.strip("[]") or "0.0.0.0"
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (ValueError, OSError) as exc:
        raise SpecError("host", f"bad TCP address {addr!r}: {exc}") from None
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        raise SpecError("host", f"cannot listen on {addr}: {exc.strerror}") from None
    sock.listen(1024)
    return sock


def open_listener(
    host: str,
    *,
    group: str | None = None,
    tls: ssl.SSLContext | None = None,
    plain_tcp: bool = False,
) -> Listener:
    """Bind ``host`` (``unix:///path`` or ``tcp://host:port``). TCP without ``tls`` is
    refused unless ``plain_tcp``: anyone who can reach the port is root on this machine.
    """
    kind, sep, rest = host.partition("://")
    if not sep:
        kind, rest = ("unix", host) if host.startswith("/") else ("tcp", host)
    if kind == "unix":
        return Listener(f"unix://{rest}", _unix(rest, group), None)
    if kind == "tcp":
        if tls is None and not plain_tcp:
            raise SpecError(
                "host",
                f"refusing plain TCP on {host}: anyone who reaches it controls this machine; "
                "use --tlsverify --tlscacert --tlscert --tlskey (or, if you really mean it, "
                "--insecure-plain-tcp-gives-root-to-the-network)",
            )
        return Listener(f"tcp://{rest}", _tcp(rest), tls)
    raise SpecError("host", f"unsupported address {host!r}: unix:///PATH or tcp://HOST:PORT")


def socket_kwargs(listener: Listener) -> dict[str, Any]:
    """For tests and tools: how to reach ``listener`` (its address)."""
    return {"address": listener.address}


__all__ = ["DEFAULT_SOCKET", "Listener", "open_listener", "tls_context"]
