"""How the client reaches a daemon: ``unix:///path``, ``tcp://host:port`` (with docker's TLS
files) or ``ssh://[user@]host[:port]`` (``ssh … pycontainers system dial-stdio`` on the
remote, as docker runs ``docker system dial-stdio``).

Every scheme comes down to one connected socket (:func:`connect`), which both the HTTP
client (httpx, through :class:`SocketTransport`) and the hijacked attach/exec streams use.
"""

from __future__ import annotations

import os
import shlex
import socket
import ssl
import subprocess
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import httpcore
import httpx

from pycontainers.errors import DaemonUnreachable, SpecError

DEFAULT_HOST = "unix:///run/pycontainers.sock"
"""The daemon the client talks to when no host is named (``pycontainers serve``'s default)."""

REMOTE_COMMAND = ("pycontainers", "system", "dial-stdio")
"""What the client runs on an ``ssh://`` host: stdin/stdout proxied to its daemon socket."""

DEFAULT_TLS_PORT = 2376
DEFAULT_PLAIN_PORT = 2375


@attrs.frozen
class Tls:
    """Docker's client TLS files: ``ca`` to verify the daemon (``--tlsverify``), and the
    client's own ``cert``/``key`` when the daemon verifies clients.
    """

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True

    def context(self) -> ssl.SSLContext:
        """The client's SSL context."""
        ctx = (
            ssl.create_default_context(cafile=self.ca)
            if self.verify
            else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        )
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if (self.cert is None) != (self.key is None):
            raise SpecError("tlscert", "--tlscert and --tlskey go together")
        try:
            if self.cert is not None and self.key is not None:
                ctx.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise SpecError("tlscert", f"cannot load the client certificate: {exc}") from None
        return ctx


@attrs.frozen
class Host:
    """A parsed daemon address."""

    url: str
    scheme: str  # unix, tcp, ssh
    path: str = ""  # unix
    host: str = ""  # tcp, ssh
    port: int | None = None
    user: str | None = None  # ssh
    tls: Tls | None = None  # tcp

    @classmethod
    def parse(cls, url: str, tls: Tls | None = None) -> Host:
        """``url`` as docker's ``-H``/``DOCKER_HOST`` takes it; a bad one is a SpecError."""
        if url.startswith("/"):
            url = "unix://" + url
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme
        if scheme == "unix":
            path = parts.netloc + parts.path
            if not path.startswith("/"):
                raise SpecError("host", f"a unix socket path must be absolute: {url!r}")
            return cls(url, "unix", path=path)
        if scheme in ("tcp", "http", "https"):
            if not parts.hostname:
                raise SpecError("host", f"no host in {url!r}")
            if scheme == "https" and tls is None:
                tls = Tls()
            default = DEFAULT_TLS_PORT if tls is not None else DEFAULT_PLAIN_PORT
            return cls(url, "tcp", host=parts.hostname, port=parts.port or default, tls=tls)
        if scheme == "ssh":
            if not parts.hostname:
                raise SpecError("host", f"no host in {url!r}")
            if parts.path not in ("", "/"):
                raise SpecError("host", f"an ssh:// host takes no path: {url!r}")
            return cls(url, "ssh", host=parts.hostname, port=parts.port, user=parts.username)
        raise SpecError(
            "host", f"unsupported scheme in {url!r}: use unix://, tcp:// or ssh://[user@]host"
        )

    def ssh_argv(self) -> list[str]:
        """The ssh command line that opens a stream to the remote daemon.

        ``$PYCONTAINERS_SSH_COMMAND`` replaces ``ssh`` (options such as ``-F config``, as
        ``GIT_SSH_COMMAND`` does); the rest is docker's: ``-T``, ``-l``, ``-p``, ``--``.
        """
        argv = shlex.split(os.environ.get("PYCONTAINERS_SSH_COMMAND", "ssh"))
        argv += ["-T", "-o", "ConnectTimeout=30"]
        if self.user:
            argv += ["-l", self.user]
        if self.port:
            argv += ["-p", str(self.port)]
        return [*argv, "--", self.host, *REMOTE_COMMAND]


def connect(host: Host, timeout: float | None = 30.0) -> socket.socket:
    """A socket connected to ``host``'s daemon (through TLS or an ssh child as it says)."""
    try:
        if host.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(host.path)
            except BaseException:
                sock.close()
                raise
        elif host.scheme == "tcp":
            sock = socket.create_connection((host.host, host.port or 0), timeout=timeout)
            if host.tls is not None:
                try:
                    sock = host.tls.context().wrap_socket(sock, server_hostname=host.host)
                except BaseException:
                    sock.close()
                    raise
        else:
            sock = _ssh(host)
    except OSError as exc:
        raise DaemonUnreachable(
            host.url, str(exc), errno=exc.errno, path=host.path or None
        ) from None
    sock.settimeout(None)
    return sock


def _ssh(host: Host) -> socket.socket:
    """One end of a socketpair whose other end is an ssh child's stdin and stdout."""
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen(
            host.ssh_argv(), stdin=theirs.fileno(), stdout=theirs.fileno(), start_new_session=True
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return _ChildSocket(ours, proc)


class _ChildSocket(socket.socket):
    """A socket that also reaps the ssh child behind it when closed."""

    def __init__(self, sock: socket.socket, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self._proc = proc

    def close(self) -> None:
        """Close the socket; ssh sees EOF and ends (killed if it lingers)."""
        super().close()
        proc = getattr(self, "_proc", None)
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class _Stream(httpcore.NetworkStream):
    """httpcore's view of one of our sockets."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout("the daemon did not answer in time") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from None

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(buffer)
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from None

    def close(self) -> None:
        self.sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("TLS is set up by the daemon address, not the URL")

    def get_extra_info(self, info: str) -> Any:
        return self.sock if info == "socket" else None


class _Backend(httpcore.NetworkBackend):
    """Every connection httpcore opens goes to ``host``, whatever the URL says."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(connect(self.host, timeout))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(connect(self.host, timeout))


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except httpcore.ReadError as exc:
            raise httpx.ReadError(str(exc)) from None

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class SocketTransport(httpx.BaseTransport):
    """An httpx transport whose connections come from :func:`connect` (a unix socket, TLS
    TCP or an ssh child alike); requests are plain HTTP/1.1 over them.
    """

    def __init__(self, host: Host) -> None:
        self._pool = httpcore.ConnectionPool(network_backend=_Backend(host), max_connections=8)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection."""
        assert isinstance(request.stream, httpx.SyncByteStream)
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=b"http", host=b"docker", port=None, target=request.url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            resp = self._pool.handle_request(req)
        except httpcore.TimeoutException as exc:
            raise httpx.TimeoutException(str(exc)) from None
        except httpcore.NetworkError as exc:
            raise httpx.NetworkError(str(exc)) from None
        except httpcore.ProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from None
        assert isinstance(resp.stream, Iterable)
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_Body(resp.stream),
            extensions=resp.extensions,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()


__all__ = ["DEFAULT_HOST", "REMOTE_COMMAND", "Host", "SocketTransport", "Tls", "connect"]
