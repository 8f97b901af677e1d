"""The sandbox's isolation, shown with real containers: a sandboxed Python callable cannot
reach the network, cannot write outside its /tmp, is killed at its memory cap with a clear
error, stops at its pids cap and its timeout — warm and cold alike. Each test has a
control that succeeds where the isolation is relaxed, so a broken sandbox cannot pass."""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycontainers.testing import (
    Sandbox,
    SandboxError,
    SandboxMemoryError,
    SandboxTimeout,
)

pytestmark = pytest.mark.root


@pytest.fixture(params=["warm", "cold"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """Every isolation test holds for warm calls (forks of a zygote) and cold ones."""
    with Sandbox(warm=request.param == "warm") as sb:
        yield sb


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP listener on the host side's 127.0.0.1 (the test session's netns)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def try_connect(host: str, port: int) -> str:
    import socket

    try:
        with socket.create_connection((host, port), timeout=3):
            return "connected"
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, repr(exc))


def test_callable_cannot_reach_the_network(sandbox: Sandbox, listener: int) -> None:
    assert sandbox.run(try_connect, "127.0.0.1", listener) == "ECONNREFUSED"  # its own lo
    assert sandbox.run(try_connect, "10.255.255.1", 80) == "ENETUNREACH"
    assert sandbox.run(try_connect, "1.1.1.1", 53) == "ENETUNREACH"

    def links() -> list[str]:
        return sorted(os.listdir("/sys/class/net"))

    assert sandbox.run(links) == ["lo"]
    # control: with the host's network the same callable reaches the listener
    assert sandbox.run(try_connect, "127.0.0.1", listener, network="host") == "connected"


def try_writes(paths: list[str]) -> dict[str, str]:
    out = {}
    for path in paths:
        try:
            with open(path, "w") as f:
                f.write("x")
            out[path] = "written"
        except OSError as exc:
            out[path] = errno.errorcode.get(exc.errno or 0, repr(exc))
    return out


def test_callable_cannot_write_outside_tmp(sandbox: Sandbox, tmp_path: Path) -> None:
    here = os.path.dirname(os.path.abspath(__file__))  # on sys.path: bound read-only
    outside = [
        "/x", "/etc/x", "/usr/x", "/usr/lib/x", "/bin/x", "/root/x", "/home/x", "/var/tmp/x",
        "/run/x", "/dev/x", "/dev/shm/x", "/dev/mqueue/x", "/proc/x", "/sys/x",
        f"{here}/x", f"{here}/conftest.py", os.path.join(os.path.dirname(os.__file__), "x"),
    ]  # fmt: skip
    result = sandbox.run(try_writes, [*outside, "/tmp/x", "/tmp/sub-ok"])
    assert result.pop("/tmp/x") == "written"
    assert result.pop("/tmp/sub-ok") == "written"
    written = {p: r for p, r in result.items() if r == "written"}
    assert not written, f"the sandbox could write outside /tmp: {written}"
    assert result[f"{here}/conftest.py"] == "EROFS"  # the host file is visible, not writable
    assert not os.path.exists(f"{here}/x")
    # its /tmp is fresh: nothing of the previous sandbox, nothing of the host's /tmp
    # empty but for the mount points of host sys.path entries that live under /tmp
    listing = sandbox.run(os.listdir, "/tmp")
    assert [e for e in listing if not any(p.startswith(f"/tmp/{e}") for p in sys.path)] == []
    # control: writable_shm relaxes exactly /dev/shm
    assert sandbox.run(try_writes, ["/dev/shm/x"], writable_shm=True) == {"/dev/shm/x": "written"}


def hog(megabytes: int) -> int:
    chunks = [bytearray(1024 * 1024) for _ in range(megabytes)]  # touched: zero-filled
    return len(chunks)


def test_callable_is_killed_at_its_memory_cap(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxMemoryError) as info:
        sandbox.run(hog, 512, memory="96m")
    message = str(info.value)
    assert "memory='96m'" in message and "OOM killer" in message
    assert info.value.memory == "96m"
    assert isinstance(info.value, MemoryError)
    assert sandbox.records[-1].outcome == "OOM-killed at memory='96m'"
    assert sandbox.run(hog, 16, memory="96m") == 16  # control: under the cap it runs


def spawn(n: int) -> int:
    import subprocess

    procs = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen(["sleep", "30"]))
    except OSError as exc:
        return -(exc.errno or 1)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return len(procs)


def test_pids_cap(sandbox: Sandbox) -> None:
    assert sandbox.run(spawn, 40, pids=16) == -errno.EAGAIN
    assert sandbox.run(spawn, 5, pids=16) == 5


def test_timeout_kills_the_sandbox(sandbox: Sandbox) -> None:
    import time

    with pytest.raises(SandboxTimeout, match=r"timeout=1\.0 s"):
        sandbox.run(time.sleep, 60, timeout=1.0)
    with pytest.raises(SandboxTimeout) as info:
        sandbox.run("echo started; sleep 60", timeout=1.0)
    assert info.value.stdout == b"started\n"


class Custom(Exception):
    pass


def raiser(kind: str) -> None:
    print("before the error")
    if kind == "custom":
        raise Custom("from inside")
    raise KeyError(kind)


def test_callable_results_and_exceptions(sandbox: Sandbox) -> None:
    base = 10
    assert sandbox.run(lambda a, b: a + b + base, 1, 2) == 13  # closures travel
    assert sandbox.call(dict, a=1, b=2) == {"a": 1, "b": 2}
    assert sandbox.run(os.getuid) == 0
    with pytest.raises(KeyError) as info:
        sandbox.run(raiser, "key")
    assert "Traceback inside the sandbox" in str(info.value.__cause__)
    assert "in raiser" in str(info.value.__cause__)
    with pytest.raises(Custom, match="from inside"):  # a class of the test module itself
        sandbox.run(raiser, "custom")
    assert sandbox.records[-1].stdout == b"before the error\n"
    assert sandbox.records[-1].outcome == "raised Custom"
    with pytest.raises(TypeError, match="cannot be pickled"):
        sandbox.run(lambda: (i for i in range(3)))  # a generator cannot come back
    with pytest.raises(SandboxError, match=r"exit status 3\) without a result"):
        sandbox.run(os._exit, 3)


def test_commands(sandbox: Sandbox, busybox_rootfs: Path) -> None:
    r = sandbox.run("echo out; echo err >&2; exit 4")
    assert (r.returncode, r.stdout, r.stderr) == (4, b"out\n", b"err\n")
    with pytest.raises(SandboxError, match="exited with status 4"):
        r.check_returncode()
    assert sandbox.run(["echo", "a"], "b").text == "a b\n"
    r = sandbox.run(["sh", "-c", "touch /tmp/ok && touch /etc/no"], image=str(busybox_rootfs))
    assert r.returncode == 1 and b"Read-only file system" in r.stderr
    assert not (busybox_rootfs / "etc" / "no").exists()
    assert sandbox.run("echo $FOO", env={"FOO": "bar"}).text == "bar\n"
