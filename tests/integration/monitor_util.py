"""Helpers for the pycontainers-monitor tests: start the monitor, wait, read its files,
talk to its attach socket, and adopt a process the way the shim's intermediate does."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pycontainers.runtime.monitor_bin import monitor_path

MON = monitor_path()
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
WAIT = 20.0  # seconds: a generous bound for things that should take milliseconds


class Monitor:
    """A monitor started by the test (its direct child), ready when the constructor returns."""

    def __init__(
        self,
        state: Path,
        *args: str,
        argv: Sequence[str] | None = None,
        pass_fds: Sequence[int] = (),
        launcher: Sequence[str] | None = None,
    ) -> None:
        self.state = state
        state.mkdir(parents=True, exist_ok=True)
        r, w = os.pipe()
        cmd = [MON, "--state-dir", str(state), "--ready-fd", str(w), *args]
        if argv is not None:
            cmd += ["--", *argv]
        if launcher is not None:  # e.g. the adopting intermediate: it execs the monitor
            cmd = [*launcher, json.dumps(cmd)]
        self.proc = subprocess.Popen(
            cmd, pass_fds=(w, *pass_fds), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        os.close(w)
        try:
            ready = os.read(r, 1)
        finally:
            os.close(r)
        if ready != b"1":
            _, err = self.proc.communicate(timeout=WAIT)
            raise AssertionError(f"monitor not ready: {err.decode()}")
        self.pid = self.proc.pid

    def wait(self) -> int:
        """Wait for the monitor to exit; its own exit status."""
        return self.proc.wait(timeout=WAIT)

    def exit_info(self) -> dict[str, Any]:
        """The exit file, after the monitor is gone."""
        self.wait()
        return read_json(self.state / "exit.json")

    def log(self) -> list[dict[str, Any]]:
        """The json-file log lines."""
        return log_lines(self.state / "ctr.log")

    def kill(self) -> None:
        """Stop it (SIGTERM is forwarded to the container) and wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def log_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for raw in path.read_bytes().split(b"\n")[:-1]:
        entry = json.loads(raw)
        assert set(entry) == {"log", "stream", "time"}, entry
        assert entry["stream"] in ("stdout", "stderr")
        assert TIME_RE.match(entry["time"]), entry["time"]
        out.append(entry)
    return out


def wait_for(cond: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll until cond() is truthy (no wall-clock assertion: the bound is only a safety net)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ---- attach protocol ----


def attach(state: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    s.connect(str(state / "attach.sock"))
    return s


def send_frame(s: socket.socket, kind: int, payload: bytes = b"") -> None:
    s.sendall(struct.pack(">B3xI", kind, len(payload)) + payload)


def recv_exact(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def recv_frame(s: socket.socket) -> tuple[int, bytes]:
    kind, n = struct.unpack(">B3xI", recv_exact(s, 8))
    return kind, recv_exact(s, n)


def read_until(s: socket.socket, needle: bytes) -> bytes:
    """Output frames until the payloads contain needle."""
    got = b""
    while needle not in got:
        kind, payload = recv_frame(s)
        assert kind in (1, 2), (kind, payload)
        got += payload
    return got


# ---- adopting: what the shim's intermediate process does ----

# argv[1]: JSON {"argv": container argv, "stdio": [in, out, err] fds or "slave": fd,
#                "close": fds the intermediate closes before exec'ing the monitor}
# argv[2]: JSON monitor argv (without --adopt)
ADOPTER = r"""
import fcntl, json, os, sys, termios
spec = json.loads(sys.argv[1])
mon = json.loads(sys.argv[2])
pid = os.fork()
if pid == 0:
    if "slave" in spec:
        os.setsid()
        fcntl.ioctl(spec["slave"], termios.TIOCSCTTY, 0)
        fds = [spec["slave"]] * 3
    else:
        fds = spec["stdio"]
    for i, fd in enumerate(fds):
        os.dup2(fd if fd >= 0 else os.open("/dev/null", os.O_RDWR), i)
    os.closerange(3, 65536)  # the monitor's ends stay with the monitor only
    os.execvp(spec["argv"][0], spec["argv"])
for fd in spec["close"]:
    os.close(fd)
os.execv(mon[0], [mon[0], "--adopt", str(pid), *mon[1:]])
"""


def adopter(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, "-c", ADOPTER, json.dumps(spec)]
