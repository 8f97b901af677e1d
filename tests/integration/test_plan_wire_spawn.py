"""A container started from a packed and unpacked plan (``_native/plan_wire.c``: the warm
OCI runtime's worker packs, its C front end unpacks with the fds it received and clones)
runs as the same plan spawned directly: same output, ids, capabilities, seccomp filter,
no_new_privs, joined network namespace.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers import _sys
from pycontainers._plan import Plan
from pycontainers.runtime.plan import gather, make_plan

pytestmark = pytest.mark.root

SCRIPT = "echo ok; cat /proc/self/status; readlink /proc/self/ns/net; hostname; pwd"
KEYS = ("Name", "Umask", "Pid", "PPid", "Uid", "Gid", "Groups", "NoNewPrivs", "Seccomp",
        "Seccomp_filters", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")  # fmt: skip


@pytest.fixture(scope="module")
def netns() -> Iterator[int]:
    """The pid of a process holding a network namespace the containers join."""
    pid, pidfd = _sys.spawn_hold(_sys.CLONE_NEWNET)
    yield pid
    _sys.pidfd_send_signal(pidfd, 9)
    _sys.reap(pidfd)
    os.close(pidfd)


def container_plan(rootfs: Path, user: str, netns_fd: int, out: int) -> Plan:
    spec = pc.ContainerSpec(
        rootfs=str(rootfs),
        process=pc.Process(args=("/bin/sh", "-c", SCRIPT), user=user, cwd="/tmp"),
        namespaces=["pid", "ipc", "mnt", "uts"],
        hostname="wire",
    )
    fds = ((-1, 0), (out, 1), (out, 2))
    return make_plan(spec, gather(spec), fds=fds, netns_fd=netns_fd)


def direct(plan: Plan, fds: list[int]) -> _sys.Spawned:
    """Spawn ``plan``, then close ``fds`` (the ones it names)."""
    try:
        return _sys.spawn(plan)
    finally:
        for fd in fds:
            os.close(fd)


def via_wire(plan: Plan, fds: list[int]) -> _sys.Spawned:
    """Pack, close ``fds`` (the ones the plan names), and spawn from the unpacked plan with
    dups of them (as SCM_RIGHTS gives them): a plan still naming the originals fails.
    """
    data, sent = _sys.pack_plan(plan)
    assert sorted(sent) == sorted(fds)
    received = [os.dup(fd) for fd in sent]
    for fd in fds:
        os.close(fd)
    try:
        buf = _sys.ffi.new("unsigned char[]", data)
        unpacked = _sys.lib.pc_plan_unpack(buf, len(data), received, len(received))
        assert unpacked != _sys.ffi.NULL
        res = _sys.ffi.new("struct pc_spawn_result *")
        assert _sys.lib.pc_spawn(unpacked, res) == 0
        return _sys.Spawned(res.pid, res.pidfd, res.sock, res.into_cgroup > 0)
    finally:
        for fd in received:
            os.close(fd)


Spawn = Callable[[Plan, list[int]], _sys.Spawned]


def run(rootfs: Path, user: str, holder: int, spawn: Spawn) -> tuple[int, str]:
    """The exit status and output of the container, started by ``spawn``."""
    r, w = os.pipe2(os.O_CLOEXEC)
    with os.fdopen(r, "rb") as f:
        netns_fd = os.open(f"/proc/{holder}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        plan = container_plan(rootfs, user, netns_fd, w)
        spawned = spawn(plan, [netns_fd, w])
        try:
            # no_sync: the child goes on by itself; else it waits for its release
            report = _sys.recv_report(spawned.sock) if plan.no_sync else _sys.release(spawned.sock)
            assert report is None, report  # exec'd
            output = f.read().decode()  # to EOF: the container's end closes as it exits
            return _sys.reap(spawned.pidfd), output
        except BaseException:
            _sys.pidfd_send_signal(spawned.pidfd, 9)
            _sys.reap(spawned.pidfd)
            raise
        finally:
            os.close(spawned.sock)
            os.close(spawned.pidfd)


def status(output: str) -> dict[str, str]:
    fields = dict(line.split(":", 1) for line in output.splitlines() if ":" in line)
    return {key: fields[key].strip() for key in KEYS}


@pytest.mark.parametrize("user", ["root", "alice"])
def test_an_unpacked_plan_starts_the_same_container(
    busybox_rootfs: Path, netns: int, user: str
) -> None:
    code, expected = run(busybox_rootfs, user, netns, direct)
    assert code == 0 and expected.startswith("ok\n"), expected
    code, output = run(busybox_rootfs, user, netns, via_wire)
    assert code == 0, output
    assert status(output) == status(expected)
    ours = status(Path("/proc/self/status").read_text())
    confined = status(output)
    assert confined["Seccomp"] == "2" and confined["NoNewPrivs"] == "1"
    assert int(confined["CapBnd"], 16) & ~int(ours["CapBnd"], 16) == 0
    assert confined["CapBnd"] != ours["CapBnd"]  # confinement()'s set, not ours
    assert output.splitlines()[-3:] == expected.splitlines()[-3:]  # netns, hostname, cwd
    assert output.splitlines()[-3] == os.readlink(f"/proc/{netns}/ns/net")
    assert output.splitlines()[-2:] == ["wire", "/tmp"]
