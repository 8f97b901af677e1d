"""pycontainers-runtime: the terminal's size and /dev/console, and a second container joining
the first's user, mount, cgroup and time namespaces by path (as a pod's containers do); a
joined pid namespace holds the container's process itself, through the runtime and the
library."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oci_runtime_util import RUNC, Caller, Runtime, make_bundle, refused, runtime_script

pytestmark = pytest.mark.root


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(runtime_script(tmp_path), tmp_path / "root")


def _edit(bundle: Path, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((bundle / "config.json").read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            doc.setdefault(section, {})[field] = value
        else:
            doc[section] = value
    (bundle / "config.json").write_text(json.dumps(doc))
    return doc


def _read_until(fd: int, marker: bytes) -> bytes:
    out = b""
    while marker not in out:
        chunk = os.read(fd, 1024)
        assert chunk, out
        out += chunk
    return out


def test_console_size_and_dev_console(rt: Runtime, busybox_rootfs: Path, tmp_path: Path) -> None:
    """process.consoleSize is the pty's size before the payload runs, and the pty is bound
    on /dev/console (the same device as the payload's tty), as runc does."""
    script = "stty size; stat -c 'dev=%t:%T' /dev/console $(tty); echo done"
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script])
    _edit(bundle, process__terminal=True, process__consoleSize={"height": 33, "width": 101})
    path = tmp_path / "console.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        caller = Caller(rt, bundle, "sized", tmp_path, "--console-socket", str(path))
        conn, _ = server.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 64, 1)
    master = fds[0]
    try:
        rt("start", "sized")
        out = _read_until(master, b"done").decode()
        assert "33 101\r\n" in out
        devs = [line for line in out.splitlines() if line.startswith("dev=")]
        assert len(devs) == 2 and devs[0] == devs[1], out
        assert devs[0] != "dev=5:1"  # not the host's console: the container's pty (136:N)
        assert caller.wait() == 0
    finally:
        os.close(master)
        caller.close()
        rt("delete", "--force", "sized")


def test_oversized_console_is_refused(rt: Runtime, busybox_rootfs: Path, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    _edit(bundle, process__terminal=True, process__consoleSize={"height": 70000, "width": 80})
    r = rt("create", "--bundle", str(bundle), "--console-socket", "/nonexistent", "big",
           check=False)  # fmt: skip
    assert r.returncode == 1 and "process.consoleSize" in r.stderr
    assert not (rt.root / "big").exists()


def _owner(ns_path: str) -> str:
    """The user namespace owning a namespace (ioctl NS_GET_USERNS), as readlink shows it."""
    fd = os.open(ns_path, os.O_RDONLY)
    try:
        owner = fcntl.ioctl(fd, 0xB701)  # NS_GET_USERNS
    finally:
        os.close(fd)
    try:
        return os.readlink(f"/proc/self/fd/{owner}")
    finally:
        os.close(owner)


def _first(rt: Runtime, busybox_rootfs: Path, tmp_path: Path) -> tuple[Caller, dict[str, Any]]:
    """A container with its own user namespace (uid 1 is host 100001), a tmpfs
    of its own at /mnt/marker and a time namespace whose clocks are 1000 days on."""
    bundle = make_bundle(tmp_path / "first", busybox_rootfs,
                         ["sh", "-c", "echo here > /mnt/marker/file; exec sleep 60"])  # fmt: skip
    doc = json.loads((bundle / "config.json").read_text())
    doc["linux"]["namespaces"] += [{"type": "user"}, {"type": "time"}, {"type": "cgroup"}]
    # root stays root (the bundle under the 0700 tmp_path must stay reachable), the rest
    # is shifted: a mapping of its own, not the host's
    ids = [{"containerID": 0, "hostID": 0, "size": 1},
           {"containerID": 1, "hostID": 100001, "size": 65535}]  # fmt: skip
    doc["linux"]["uidMappings"] = doc["linux"]["gidMappings"] = ids
    doc["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400000, "nanosecs": 0},
                                   "boottime": {"secs": 86400000, "nanosecs": 5}}  # fmt: skip
    doc["mounts"].append({"destination": "/mnt/marker", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "nodev", "mode=755"]})  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(doc))
    caller = Caller(rt, bundle, "first", tmp_path)
    rt("start", "first")
    return caller, doc


def test_a_second_container_joins_the_first_ones_namespaces(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """user is joined first (so the second's own uts/ipc/pid/net are owned by it), its own
    mount namespace (owned by the joined user namespace) has its own rootfs, and the joined
    time namespace has the first one's offsets. (A joined mount namespace gets the rootfs
    set up in it: test_a_joined_mount_namespace_gets_the_rootfs_set_up_in_it.)"""
    first, _ = _first(rt, busybox_rootfs, tmp_path)
    second = None
    try:
        pid = first.pid
        for _ in range(200):  # the marker file is written once the payload runs
            if os.path.exists(f"/proc/{pid}/root/mnt/marker/file"):
                break
            time.sleep(0.02)
        script = "cat /mnt/marker/file 2>/dev/null || echo own; cat /proc/uptime; echo pid=$$"
        bundle = make_bundle(tmp_path / "second", busybox_rootfs, ["sh", "-c", script])
        doc = json.loads((bundle / "config.json").read_text())
        doc["linux"]["namespaces"] = [
            {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"},
            {"type": "mount"},
            *({"type": kind, "path": f"/proc/{pid}/ns/{ns}"}
              for kind, ns in (("user", "user"), ("cgroup", "cgroup"), ("time", "time"))),
        ]  # fmt: skip
        (bundle / "config.json").write_text(json.dumps(doc))
        second = Caller(rt, bundle, "second", tmp_path)
        for kind in ("user", "cgroup", "time"):
            assert os.readlink(f"/proc/{second.pid}/ns/{kind}") == os.readlink(
                f"/proc/{pid}/ns/{kind}"
            ), kind
        assert os.readlink(f"/proc/{second.pid}/ns/uts") != os.readlink(f"/proc/{pid}/ns/uts")
        # the state's pid is the process in its own pid namespace (made after the join),
        # the subreaper caller's child: no forwarder outside
        assert os.readlink(f"/proc/{second.pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
        assert second.parent == second.proc.pid
        assert _owner(f"/proc/{second.pid}/ns/uts") == os.readlink(f"/proc/{pid}/ns/user")
        uid_map = Path(f"/proc/{second.pid}/uid_map").read_text().split()
        assert uid_map == ["0", "0", "1", "1", "100001", "65535"]
        offsets = " ".join(Path(f"/proc/{second.pid}/timens_offsets").read_text().split())
        assert "monotonic 86400000 0" in offsets and "boottime 86400000 5" in offsets
        rt("start", "second")
        assert second.wait() == 0
        out = second.output()
        assert out.split()[0] == "own", out  # its own rootfs, not the first one's tmpfs
        uptime = float(out.split()[1])
        assert uptime > 86400000  # /proc/uptime is the boot time clock of its time namespace
        assert "pid=1" in out.split()  # its own pid namespace, made after joining the user one
    finally:
        if second is not None:
            second.close()
            rt("delete", "--force", "second")
        rt("kill", "first", "KILL", check=False)
        first.wait()
        first.close()
        rt("delete", "--force", "first")


def test_time_offsets_need_a_new_time_namespace(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    doc = json.loads((bundle / "config.json").read_text())
    doc["linux"]["timeOffsets"] = {"monotonic": {"secs": 5, "nanosecs": 0}}
    (bundle / "config.json").write_text(json.dumps(doc))
    r = rt("create", "--bundle", str(bundle), "t1", check=False)
    assert r.returncode == 1 and "linux.timeOffsets" in r.stderr and "time namespace" in r.stderr
    doc["linux"]["namespaces"].append({"type": "time"})
    doc["linux"]["timeOffsets"] = {"realtime": {"secs": 5}}
    (bundle / "config.json").write_text(json.dumps(doc))
    r = rt("create", "--bundle", str(bundle), "t2", check=False)
    assert r.returncode == 1 and "linux.timeOffsets.realtime" in r.stderr
    assert not (rt.root / "t1").exists() and not (rt.root / "t2").exists()


# struct seccomp_notif (80 bytes) and seccomp_notif_resp (24 bytes); _IOWR('!', 0/1, ...)
NOTIF_RECV, NOTIF_SEND = 0xC0502100, 0xC0182101


def _listen(sock: socket.socket, got: dict[str, Any]) -> None:
    """A seccomp agent: take the notify fd and the state from the runtime, then answer
    every notification with success (0) without running the call, recording what came."""
    conn, _ = sock.accept()
    with conn:
        msg, fds, _, _ = socket.recv_fds(conn, 65536, 1)
    got["calls"] = []
    got["state"], got["fds"] = json.loads(msg), len(fds)
    got["received"].set()
    fd = fds[0]
    try:
        while True:
            events = select.poll()
            events.register(fd, select.POLLIN)
            ready = events.poll(30000)
            if not ready or ready[0][1] & select.POLLHUP:
                return
            notif = bytearray(80)
            try:
                fcntl.ioctl(fd, NOTIF_RECV, notif)
            except OSError:
                return  # the caller died meanwhile
            cid, pid, _, nr = struct.unpack_from("=QIIi", notif)
            got["calls"].append((pid, nr))
            try:
                fcntl.ioctl(fd, NOTIF_SEND, struct.pack("=QqiI", cid, 0, 0, 0))
            except OSError:
                pass  # ENOENT: the caller was killed while we answered
    finally:
        os.close(fd)


def test_seccomp_notify_fd_goes_to_the_listener(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """linux.seccomp.listenerPath: create sends the notify fd with the state JSON (fds,
    pid, metadata, state) as runc does; the agent answers mkdir, which then 'succeeds'
    without a directory being made."""
    script = "mkdir /tmp/made; echo rc=$?; [ -d /tmp/made ] && echo exists || echo absent"
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script])
    path = tmp_path / "agent.sock"
    doc = json.loads((bundle / "config.json").read_text())
    doc["process"]["noNewPrivileges"] = True
    doc["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(path),
        "listenerMetadata": "agent-meta",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(doc))
    got: dict[str, Any] = {"received": threading.Event()}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        agent = threading.Thread(target=_listen, args=(server, got), daemon=True)
        agent.start()
        caller = Caller(rt, bundle, "notified", tmp_path)
        try:
            assert got["received"].wait(30)  # sent before create returned: at most in flight
            assert got["fds"] == 1
            state = got["state"]
            assert state["fds"] == ["seccompFd"] and state["metadata"] == "agent-meta"
            assert state["pid"] == caller.pid and state["state"]["pid"] == caller.pid
            assert state["state"]["id"] == "notified" and state["state"]["bundle"] == str(bundle)
            rt("start", "notified")
            assert caller.wait() == 0
            agent.join(30)
        finally:
            caller.close()
            rt("delete", "--force", "notified")
    out = caller.output().split()
    assert out == ["rc=0", "absent"], out
    assert got["calls"] and {nr for _, nr in got["calls"]} <= {83, 258}  # mkdir, mkdirat


def test_notify_without_a_listener_is_refused(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    doc = json.loads((bundle / "config.json").read_text())
    doc["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(doc))
    r = rt("create", "--bundle", str(bundle), "nolistener", check=False)
    assert r.returncode == 1 and "linux.seccomp.listenerPath" in r.stderr
    doc["linux"]["seccomp"]["listenerPath"] = str(tmp_path / "nobody.sock")
    (bundle / "config.json").write_text(json.dumps(doc))
    r = rt("create", "--bundle", str(bundle), "nolistener", check=False)
    assert r.returncode == 1 and "cannot send the notify fd" in r.stderr, r.stderr
    assert not (rt.root / "nolistener").exists()
    assert rt("list", "-q").stdout == ""


def test_a_joined_mount_namespace_gets_the_rootfs_set_up_in_it(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """runtime-tools' linux_ns_path (mnt): the container joins a mount namespace made by
    ``unshare --mount`` and its process runs in the bundle's rootfs there, as under runc
    (we used the joined namespace as it was, the host's root, and the payload was not
    found). The mounts, and the pivot_root, are that namespace's (one per runtime here):
    none reaches the host."""
    import shutil
    import subprocess

    runc = shutil.which("runc")
    bundle = make_bundle(tmp_path / "b", busybox_rootfs,
                         ["sh", "-c", "cat /marker; readlink /proc/self/ns/mnt"])  # fmt: skip
    (bundle / "rootfs" / "marker").write_text("bundle rootfs\n")
    runtimes = [("ours", rt.argv())]
    if runc is not None:
        runtimes.append(("runc", [runc, "--root", str(tmp_path / "runc-root")]))
    for name, argv in runtimes:
        holder = subprocess.Popen(["unshare", "--mount", "--fork", "sleep", "1000"],
                                  start_new_session=True)  # fmt: skip
        try:
            ns = f"/proc/{holder.pid}/ns/mnt"
            for _ in range(200):  # unshare switches namespace once it runs
                if os.readlink(ns) != os.readlink("/proc/self/ns/mnt"):
                    break
                time.sleep(0.01)
            doc = _edit(bundle)
            doc["linux"]["namespaces"] = [{"type": kind} for kind in ("ipc", "uts", "network")] + [
                {"type": "mount", "path": ns}
            ]
            (bundle / "config.json").write_text(json.dumps(doc))
            r = subprocess.run([*argv, "run", "--bundle", str(bundle), f"mnt-{name}"],
                               capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)  # fmt: skip
            assert r.returncode == 0, (name, r.stderr)
            assert r.stdout.split("\n")[:2] == ["bundle rootfs", os.readlink(ns)], (name, r)
        finally:
            os.killpg(holder.pid, 9)  # unshare and its sleep
            holder.wait()
    assert str(bundle) not in Path("/proc/self/mountinfo").read_text()


@contextlib.contextmanager
def _pid_namespace() -> Iterator[str]:
    """A pid namespace of ``unshare --pid --fork`` (its sleep is pid 1 there), by path."""
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "sleep", "1000"],
                              start_new_session=True)  # fmt: skip
    try:
        children = Path(f"/proc/{holder.pid}/task/{holder.pid}/children")
        for _ in range(500):  # unshare forks the sleep once it runs
            if children.read_text().split():
                break
            time.sleep(0.01)
        yield f"/proc/{children.read_text().split()[0]}/ns/pid"
    finally:
        os.killpg(holder.pid, 9)  # unshare and its sleep
        holder.wait()


def _join_pid(bundle: Path, ns: str) -> None:
    doc = json.loads((bundle / "config.json").read_text())
    doc["linux"]["namespaces"] = [
        *({"type": kind} for kind in ("ipc", "uts", "mount", "network")),
        {"type": "pid", "path": ns},
    ]
    (bundle / "config.json").write_text(json.dumps(doc))


def test_a_joined_pid_namespace_holds_the_containers_process(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """runtime-tools' linux_ns_path (pid): the state's pid is the container's process, in
    the joined namespace (not a forwarder outside it), and the caller's child once create
    exits (the caller is a subreaper, as conmon is); start, kill and delete act on it. As
    under runc."""
    script = "echo pid=$$; exec sleep 60"
    callers = [("ours", rt)]
    if RUNC is not None:
        callers.append(("runc", Runtime(Path(RUNC), tmp_path / "runc-root")))
    for name, runtime in callers:
        bundle = make_bundle(tmp_path / name, busybox_rootfs, ["sh", "-c", script])
        with _pid_namespace() as ns:
            _join_pid(bundle, ns)
            caller = Caller(runtime, bundle, f"pidns-{name}", tmp_path)
            try:
                assert os.readlink(f"/proc/{caller.pid}/ns/pid") == os.readlink(ns), name
                assert caller.parent == caller.proc.pid, name  # the subreaper's child
                state = runtime.state(f"pidns-{name}")
                assert (state["status"], state["pid"]) == ("created", caller.pid), name
                runtime("start", f"pidns-{name}")
                assert runtime.state(f"pidns-{name}")["status"] == "running", name
                runtime("kill", f"pidns-{name}", "KILL")
                assert caller.wait() == 9, name  # killed by SIGKILL, reaped by the caller
            finally:
                caller.close()
                runtime("delete", "--force", f"pidns-{name}")
        out = caller.output().split()
        assert out and out[0].startswith("pid=") and out[0] != "pid=1", (name, out)
    assert rt("list", "-q").stdout == ""


_CONFINED = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
             "NoNewPrivs", "Seccomp", "Seccomp_filters")  # fmt: skip


def _confinement(pid: int) -> dict[str, str]:
    """What confines a process: ids, capabilities, no_new_privs, seccomp (from its status),
    its rlimits, oom_score_adj and its cgroup (the group's last component)."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    out = {k: v.strip() for k, _, v in (line.partition(":") for line in lines) if k in _CONFINED}
    out["limits"] = Path(f"/proc/{pid}/limits").read_text()
    out["oom_score_adj"] = Path(f"/proc/{pid}/oom_score_adj").read_text().strip()
    groups = {line.split(":", 2)[2].rsplit("/", 1)[-1]
              for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()}  # fmt: skip
    out["cgroup"] = " ".join(sorted(groups))
    return out


def test_a_joined_pid_namespace_keeps_every_confinement_step(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """The process cloned into the joined pid namespace gets the ids, capabilities,
    no_new_privs, seccomp filter, rlimits, oom_score_adj and cgroup that the same bundle
    gives a container with a pid namespace of its own."""
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "60"])
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    sets = {"bounding": caps, "effective": caps, "permitted": caps,
            "inheritable": caps[2:], "ambient": caps[2:]}  # fmt: skip
    _edit(
        bundle,
        process__user={"uid": 1000, "gid": 1000, "additionalGids": [10, 20]},
        process__capabilities=sets,
        process__rlimits=[{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}],
        process__noNewPrivileges=True,
        process__oomScoreAdj=123,
    )
    doc = json.loads((bundle / "config.json").read_text())
    doc["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["mknod", "mknodat"],
                                             "action": "SCMP_ACT_ERRNO"}]}  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(doc))
    seen = {}
    with _pid_namespace() as ns:
        for cid in ("own", "joined"):
            if cid == "joined":
                _join_pid(bundle, ns)
            caller = Caller(rt, bundle, cid, tmp_path)
            try:
                rt("start", cid)
                for _ in range(500):  # confined before the start wait, seccomp just before execve
                    if Path(f"/proc/{caller.pid}/comm").read_text().strip() == "sleep":
                        break
                    time.sleep(0.01)
                seen[cid] = _confinement(caller.pid)
                in_ns = os.readlink(f"/proc/{caller.pid}/ns/pid") == os.readlink(ns)
                assert in_ns == (cid == "joined")
                assert caller.parent == caller.proc.pid
            finally:
                rt("kill", cid, "KILL", check=False)
                caller.wait()
                caller.close()
                rt("delete", "--force", cid)
    own, joined = seen["own"], seen["joined"]
    assert own.pop("cgroup") == "own" and joined.pop("cgroup") == "joined"
    assert own["Uid"].split()[0] == "1000" and {"10", "20"} <= set(own["Groups"].split()), own
    assert own["NoNewPrivs"] == "1" and own["Seccomp"] == "2" and own["CapAmb"] != "0" * 16
    assert "256" in own["limits"] and own["oom_score_adj"] == "123"
    assert joined == own


def test_the_library_joins_a_pid_namespace(busybox_rootfs: Path, tmp_path: Path) -> None:
    """ContainerSpec.join with a pid namespace: run, and an attached create, hold the
    container's process in that namespace as this process's child; a detached one (the
    monitor's child, through its forwarder) runs its payload there too."""
    import pycontainers as pc

    script = "readlink /proc/self/ns/pid"
    with _pid_namespace() as ns:
        spec = pc.ContainerSpec(
            rootfs=str(busybox_rootfs), process=pc.Process(["sh", "-c", script]),
            namespaces={"mnt", "uts", "ipc", "net"}, join=(("pid", ns),),
        )  # fmt: skip
        target = os.readlink(ns)
        r = pc.run(spec, capture_output=True, timeout=30)
        assert (r.returncode, r.stdout.decode().strip()) == (0, target), r
        state = str(tmp_path / "state")
        with pc.Container.create(spec, state_root=state, stdout=subprocess.DEVNULL) as c:
            assert os.readlink(f"/proc/{c.pid}/ns/pid") == target
            ppid = Path(f"/proc/{c.pid}/status").read_text().split("PPid:")[1].split()[0]
            assert int(ppid) == os.getpid()
            c.start()
            assert c.wait(timeout=30) == 0
        with pc.Container.create(spec, state_root=state, detach=True) as d:
            d.start()
            assert d.wait(timeout=30) == 0
            assert b"".join(e.data for e in d.logs()).decode().strip() == target


def _in_namespace(ns: str) -> list[int]:
    """The pids of the processes in the pid namespace ``ns``."""
    target, pids = os.readlink(ns), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/ns/pid") == target:
                    pids.append(int(entry))
    return pids


def _children() -> list[tuple[int, str]]:
    """This process's children (pid, state letter)."""
    out = []
    for tid in os.listdir("/proc/self/task"):
        for pid in Path(f"/proc/self/task/{tid}/children").read_text().split():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                out.append((int(pid), stat.rsplit(")", 1)[1].split()[0]))
    return out


def test_a_failed_start_in_a_joined_pid_namespace_leaves_no_process(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """The process handed over in the joined namespace fails (no such program), or a hook
    fails once it is ready: create fails and leaves no state; the library's run raises and
    has killed and reaped it (no process of ours left in the namespace, no zombie child)."""
    import pycontainers as pc

    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["/no/such/program"])
    with _pid_namespace() as ns:
        holder = _in_namespace(ns)
        _join_pid(bundle, ns)
        assert "/no/such/program" in refused(rt, bundle, "missing")
        assert _in_namespace(ns) == holder
        # ready, then a createRuntime hook fails: the create is undone (Launch.abort)
        hooked = make_bundle(tmp_path / "h", busybox_rootfs, ["true"])
        _join_pid(hooked, ns)
        _edit(hooked, hooks={"createRuntime": [{"path": "/bin/false"}]})
        refused(rt, hooked, "hooked")
        assert _in_namespace(ns) == holder
        before = _children()
        spec = pc.ContainerSpec(
            rootfs=str(busybox_rootfs), process=pc.Process(["/no/such/program"]),
            namespaces={"mnt", "uts", "ipc", "net"}, join=(("pid", ns),),
        )  # fmt: skip
        with pytest.raises(pc.ContainerStartError) as info:
            pc.run(spec)
        assert info.value.exit_code == 127
        assert _in_namespace(ns) == holder
        assert _children() == before
