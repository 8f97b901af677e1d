"""Docker's run/create flags, each checked by its effect inside a real container, through
the CLI and through Python: --stop-timeout, --group-add, --ip, --sysctl, --dns-search /
--dns-option, --volumes-from, --detach-keys, -a, --sig-proxy, --oom-score-adj, --log-driver.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_util import cli, ok, until

import pycontainers as pc

pytestmark = pytest.mark.root


def _trap_term(code: int) -> list[str]:
    """A PID 1 shell that exits with ``code`` a moment after SIGTERM."""
    return ["sh", "-c", f"trap 'sleep 1; exit {code}' TERM; echo up; while :; do sleep 0.1; done"]


def test_stop_timeout(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    killed = ok("run", "-d", "--stop-timeout", "0", bb, *_trap_term(7)).strip()
    graced = ok("run", "-d", bb, *_trap_term(7)).strip()
    try:
        until(lambda: "up" in ok("logs", killed) and "up" in ok("logs", graced))
        (doc,) = json.loads(ok("inspect", killed))
        assert doc["Config"]["StopTimeout"] == 0
        ok("stop", killed, graced)
        codes = [json.loads(ok("inspect", c))[0]["State"]["ExitCode"] for c in (killed, graced)]
        assert codes == [137, 7]  # no grace at all, vs the default 10 s
        r = cli("run", "--rm", "--stop-timeout", "x", bb, "true")
        assert r.returncode == 125 and "--stop-timeout" in r.stderr
    finally:
        ok("rm", "-f", killed, graced)


def test_stop_timeout_python(busybox_rootfs: Path) -> None:
    c = pc.Container.create(str(busybox_rootfs), _trap_term(7), detach=True, stop_timeout=0)
    try:
        c.start()
        until(lambda: b"up" in b"".join(e.data for e in c.logs()))
        c.stop()  # no timeout given: the container's own
        assert c.returncode == 137
    finally:
        c.delete()
    with pytest.raises(pc.SpecError, match="detach=True"):
        pc.Container.create(str(busybox_rootfs), ["true"], stop_timeout=3)


def test_group_add(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    out = ok("run", "--rm", "--network", "none", "--group-add", "123", "--group-add", "456",
             bb, "id", "-G").split()  # fmt: skip
    assert {"123", "456"} <= set(out)
    out = ok("run", "--rm", "--network", "none", "-u", "1000:1000", "--group-add", "77", bb,
             "id", "-G").split()  # fmt: skip
    assert out[0] == "1000" and "77" in out
    r = cli("run", "--rm", "--network", "none", "--group-add", "staff", bb, "true")
    assert r.returncode == 125 and "group_add" in r.stderr and "numeric gid" in r.stderr
    done = pc.run(bb, ["id", "-G"], group_add=[99], capture_output=True)
    assert "99" in done.stdout.decode().split()


def test_sysctl(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    out = ok("run", "--rm", "--network", "none", "--sysctl", "net.ipv4.ip_forward=1",
             "--sysctl", "kernel.msgmax=12345", bb, "sh", "-c",
             "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax").split()  # fmt: skip
    assert out == ["1", "12345"]
    with open("/proc/sys/kernel/msgmax") as f:
        assert f.read().strip() != "12345"  # the container's own ipc namespace only
    r = cli("run", "--rm", "--network", "none", "--sysctl", "vm.swappiness=1", bb, "true")
    assert r.returncode == 125 and "not a namespaced sysctl" in r.stderr
    r = cli("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", bb, "true")
    assert r.returncode == 125 and "own 'net' namespace" in r.stderr
    done = pc.run(bb, ["cat", "/proc/sys/kernel/shmmni"], sysctls={"kernel.shmmni": "999"},
                  capture_output=True)  # fmt: skip
    assert done.stdout == b"999\n"


def test_dns_search_and_options(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    text = ok("run", "--rm", "--dns", "10.0.0.53", "--dns-search", "example.com",
              "--dns-search", "corp.example", "--dns-option", "ndots:2", "--dns-option",
              "rotate", bb, "cat", "/etc/resolv.conf")  # fmt: skip
    assert text.splitlines() == [
        "nameserver 10.0.0.53",
        "search example.com corp.example",
        "options ndots:2 rotate",
    ]
    r = cli("run", "--rm", "--dns-option", "nd ots", bb, "true")
    assert r.returncode == 125 and "dns_options" in r.stderr
    c = pc.Container.create(bb, ["cat", "/etc/resolv.conf"], network="bridge", detach=True,
                            dns_search=["a.example"], dns_options=["timeout:3"])  # fmt: skip
    try:
        c.start()
        c.wait(timeout=60)
        text = b"".join(e.data for e in c.logs()).decode()
        assert "search a.example\n" in text and "options timeout:3\n" in text
    finally:
        c.delete()


def test_ip_on_a_user_network(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    ok("network", "create", "--subnet", "10.231.7.0/24", "pcx-fixed")
    try:
        cid = ok("run", "-d", "--network", "pcx-fixed", "--ip", "10.231.7.50", bb,
                 "sleep", "100").strip()  # fmt: skip
        try:
            out = ok("exec", cid, "ip", "-4", "-o", "addr", "show", "eth0")
            assert "10.231.7.50/24" in out
            r = cli("run", "--rm", "--network", "pcx-fixed", "--ip", "10.231.7.50", bb, "true")
            assert r.returncode == 125 and "already in use" in r.stderr
        finally:
            ok("rm", "-f", cid)
        r = cli("run", "--rm", "--network", "pcx-fixed", "--ip", "10.9.9.9", bb, "true")
        assert r.returncode == 125 and "is not in network" in r.stderr
        r = cli("run", "--rm", "--ip", "10.231.7.51", bb, "true")
        assert r.returncode == 125 and "user defined networks only" in r.stderr
        done = pc.run(bb, ["ip", "-4", "-o", "addr", "show", "eth0"], network="pcx-fixed",
                      ip="10.231.7.60", capture_output=True)  # fmt: skip
        assert b"10.231.7.60/24" in done.stdout
    finally:
        ok("network", "rm", "pcx-fixed")
    assert ok("ps", "-aq") == ""


def test_volumes_from(fresh_rootfs: Path, tmp_path: Path) -> None:
    bb = str(fresh_rootfs)  # its mount points are made in this rootfs: not the shared one
    host_dir = tmp_path / "shared"
    host_dir.mkdir()
    src = ok("create", "--name", "vsrc", "-v", "/data", "-v", f"{host_dir}:/bound", bb,
             "true").strip()  # fmt: skip
    try:
        ok("run", "--rm", "--network", "none", "--volumes-from", "vsrc", bb, "sh", "-c",
           "echo one > /data/f; echo two > /bound/g")  # fmt: skip
        assert (host_dir / "g").read_text() == "two\n"
        out = ok("run", "--rm", "--network", "none", "--volumes-from", "vsrc:ro", bb, "sh",
                 "-c", "cat /data/f; echo x > /data/h 2>/dev/null || echo read-only")  # fmt: skip
        assert out.split() == ["one", "read-only"]
        r = cli("run", "--rm", "--volumes-from", "no-such-ctr", bb, "true")
        assert r.returncode == 125 and "no such container: no-such-ctr" in r.stderr
        done = pc.run(bb, ["cat", "/data/f", "/bound/g"], volumes_from=[src],
                      capture_output=True)  # fmt: skip
        assert done.stdout == b"one\ntwo\n"
    finally:
        ok("rm", "-f", "-v", src)


def test_attach_streams(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    script = "echo out; echo err >&2; exit 3"
    r = cli("run", "--rm", "--network", "none", "-a", "stderr", bb, "sh", "-c", script)
    assert (r.returncode, r.stdout, r.stderr) == (3, "", "err\n")
    r = cli("run", "--rm", "--network", "none", "-a", "stdout", bb, "sh", "-c", script)
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "")
    r = cli("run", "--rm", "-i", "--network", "none", "-a", "stdin", "-a", "stdout", bb, "sh",
            "-c", "read x; echo got $x; echo err >&2", input="line\n")  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (0, "got line\n", "")
    r = cli("run", "-d", "-a", "stdout", bb, "true")
    assert r.returncode == 125 and "Conflicting options: -a and -d" in r.stderr


def _run_on_pty(*argv: str) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pycontainers", *argv], stdin=slave,
                            stdout=slave, stderr=slave, start_new_session=True)  # fmt: skip
    os.close(slave)
    return proc, master


def _read_until(master: int, text: bytes, timeout: float = 30) -> bytes:
    import select

    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen and time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    assert text in seen, seen
    return seen


def test_detach_keys(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    proc, master = _run_on_pty("run", "-it", "--name", "dk", "--network", "none",
                               "--detach-keys", "ctrl-x,y", bb, "sh")  # fmt: skip
    try:
        os.write(master, b"echo rea''dy\r")
        _read_until(master, b"ready")
        os.write(master, b"\x18y")  # ctrl-x then y: detached, the shell runs on
        assert proc.wait(timeout=30) == 0
        assert json.loads(ok("inspect", "dk"))[0]["State"]["Status"] == "running"
    finally:
        os.close(master)
        ok("rm", "-f", "dk")
    proc, master = _run_on_pty("run", "-it", "--name", "dk2", "--network", "none", bb, "sh")
    try:
        os.write(master, b"echo rea''dy\r")
        _read_until(master, b"ready")
        os.write(master, b"\x10\x11")  # Docker's default: ctrl-p,ctrl-q
        assert proc.wait(timeout=30) == 0
        assert json.loads(ok("inspect", "dk2"))[0]["State"]["Status"] == "running"
    finally:
        os.close(master)
        ok("rm", "-f", "dk2")


def test_sig_proxy(busybox_rootfs: Path) -> None:
    script = "trap 'echo got usr1; exit 3' USR1; echo up; while :; do sleep 0.1; done"

    def start(*flags: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-m", "pycontainers", "run", "--name", "sp",
                                 "--network", "none", *flags, str(busybox_rootfs), "sh", "-c",
                                 script], stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout is not None
        assert proc.stdout.readline() == "up\n"
        return proc

    proc = start("--rm")
    proc.send_signal(signal.SIGUSR1)  # proxied to the container (the default)
    out, _ = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (3, "got usr1\n")
    assert ok("ps", "-aq") == ""
    proc = start("--sig-proxy=false")
    try:
        proc.send_signal(signal.SIGUSR1)  # not proxied: it ends this client only
        assert proc.wait(timeout=60) == -signal.SIGUSR1
        assert json.loads(ok("inspect", "sp"))[0]["State"]["Status"] == "running"
    finally:
        ok("rm", "-f", "sp")


def test_oom_score_adj(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    out = ok("run", "--rm", "--network", "none", "--oom-score-adj", "500", bb, "sh", "-c",
             "cat /proc/self/oom_score_adj")  # fmt: skip
    assert out == "500\n"  # the payload's children inherit it
    r = cli("run", "--rm", "--oom-score-adj", "2000", bb, "true")
    assert r.returncode == 125 and "between -1000 and 1000" in r.stderr
    assert ok("ps", "-aq") == ""
    c = pc.Container.create(bb, ["cat", "/proc/self/oom_score_adj"], detach=True,
                            oom_score_adj=300)  # fmt: skip
    try:
        c.start()
        c.wait(timeout=60)
        assert b"".join(e.data for e in c.logs()) == b"300\n"
    finally:
        c.delete()


def test_log_driver(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    r = cli("run", "--rm", "--network", "none", "--log-driver", "none", bb, "sh", "-c",
            "echo out; echo err >&2")  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (0, "out\n", "err\n")  # attached, not logged
    cid = ok("run", "-d", "--network", "none", "--log-driver", "none", bb, "echo", "hi").strip()
    local = ok("run", "-d", "--network", "none", "--log-driver", "local", bb, "echo", "hi").strip()
    try:
        ok("wait", cid, local)
        r = cli("logs", cid)
        assert r.returncode != 0
        assert "configured logging driver does not support reading" in r.stderr
        assert not os.path.exists(os.path.join(pc.Container.load(cid).state_dir, "ctr.log"))
        assert ok("logs", local) == "hi\n"
        r = cli("run", "--rm", "--log-driver", "syslog", bb, "true")
        assert r.returncode == 125 and "invalid choice" in r.stderr
    finally:
        ok("rm", "-f", cid, local)
    with pytest.raises(pc.SpecError, match="unsupported logging driver 'gelf'"):
        pc.Container.create(bb, ["true"], detach=True, log_driver="gelf")


def test_tty_with_ulimit(busybox_rootfs: Path) -> None:
    # -t adds TERM by evolving the spec's process, whose converted rlimits went through their
    # converter again: the converter takes its own output (it raised AttributeError)
    cid = ok("run", "-d", "-t", "--ulimit", "nofile=512:1024", str(busybox_rootfs),
             "sh", "-c", "echo $TERM $(ulimit -n) $(ulimit -Hn)").strip()  # fmt: skip
    try:
        until(lambda: "xterm 512 1024" in ok("logs", cid))
    finally:
        ok("rm", "-f", cid)
    c = pc.Container.create(busybox_rootfs, ["true"], detach=True, tty=True,
                            rlimits={"nofile": (256, 512)})  # fmt: skip
    try:
        assert c.spec is not None and c.spec.process.rlimits == (("nofile", 256, 512),)
    finally:
        c.delete()
