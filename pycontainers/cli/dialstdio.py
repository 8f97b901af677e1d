"""``system dial-stdio``: this process's stdin and stdout become a connection to the local
daemon (``-H``, ``$PYCONTAINERS_HOST``, ``$DOCKER_HOST`` or the default socket), as
``docker system dial-stdio`` is for docker; an ``ssh://`` client runs it over ssh.
"""

from __future__ import annotations

import os
import socket
import threading


def _copy_in(sock: socket.socket) -> None:
    """Stdin → the daemon; at its end, half-close so the daemon sees EOF."""
    try:
        while data := os.read(0, 65536):
            sock.sendall(data)
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def dial_stdio(host: str | None) -> int:
    """Proxy stdin/stdout to the daemon at ``host`` (default as the client's) until the
    daemon ends the connection; 0, or 125 (with a message) when it cannot be reached.
    """
    from pycontainers.client.client import default_host
    from pycontainers.client.transport import Host, connect

    target = Host.parse(host or default_host())
    if target.scheme == "ssh":
        from pycontainers.errors import CommandError

        raise CommandError("dial-stdio connects to a daemon on this machine, not over ssh")
    sock = connect(target)
    threading.Thread(target=_copy_in, args=(sock,), daemon=True).start()
    try:
        while data := sock.recv(65536):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        return 0
    finally:
        sock.close()
    return 0


__all__ = ["dial_stdio"]
