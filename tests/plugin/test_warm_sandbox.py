"""Warm sandboxes on a real kernel: each call is a fork of a zygote in fresh namespaces and a
cgroup of its own, confined like a cold sandbox's container. Consecutive and concurrent
calls cannot see each other; a crash, an OOM kill, a fork bomb, a timeout or an
unpicklable result is reported while the same zygote keeps serving; a dead zygote is
replaced; a thousand calls leave nothing behind."""

from __future__ import annotations

import asyncio
import glob
import importlib.metadata
import os
import re
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

import pycontainers as pc
from pycontainers.runtime.call_cgroups import KEEP_IDLE
from pycontainers.testing import (
    Sandbox,
    SandboxError,
    SandboxMemoryError,
    SandboxResultError,
    SandboxTimeout,
)

pytestmark = pytest.mark.root
PLUGIN = "pycontainers.testing.plugin"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(preload=["json"], timeout=30) as sb:
        yield sb


def children() -> set[int]:
    """Our child processes (the zygotes are; their calls are theirs)."""
    me = str(os.getpid())
    out = set()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            out.add(int(stat.split("/")[2]))
    return out


def zygote_of(sandbox: Sandbox) -> int:
    """The pid of the zygote serving ``sandbox`` (a child of ours running its program)."""
    sandbox.call(int)  # started
    found = []
    for pid in children():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"_zygote_main" in f.read():
                    found.append(pid)
        except OSError:
            continue
    assert len(found) == 1, found
    return found[0]


def _package_binds() -> set[str]:
    """Entries of a call's /tmp that are binds of this checkout (when it lives under /tmp,
    as a CI clone may): the sandbox mounts the package where it is, so it shows there."""
    import pycontainers

    parts = Path(pycontainers.__file__).resolve().parts
    return {parts[2]} if len(parts) > 3 and parts[1] == "tmp" else set()


def _tmp(seen: dict[str, object]) -> dict[str, object]:
    listing = seen["tmp"]
    assert isinstance(listing, list)
    return {**seen, "tmp": [x for x in listing if x not in _package_binds()]}


def ns_inodes() -> dict[str, int]:
    return {k: os.stat(f"/proc/self/ns/{k}").st_ino for k in ("pid", "net", "mnt", "uts", "ipc")}


def leave_traces(tag: str) -> dict[str, object]:
    """Leave a file, an env var and a module global; report what the previous call left."""
    import json

    seen = {
        "tmp": sorted(os.listdir("/tmp")),
        "env": os.environ.get("WARM_TRACE"),
        "global": getattr(json, "warm_trace", None),
        "modules": "xml.dom.minidom" in sys.modules,
    }
    with open(f"/tmp/{tag}", "w") as f:
        f.write(tag)
    os.environ["WARM_TRACE"] = tag
    json.warm_trace = tag  # type: ignore[attr-defined]
    import xml.dom.minidom  # noqa: F401

    return seen


def test_consecutive_calls_see_nothing_of_each_other(sandbox: Sandbox) -> None:
    first = sandbox.call(leave_traces, "one")
    second = sandbox.call(leave_traces, "two")
    for seen in (first, second):
        assert _tmp(seen) == {"tmp": [], "env": None, "global": None, "modules": False}

    # control: within one call the traces are there
    def both() -> tuple[dict[str, object], dict[str, object]]:
        return leave_traces("a"), leave_traces("b")

    _, again = sandbox.call(both)
    assert _tmp(again) == {"tmp": ["a"], "env": "a", "global": "a", "modules": True}
    # not the zygote's nor ours (concurrent calls show that each has its own: the inode
    # number of a namespace freed by one call may come back for the next one)
    here = ns_inodes()
    for call in [sandbox.call(ns_inodes) for _ in range(3)]:
        assert not set(call.values()) & set(here.values())


def concurrent_view(tag: str) -> dict[str, object]:
    import socket

    with open(f"/tmp/{tag}", "w") as f:
        f.write(tag)
    time.sleep(1.0)  # every call of the batch is running now
    return {
        "tmp": sorted(os.listdir("/tmp")),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "me": os.getpid(),
        "host": socket.gethostname(),
        **ns_inodes(),
    }


def test_concurrent_calls_see_nothing_of_each_other() -> None:
    with Sandbox(workers=4) as sb:
        views = sb.map(concurrent_view, ["a", "b", "c", "d"])
    for tag, view in zip("abcd", views, strict=True):
        assert _tmp(view)["tmp"] == [tag]
        assert view["pids"] == [1] and view["me"] == 1
    for key in ("host", "pid", "net", "mnt", "uts", "ipc"):
        assert len({v[key] for v in views}) == 4, key


def status_fields() -> dict[str, str]:
    with open("/proc/self/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def write(path: str, data: str) -> int:
    with open(path, "w") as f:
        return f.write(data)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(1)


def try_privileged() -> dict[str, str]:
    import errno

    from pycontainers import _sys

    out = {}
    for name, op in (
        ("unshare", lambda: _sys.unshare(_sys.CLONE_NEWNS)),
        ("mount", lambda: _sys.mount("none", "/mnt", "tmpfs")),
        ("sysctl", lambda: write("/proc/sys/kernel/hostname", "x")),
        ("keys", lambda: read("/proc/keys")),
        ("timer_list", lambda: read("/proc/timer_list")),
        ("acpi", lambda: os.listdir("/proc/acpi")),
    ):
        try:
            result = op()
            out[name] = f"ok {result!r}"
        except OSError as exc:
            out[name] = errno.errorcode.get(exc.errno or 0, repr(exc))
    return out


def test_a_call_is_confined_like_a_cold_container(sandbox: Sandbox) -> None:
    warm = sandbox.call(status_fields)
    with Sandbox(warm=False) as cold_sb:
        cold = cold_sb.call(status_fields)
    for field in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs"):
        assert warm[field] == cold[field], field
    assert warm["NoNewPrivs"] == "1" and warm["Seccomp"] == "2"
    assert int(warm["CapBnd"], 16) & (1 << 21) == 0  # no CAP_SYS_ADMIN, which the zygote has
    with open(f"/proc/{zygote_of(sandbox)}/status") as f:
        zygote_caps = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    assert int(zygote_caps, 16) & (1 << 21)  # control: the zygote itself holds it
    denied = sandbox.call(try_privileged)
    assert denied["unshare"] == "EPERM" and denied["mount"] == "EPERM"
    assert denied["sysctl"] == "EROFS"  # /proc/sys read-only on the call's own /proc
    # masked on the call's own /proc: /dev/null on files, an empty directory on directories
    assert denied["keys"] == denied["timer_list"] == "ok b''"
    assert denied["acpi"] == "ok []"
    assert read("/proc/timer_list")  # control: the host's is not empty
    assert sandbox.call(os.getuid) == 0


def hog(mb: int) -> int:
    chunks = [bytearray(1 << 20) for _ in range(mb)]
    for c in chunks:
        c[::4096] = b"x" * len(c[::4096])
    return len(chunks)


def crash(how: str) -> None:
    if how == "abort":
        os.abort()
    if how == "segv":
        import ctypes

        ctypes.string_at(0)
    if how == "exit":
        print("bye")
        os._exit(7)


def leak_threads() -> int:
    import threading

    for _ in range(4):  # never joined, never ending: gone with the call
        threading.Thread(target=time.sleep, args=(3600,)).start()
    return threading.active_count()


def fork_bomb() -> None:
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)


def test_failures_are_reported_and_the_zygote_keeps_serving(sandbox: Sandbox) -> None:
    zygote = zygote_of(sandbox)
    # a call is pid 1 of its pid namespace (as a cold sandbox's payload is): SIGABRT is
    # ignored there, so abort() ends in glibc's last resort, a fault (SIGSEGV)
    with pytest.raises(SandboxError, match=r"killed by signal (6|11)\) without a result"):
        sandbox.call(crash, "abort")
    with pytest.raises(SandboxError, match=r"killed by signal 11\) without a result"):
        sandbox.call(crash, "segv")
    with pytest.raises(SandboxError, match=r"exit status 7\) without a result") as info:
        sandbox.call(crash, "exit")
    assert info.value.stdout == b"bye\n"
    with pytest.raises(SandboxMemoryError, match="memory='64m'"):
        sandbox.run(hog, 256, memory="64m")
    assert sandbox.run(hog, 16, memory="64m") == 16  # control: under its cap it runs
    with pytest.raises(SandboxTimeout, match=r"timeout=2\.0 s") as timeout:
        sandbox.run(fork_bomb, pids=16, timeout=2.0)
    assert "it hit its pids cap (pids=16)" in "".join(timeout.value.__notes__)
    assert (
        sandbox.records[-1].outcome == "killed after timeout=2.0 s; it hit its pids cap (pids=16)"
    )
    with pytest.raises(SandboxTimeout):
        sandbox.run(time.sleep, 30, timeout=0.5)
    with pytest.raises(SandboxResultError, match="cannot be pickled") as result:
        sandbox.call(lambda: (i for i in range(3)))
    assert isinstance(result.value, TypeError)
    assert "Traceback" in str(result.value.__cause__)
    with pytest.raises(KeyError):
        empty: dict[str, int] = {}
        sandbox.call(empty.__getitem__, "missing")
    assert sandbox.call(leak_threads) == 5
    assert sandbox.call(pow, 2, 10) == 1024
    assert zygote_of(sandbox) == zygote  # the same zygote served all of it


def test_a_dead_zygote_is_replaced(sandbox: Sandbox) -> None:
    first = zygote_of(sandbox)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while first in children() and time.monotonic() < deadline:
        time.sleep(0.05)
        try:  # not reaped by anyone but the sandbox: a zombie until the next call
            with open(f"/proc/{first}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
    assert sandbox.call(pow, 3, 3) == 27
    second = zygote_of(sandbox)
    assert second != first and first not in children()
    # killed during a call: that call is reported, the next one gets a new zygote
    killer = threading.Timer(0.5, os.kill, (second, signal.SIGKILL))
    killer.start()
    try:
        with pytest.raises(SandboxError, match="its zygote died"):
            sandbox.call(time.sleep, 10)
    finally:
        killer.join()
    assert sandbox.call(pow, 2, 2) == 4 and zygote_of(sandbox) not in (first, second)


def test_preload_and_sys_path_below_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert str(tmp_path).startswith(
        "/tmp/"
    )  # the binds of sys.path below /tmp survive the call's fresh /tmp
    (tmp_path / "warm_preloaded.py").write_text("import os\nTOKEN = os.urandom(8).hex()\n")
    (tmp_path / "warm_threaded.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    def token() -> str:
        import warm_preloaded  # type: ignore[import-not-found]

        return str(warm_preloaded.TOKEN)

    with Sandbox(preload=["warm_preloaded"]) as sb:
        tokens = {sb.call(token) for _ in range(3)}
    assert len(tokens) == 1  # imported once, by the zygote, not by each call
    with Sandbox() as sb:
        tokens = {sb.call(token) for _ in range(3)}
    assert len(tokens) == 3  # control: not preloaded, each call imports it afresh
    with (
        Sandbox(preload=["warm_threaded"]) as sb,
        pytest.raises(SandboxError, match="single-threaded"),
    ):
        sb.call(int)
    with (
        Sandbox(preload=["no_such_module_here"]) as sb,
        pytest.raises(SandboxError, match="ModuleNotFoundError"),
    ):
        sb.call(int)


def test_front_ends() -> None:
    @pc.sandboxed(memory="128m", timeout=30)
    def where(x: int) -> tuple[int, int]:
        """Runs in a sandbox."""
        return x * 2, os.getpid()

    try:
        assert where(21) == (42, 1)
        assert where.__doc__ == "Runs in a sandbox." and where.__name__ == "where"
        assert where.sandbox.warm
    finally:
        where.sandbox.close()

    async def main(sb: Sandbox) -> tuple[int, list[int]]:
        return await sb.acall(pow, 2, 5), await sb.amap(pow, [1, 2, 3], [3, 3, 3])

    with Sandbox(workers=2) as sb:
        assert asyncio.run(main(sb)) == (32, [1, 8, 27])
        assert sb.map(pow, [], []) == []
        with pytest.raises(ZeroDivisionError):
            sb.map(divmod, [1, 2], [1, 0])
        assert [r.outcome for r in sb.records[-2:]].count("raised ZeroDivisionError") == 1


def fds(pool: bool = True) -> list[str]:
    """Our open fds (without the idle call cgroups' ``cgroup.procs`` unless ``pool``)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own fd
        if pool or not ("/pycontainers/sandbox-" in target and target.endswith("/cgroup.procs")):
            out.append(re.sub(r"\[\d+\]", "[N]", target))  # socket:[inode] -> socket:[N]
    return sorted(out)


def quiesce(sb: Sandbox) -> None:
    """Let the calls' exits settle (one more call takes back what ended meanwhile)."""
    time.sleep(0.5)
    sb.call(int)
    time.sleep(0.5)


def census() -> dict[str, object]:
    return {
        "children": children(),
        "fds": fds(),
        "mounts": open("/proc/self/mountinfo").read().count("\n"),
        "cgroups": sorted(glob.glob("/sys/fs/cgroup/*/pycontainers/sandbox-*")),
    }


@pytest.mark.slow
def test_a_thousand_calls_leak_nothing() -> None:
    before = census()
    with Sandbox() as sb:
        zygote = zygote_of(sb)
        quiesce(sb)
        zygote_fds = len(os.listdir(f"/proc/{zygote}/fd"))
        during = census()
        results = sb.map(pow, range(1000), [2] * 1000)
        assert results == [i * i for i in range(1000)]
        quiesce(sb)
        assert len(os.listdir(f"/proc/{zygote}/fd")) == zygote_fds
        after_calls = census()
        assert after_calls["children"] == during["children"]
        assert fds(pool=False) == [f for f in during["fds"] if "/pycontainers/sandbox-" not in f]  # type: ignore[attr-defined]
        assert after_calls["mounts"] == during["mounts"]
        # the idle pool, the standby's and the last call's group: not one per call
        groups = {os.path.basename(g) for g in cast(list[str], after_calls["cgroups"])}
        assert len(groups) <= KEEP_IDLE + 2
        assert zygote_of(sb) == zygote
    assert census() == before  # closed: no zygote, fd, mount or cgroup of ours is left


def test_inner_session_uses_warm_fixture_unless_cold(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import os

            def test_mode(sandbox, pytestconfig):
                cold = pytestconfig.getoption("pycontainers_cold")
                assert sandbox.warm is (not cold)
                assert sandbox.run(os.getpid) == 1 if not cold else True
                assert sandbox.call(pow, 2, 3) == 8
            """
        )
    )
    eps = importlib.metadata.entry_points(group="pytest11")
    plugin = [] if any(ep.value == PLUGIN for ep in eps) else ["-p", PLUGIN]
    for extra in ([], ["--pycontainers-cold"]):
        result = pytester.runpytest_subprocess(
            *plugin, "-p", "no:cacheprovider", *extra, timeout=240
        )
        result.assert_outcomes(passed=1)
