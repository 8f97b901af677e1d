"""The warm start server: one per socket (a user and a context), single-threaded.

It keeps one *standby*, a fork blocked in ``accept()`` on the listening socket. The standby
that accepts a connection hands a dup of it to the server (its channel: a socketpair, with
SCM_RIGHTS) and becomes the worker of that request (``worker.py``); the server forks the
next standby. The server then owns the client's connection: ``sig N`` from the client is
``kill(worker, N)`` (the worker is its child: no pid reuse), EOF from the client (a killed
CLI) is SIGKILL of the worker, and the worker's wait status goes back as ``exit STATUS``.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import os
import select
import signal
import socket
import sys
import time
from typing import Any

from pycontainers._log import get_logger
from pycontainers.warmstart import RUNTIME_TARGET, commands_for, idle_seconds
from pycontainers.warmstart.preload import PRELOAD, PRELOAD_RUNTIME, changed, preload, snapshot

log = get_logger(__name__)

_READ = select.POLLIN | select.POLLHUP | select.POLLERR
_RECHECK = 30.0  # seconds: an idle server looks at its files this often, and exits once one
# changed (the package upgraded, a test's launcher removed) rather than idle on for nothing


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` is still the file open at ``fd``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    here = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino)


def _initial_environ() -> dict[str, str]:
    """The environment this process was exec'd with (``/proc/self/environ``: setenv does
    not change it), less ``PYCONTAINERS_WARM_SERVE``; ``os.environ`` if it cannot be read.
    """
    try:
        with open("/proc/self/environ", "rb") as f:
            data = f.read()
    except OSError:
        return dict(os.environ)
    out: dict[str, str] = {}
    for item in data.split(b"\0"):
        name, eq, value = os.fsdecode(item).partition("=")
        if eq and name not in out:  # getenv takes the first
            out[name] = value
    out.pop("PYCONTAINERS_WARM_SERVE", None)
    return out


class _Worker:
    """A forked child of the server: the standby, then the worker of one request."""

    def __init__(self, pid: int, chan: socket.socket) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.chan: socket.socket | None = chan
        self.conn: socket.socket | None = None  # the client's connection, once accepted
        self.buffer = b""
        self.reading = False  # the worker has read the request: the rest is the server's
        self.started = time.monotonic()


class Server:
    """The state of one server (see the module's docstring)."""

    def __init__(self, path: str, launcher: dict[str, Any], fast: bool) -> None:
        self.path = path
        self.launcher = launcher
        self.target: str = launcher["TARGET"]  # the CLI's, or the OCI runtime's
        self.commands = commands_for(self.target)
        self.fast = fast
        self.listener: socket.socket | None = None
        self.inode = -1
        self.lock_fd = -1
        self.standby: _Worker | None = None
        self.workers: dict[int, _Worker] = {}  # by pidfd
        self.stale = False
        self.last = self.checked = time.monotonic()
        self.idle = idle_seconds()
        self.quick_deaths = 0
        self.snap: dict[str, tuple[int, int, int]] = {}
        # the environment as the client passed it, before the interpreter's locale coercion
        # (PEP 538 adds LC_CTYPE=C.UTF-8 to a C locale's): what a request is compared with;
        # and what the coercion added, which a worker adds too, as a cold process has it
        self.environ = _initial_environ()
        self.coerced = {k: v for k, v in os.environ.items() if self.environ.get(k) != v}
        self.wake_fd = -1
        self.pid = os.getpid()  # the parent its standby and workers die with

    # ---- what a worker must let go of -------------------------------------------------

    def sockets(self) -> list[socket.socket]:
        """Every socket object of the server (a worker detaches them before it closes fds)."""
        out = [self.listener] if self.listener is not None else []
        for w in [*self.workers.values(), *([self.standby] if self.standby else [])]:
            out += [s for s in (w.chan, w.conn) if s is not None]
        return out

    # ---- set-up -------------------------------------------------------------------------

    def site_inputs(self) -> list[str]:
        """The launcher's cache of ``site`` and what it was checked against, and the script."""
        out = [os.path.abspath(sys.argv[0])]
        try:
            cache = self.launcher["cache_file"](self.launcher["cache_key"]())
        except Exception:
            return out
        if not cache:
            return out
        out.append(cache)
        try:
            with open(cache, encoding="utf-8", errors="replace") as f:
                for line in f:
                    kind, _, rest = line.rstrip("\n").partition("\t")
                    if kind == "stamp":
                        out.append(rest.rpartition("\t")[0])
        except OSError:
            pass
        return out

    def start(self) -> bool:
        """Lock, preload, bind and listen; False when another server holds the lock."""
        lock = self.path + ".lock"
        for _ in range(8):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            if _same_file(fd, lock):
                break
            os.close(fd)  # an exiting server removed that file after we opened it: again
        else:
            return False
        self.lock_fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())  # for `pycontainers system warm`
        from pycontainers._attrscache import enable  # (a worker's enable() is then a no-op:

        enable()  # it would read the cache file again for classes all made already)
        preload(PRELOAD_RUNTIME if self.target == RUNTIME_TARGET else PRELOAD)
        gc.collect()
        gc.freeze()  # forks share the preloaded objects' pages: no gc pass dirties them
        self.snap = snapshot(self.site_inputs())
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        tmp = os.path.join(os.path.dirname(self.path), f"{os.getpid()}.t")  # (sun_path: 108)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        listener.bind(tmp)
        os.chmod(tmp, 0o600)
        os.rename(tmp, self.path)
        self.inode = os.stat(self.path).st_ino
        listener.listen(128)
        listener.setblocking(False)
        self.listener = listener
        return True

    def unlink(self) -> None:
        """Remove the socket if it is still this server's, and let another server start."""
        try:
            if os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        except OSError:
            pass
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.lock_fd >= 0:  # removed while held (a starting server checks it locked
            lock = self.path + ".lock"  # the file still there), so none pile up
            if _same_file(self.lock_fd, lock):
                os.unlink(lock)
            os.close(self.lock_fd)
            self.lock_fd = -1

    # ---- the standby --------------------------------------------------------------------

    def fork_standby(self) -> None:
        """Fork the next standby (single-threaded: asserted)."""
        threading = sys.modules.get("threading")
        assert threading is None or threading.active_count() == 1, "a thread in the server"
        assert self.listener is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # the standby: never returns
            ours.detach()
            from pycontainers.warmstart.worker import standby

            standby(self, theirs)
        theirs.close()
        self.standby = _Worker(pid, ours)

    def _from_channel(self, w: _Worker) -> None:
        """The standby accepted (a dup of the connection comes with ``a``), the worker has
        read the request (``r``: from now on the server reads the connection) or says the
        server is stale (``s``); EOF: the channel is done.
        """
        assert w.chan is not None
        try:
            data, fds, _flags, _addr = socket.recv_fds(w.chan, 16, 1)
        except OSError:
            data, fds = b"", []
        if not data:
            w.chan.close()
            w.chan = None
        if fds:
            if w.conn is None:
                w.conn = socket.socket(fileno=fds.pop(0))
            for fd in fds:
                os.close(fd)
        if b"a" in data and w is self.standby:
            self.last = time.monotonic()
            self.standby = None
            self.workers[w.pidfd] = w
            if not self.stale:
                self.fork_standby()
        if b"r" in data:
            w.reading = True
        if b"s" in data:
            self.go_stale()

    def go_stale(self) -> None:
        """A module or the launcher's inputs changed: stop serving, exit once idle."""
        if self.stale:
            return
        self.stale = True
        log.debug("warm.stale", socket=self.path)
        self.unlink()
        if self.standby is not None:
            os.kill(self.standby.pid, signal.SIGKILL)

    # ---- the workers ------------------------------------------------------------------

    def _from_client(self, w: _Worker) -> None:
        assert w.conn is not None
        try:
            data = w.conn.recv(4096)
        except OSError:
            data = b""
        if not data:  # the client is gone: so is its command
            self._kill(w, signal.SIGKILL)
            w.conn.close()
            w.conn = None
            return
        w.buffer += data
        *lines, w.buffer = w.buffer.split(b"\n")
        for line in lines:
            word, _, number = line.partition(b" ")
            if word == b"sig" and number.isdigit() and 0 < int(number) < signal.NSIG:
                self._kill(w, int(number))
        if len(w.buffer) > 4096:
            w.buffer = b""

    def _kill(self, w: _Worker, sig: int) -> None:
        try:
            signal.pidfd_send_signal(w.pidfd, sig)
        except OSError:
            pass

    def _reap(self, w: _Worker) -> None:
        _pid, status = os.waitpid(w.pid, 0)
        os.close(w.pidfd)
        if w is self.standby:  # died before any request (killed, or broken)
            self.standby = None
            self.quick_deaths += 1
            if w.chan is not None:
                w.chan.close()
            if not self.stale and self.quick_deaths < 5:
                self.fork_standby()
            elif not self.stale:
                self.go_stale()
            return
        del self.workers[w.pidfd]
        self.last = time.monotonic()
        if w.conn is not None:
            try:
                w.conn.send(b"exit %d\n" % status, socket.MSG_NOSIGNAL)
            except OSError:
                pass
            w.conn.close()
        if w.chan is not None:
            if self.stale is False:  # a last word on the channel (stale) comes before EOF
                try:
                    w.chan.setblocking(False)
                    if b"s" in w.chan.recv(16):
                        self.go_stale()
                except OSError:
                    pass
            w.chan.close()

    # ---- the loop ----------------------------------------------------------------------

    def serve(self) -> int:
        """Run until idle (or stale and idle; SIGTERM makes it stale); the exit status."""
        wake_r, wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.wake_fd = wake_r
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGTERM, lambda *_: None)  # (the wakeup fd says it)
        self.fork_standby()
        while True:
            everyone = [*self.workers.values(), *([self.standby] if self.standby else [])]
            if not self.workers:
                if not self.stale and time.monotonic() - self.checked >= _RECHECK:
                    self.checked = time.monotonic()
                    if changed(self.snap) is not None:  # upgraded, or its launcher removed
                        self.go_stale()
                if self.stale:
                    break
                left = self.idle - (time.monotonic() - self.last)
                if left <= 0:
                    break
                timeout = int(min(left, _RECHECK) * 1000) + 1
            else:
                timeout = -1
            poller = select.poll()
            poller.register(wake_r, select.POLLIN)
            index: dict[int, tuple[str, _Worker]] = {}
            for w in everyone:
                for kind, fd in (
                    ("chan", w.chan.fileno() if w.chan else -1),
                    ("conn", w.conn.fileno() if w.conn and w.reading else -1),
                    ("pid", w.pidfd),
                ):
                    if fd >= 0:
                        poller.register(fd, _READ)
                        index[fd] = (kind, w)
            try:
                events = poller.poll(timeout)
            except InterruptedError:
                continue
            woken = any(fd == wake_r for fd, _ in events)
            if woken and signal.SIGTERM in os.read(wake_r, 64):  # stop: let workers finish
                self.go_stale()
            order = {"chan": 0, "conn": 1, "pid": 2}
            ready = sorted(
                (index[fd] for fd, _ in events if fd in index), key=lambda kw: order[kw[0]]
            )
            done: set[int] = set()
            for kind, w in ready:
                if w.pidfd in done:
                    continue
                if kind == "chan" and w.chan is not None:
                    self._from_channel(w)
                elif kind == "conn" and w.conn is not None:
                    self._from_client(w)
                elif kind == "pid":
                    if w.chan is not None and w is self.standby:
                        self._drain_channel(w)
                    if w is self.standby or w.pidfd in self.workers:
                        self._reap(w)
                        done.add(w.pidfd)
        self.unlink()
        if self.standby is not None:
            os.kill(self.standby.pid, signal.SIGKILL)
            os.waitpid(self.standby.pid, 0)
        return 0

    def _drain_channel(self, w: _Worker) -> None:
        """A standby that died may have accepted first: take its message (it is a worker)."""
        assert w.chan is not None
        w.chan.setblocking(False)
        try:
            self._from_channel(w)
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
                raise


def serve(path: str, launcher: dict[str, Any], fast: bool) -> int:
    """The launcher's server mode (``PYCONTAINERS_WARM_SERVE=path``): 0 when it is done."""
    server = Server(path, launcher, fast)
    if not server.start():
        return 0
    return server.serve()
