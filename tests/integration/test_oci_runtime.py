"""pycontainers-runtime driven directly, as conmon and containerd-shim drive runc: every
command a separate process, the container's init re-parented to the caller's subreaper."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest
from oci_runtime_util import (
    Caller,
    Runtime,
    cgroup_exists,
    make_bundle,
    runtime_script,
)

pytestmark = pytest.mark.root


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(runtime_script(tmp_path), tmp_path / "root")


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path) -> Path:
    return make_bundle(tmp_path / "bundle", busybox_rootfs,
                       ["sh", "-c", "echo started; hostname; exec sleep 60"])  # fmt: skip


def _proc_names(pid: int) -> list[str]:
    """Command names of every process whose parent is ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[1]) == pid:
                out.append(stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode())
    return out


def test_create_start_state_kill_delete_from_separate_processes(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    caller = Caller(rt, bundle, "life", tmp_path)
    try:
        # create exited: the init is the subreaper's child now, and nothing else of ours runs
        assert caller.parent == caller.proc.pid
        assert _proc_names(caller.proc.pid) == [Path(_comm(caller.pid)).name]
        st = rt.state("life")
        assert (st["status"], st["pid"], st["id"]) == ("created", caller.pid, "life")
        assert st["bundle"] == str(bundle) and st["ociVersion"].startswith("1.")
        assert "started" not in caller.output()  # waiting on its fifo, before execve
        rt("start", "life")
        assert rt.state("life")["status"] == "running"
        _wait_for(lambda: "started" in caller.output())
        assert caller.output().split()[:2] == ["started", "pycontainers"]
        again = rt("start", "life", check=False)
        assert again.returncode == 1 and "not created" in again.stderr
        refused = rt("delete", "life", check=False)
        assert refused.returncode == 1 and "running" in refused.stderr
        assert rt.state("life")["status"] == "running"
        rt("kill", "life", "KILL")  # pid 1 of a pid namespace ignores an unhandled TERM
        status = caller.wait()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        st = rt.state("life")
        assert st["status"] == "stopped" and st["pid"] == 0
        rt("delete", "life")
    finally:
        caller.close()
        rt("delete", "--force", "life", check=False)
    assert rt("state", "life", check=False).stderr.strip().endswith("does not exist")
    assert not (rt.root / "life").exists()
    assert not cgroup_exists("pycontainers-runtime", "life")


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _wait_for(cond: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


def test_state_survives_pid_reuse_and_a_created_container_can_be_deleted(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    caller = Caller(rt, bundle, "reuse", tmp_path)
    try:
        state_file = rt.root / "reuse" / "state.json"
        doc = json.loads(state_file.read_text())
        doc["starttime"] += 1  # as if the pid now named another process
        state_file.write_text(json.dumps(doc))
        assert rt.state("reuse")["status"] == "stopped"
        doc["starttime"] -= 1
        state_file.write_text(json.dumps(doc))
        assert rt.state("reuse")["status"] == "created"
        rt("delete", "reuse")  # a created one goes without --force, as with runc
        status = caller.wait()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    finally:
        caller.close()
    assert not (rt.root / "reuse").exists()
    assert not cgroup_exists("pycontainers-runtime", "reuse")


def test_kill_takes_names_and_numbers_and_all(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs,
                         ["sh", "-c", "trap 'echo got-usr1' USR1; sleep 100 & sleep 100 & "
                          "while :; do sleep 0.1; done"])  # fmt: skip
    caller = Caller(rt, bundle, "sig", tmp_path)
    try:
        rt("start", "sig")
        time.sleep(0.3)
        rt("kill", "sig", "SIGUSR1")
        _wait_for(lambda: "got-usr1" in caller.output())
        bad = rt("kill", "sig", "NOPE", check=False)
        assert bad.returncode == 1 and "unknown signal" in bad.stderr
        procs = [
            int(p)
            for p in Path("/sys/fs/cgroup/pids/pycontainers-runtime/sig/cgroup.procs")
            .read_text()
            .split()
        ]
        assert len(procs) >= 3
        rt("kill", "--all", "sig", "9")
        status = caller.wait()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
        gone = rt("kill", "sig", "15", check=False)
        assert gone.returncode == 1 and "not running" in gone.stderr
    finally:
        caller.close()
        rt("delete", "-f", "sig", check=False)


def test_run_in_the_foreground_returns_the_exit_status_and_deletes(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", "echo out; exit 7"])
    r = rt("run", "--bundle", str(bundle), "fg", check=False)
    assert (r.returncode, r.stdout) == (7, "out\n"), r.stderr
    assert rt("list", "-q").stdout == ""
    assert not cgroup_exists("pycontainers-runtime", "fg")


def test_run_detached_then_exec_list_pause_and_force_delete(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    rt.run_detached(bundle, "det", tmp_path / "det.out")
    try:
        listed = json.loads(rt("list", "--format", "json").stdout)
        assert [(c["id"], c["status"]) for c in listed] == [("det", "running")]
        assert "det" in rt("list").stdout.splitlines()[1]
        r = rt("exec", "--env", "X=1", "--cwd", "/tmp", "det", "sh", "-c", "echo $X; pwd; exit 4",
               check=False)  # fmt: skip
        assert (r.returncode, r.stdout) == (4, "1\n/tmp\n"), r.stderr
        rt("pause", "det")
        assert rt.state("det")["status"] == "paused"
        refused = rt("exec", "det", "true", check=False)
        assert refused.returncode == 1 and "paused" in refused.stderr
        rt("resume", "det")
        assert rt.state("det")["status"] == "running"
    finally:
        rt("delete", "--force", "det")
    assert not (rt.root / "det").exists()


def test_exec_takes_its_security_from_the_stored_spec(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    rt.run_detached(bundle, "sec", tmp_path / "sec.out")
    try:
        probe = "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; id -u"
        plain = rt("exec", "sec", "sh", "-c", probe).stdout.split()
        # runc spec: AUDIT_WRITE, KILL, NET_BIND_SERVICE and no_new_privs
        assert plain == ["CapEff:", "0000000020000420", "NoNewPrivs:", "1", "0"]
        process = tmp_path / "process.json"
        process.write_text(json.dumps({
            "args": ["sh", "-c", probe], "user": {"uid": 1000, "gid": 1000}, "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                             "permitted": ["CAP_KILL"]},
            "noNewPrivileges": False,  # cannot turn the container's off
        }))  # fmt: skip
        narrowed = rt("exec", "--process", str(process), "sec").stdout.split()
        assert narrowed == ["CapEff:", "0000000000000000", "NoNewPrivs:", "1", "1000"]
        widened = rt("exec", "--cap", "CAP_SYS_ADMIN", "sec", "sh", "-c", probe).stdout.split()
        assert widened[1] == "0000000020200420" and widened[3] == "1"
        # the spec is where the security comes from: without it, nothing enters
        spec = rt.root / "sec" / "config.json"
        spec.rename(spec.with_suffix(".bak"))
        refused = rt("exec", "sec", "true", check=False)
        spec.with_suffix(".bak").rename(spec)
        assert refused.returncode == 1 and "refusing" in refused.stderr
    finally:
        rt("delete", "--force", "sec")


def test_exec_detached_writes_the_pid_the_subreaper_reaps(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    caller = Caller(rt, bundle, "ed", tmp_path)
    try:
        rt("start", "ed")
        pid_file = tmp_path / "exec.pid"
        rt("exec", "-d", "--pid-file", str(pid_file), "ed", "sh", "-c", "exit 5")
        pid = int(pid_file.read_text())
        assert pid > 0
    finally:
        rt("delete", "--force", "ed")
        caller.close()


def test_errors_go_to_the_log_as_json_lines(rt: Runtime, tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    r = rt("--log", str(log), "--log-format", "json", "start", "nosuch", check=False)
    assert r.returncode == 1 and "does not exist" in r.stderr
    line = json.loads(log.read_text().splitlines()[-1])
    assert line["level"] == "error" and "container nosuch does not exist" in line["msg"]
    assert line["time"].endswith("Z")
    refused = rt("--systemd-cgroup", "list", check=False)
    assert refused.returncode == 1 and "cgroupfs" in refused.stderr


def test_features_and_spec(rt: Runtime, tmp_path: Path, busybox_rootfs: Path) -> None:
    feats = json.loads(rt("features").stdout)
    assert "mount" in feats["linux"]["namespaces"] and feats["linux"]["cgroup"]["systemd"] is False
    assert "SCMP_ACT_ERRNO" in feats["linux"]["seccomp"]["actions"]
    rt("spec", "--bundle", str(tmp_path))
    doc = json.loads((tmp_path / "config.json").read_text())
    assert doc["process"]["args"] == ["sh"] and doc["root"]["path"] == "rootfs"
    again = rt("spec", "--bundle", str(tmp_path), check=False)
    assert again.returncode == 1 and "exists" in again.stderr
    (tmp_path / "rl").mkdir()
    rt("spec", "--rootless", "--bundle", str(tmp_path / "rl"))
    rootless = json.loads((tmp_path / "rl" / "config.json").read_text())
    assert {"type": "user"} in rootless["linux"]["namespaces"]
    assert rootless["linux"]["uidMappings"][0]["hostID"] == os.getuid()


def test_the_console_socket_receives_the_pty_master(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """As runc: the pty (of the container's own devpts) is the init's controlling terminal
    and its master arrives over --console-socket with SCM_RIGHTS."""
    bundle = make_bundle(tmp_path / "b", busybox_rootfs,
                         ["sh", "-c", "tty; read line; echo typed:$line"])  # fmt: skip
    doc = json.loads((bundle / "config.json").read_text())
    doc["process"]["terminal"] = True
    (bundle / "config.json").write_text(json.dumps(doc))
    path = tmp_path / "console.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        refused = rt("create", "--bundle", str(bundle), "noconsole", check=False)
        assert refused.returncode == 1 and "--console-socket" in refused.stderr
        caller = Caller(rt, bundle, "tty", tmp_path, "--console-socket", str(path))
        conn, _ = server.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 64, 1)
    assert len(fds) == 1
    master = fds[0]
    try:
        rt("start", "tty")
        os.write(master, b"abc\n")
        out = b""
        while b"typed:abc" not in out:
            chunk = os.read(master, 1024)
            assert chunk, out
            out += chunk
        assert b"/dev/pts/0\r\n" in out
        assert caller.wait() == 0
    finally:
        os.close(master)
        caller.close()
        rt("delete", "--force", "tty")
