"""The container commands of the CLI, each run as its own process against real containers:
run, create, start, ps, exec, logs, stop, kill, restart, rm, pause, unpause, wait, inspect,
top, stats, cp, diff, export, and the volume commands.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_util import cli, ok, read_pty, until

import pycontainers as pc

pytestmark = pytest.mark.root


def inspect(ref: str, fmt: str) -> str:
    return ok("inspect", "--type", "container", "-f", fmt, ref).strip()


def health(ref: str) -> str:
    h = json.loads(inspect(ref, "{{json .State.Health}}"))
    return str(h.get("Status", h.get("status")))


@pytest.fixture(autouse=True)
def no_containers_left() -> Iterator[None]:
    """Each test removes what it made; whatever is left is removed and fails the test."""
    yield
    left = pc.Container.list()
    for c in left:
        c.delete()
    assert not left, f"containers left behind: {left}"


LOOP = "echo started; echo oops >&2; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"


def test_run_foreground_exit_codes_and_rm(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    r = cli("run", "--rm", "--network", "none", bb, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert cli("run", "--rm", bb, "true").returncode == 0
    r = cli("run", "--rm", bb, "no-such-command")
    assert r.returncode == 127 and "not found" in r.stderr
    r = cli("run", "--rm", bb, "/etc/passwd")
    assert r.returncode == 126 and r.stderr.startswith("pycontainers: ")
    r = cli("run", "--rm", "--memory", "lots", bb, "true")
    assert r.returncode == 125 and r.stderr.startswith("pycontainers: ")
    assert cli("run", "--rm", "--no-such-flag", bb, "true").returncode == 125
    assert cli("run", "--rm", str(busybox_rootfs / "missing"), "true").returncode == 125
    assert ok("ps", "-aq") == ""  # --rm removed every one of them, failed starts included
    # without --rm the container stays, exited, with its code
    r = cli("run", "--name", "kept", bb, "sh", "-c", "exit 5")
    assert r.returncode == 5
    assert inspect("kept", "{{.State.Status}} {{.State.ExitCode}}") == "exited 5"
    assert "Exited (5)" in ok("ps", "-a")
    ok("rm", "kept")
    # the README's quick start: the built-in host image
    r = cli("run", "--rm", "host", "--", "sh", "-c", "hostname; echo $((6*7))")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "42"


def test_a_kept_container_is_inspectable_at_once_every_time(busybox_rootfs: Path) -> None:
    """`run --name X` exits; `inspect X` at once, while the monitor's exit hook gives back
    its network endpoint, once said "no such object" (issue 15): run the sequence many
    times, after `run --rm`s like the test above.
    """
    bb = str(busybox_rootfs)
    for i in range(8):
        assert cli("run", "--rm", bb, "true").returncode == 0
        r = cli("run", "--name", f"kept{i}", bb, "sh", "-c", "exit 5")
        assert r.returncode == 5, r.stderr
        assert inspect(f"kept{i}", "{{.State.Status}} {{.State.ExitCode}}") == "exited 5"
        assert f"kept{i}" in ok("ps", "-a")
    ok("rm", *[f"kept{i}" for i in range(8)])


def test_run_flags_reach_the_container(busybox_rootfs: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\n\nOVERRIDDEN=file\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("host file\n")
    script = ("echo $FROM_FILE $OVERRIDDEN $PLAIN; id -u; pwd; hostname; cat /data/in.txt; "
              "touch / 2>/dev/null || echo ro; grep -c ' /scratch tmpfs' /proc/mounts")  # fmt: skip
    r = cli("run", "--rm", "--env-file", str(env_file), "-e", "OVERRIDDEN=flag", "-e",
            "PLAIN=p", "-u", "1000", "-w", "/tmp", "-h", "box", "-v", f"{data}:/data:ro",
            "--read-only", "--tmpfs", "/scratch:size=1m", "--pids-limit", "20", "-m", "32m",
            "--network", "none", str(busybox_rootfs), "sh", "-c", script)  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines == ["yes flag p", "1000", "/tmp", "box", "host file", "ro", "1"]
    r = cli("run", "--rm", "--entrypoint", "/bin/echo", str(busybox_rootfs), "via", "entrypoint")
    assert r.stdout == "via entrypoint\n"
    r = cli("run", "--rm", "--cap-drop", "ALL", "--security-opt", "seccomp=unconfined",
            str(busybox_rootfs), "sh", "-c", "grep CapEff /proc/self/status; grep Seccomp: /proc/self/status")  # fmt: skip
    assert r.stdout.split() == ["CapEff:", "0000000000000000", "Seccomp:", "0"]
    r = cli(
        "run",
        "--rm",
        "--init",
        str(busybox_rootfs),
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '",
    )
    assert r.returncode == 0 and not r.stdout.startswith("sh ")
    bad = cli("run", "--rm", "--security-opt", "apparmor=foo", str(busybox_rootfs), "true")
    assert bad.returncode == 125 and "security-opt" in bad.stderr


def test_detached_container_across_invocations(busybox_rootfs: Path) -> None:
    cid = ok(
        "run", "-d", "--name", "keeper", "-e", "IN_ENV=1", str(busybox_rootfs), "sh", "-c", LOOP
    ).strip()
    assert len(cid) == 64
    assert ok("ps", "-q") == cid[:12] + "\n"
    assert ok("ps", "-q", "--no-trunc") == cid + "\n"
    until(lambda: "oops" in cli("logs", "keeper").stderr)
    r = cli("logs", "keeper")
    assert (r.stdout, r.stderr) == ("started\n", "oops\n")
    stamped = cli("logs", "-t", "keeper").stdout.split(" ", 1)
    assert stamped[0].endswith("Z") and stamped[1] == "started\n"
    follower = subprocess.Popen([sys.executable, "-m", "pycontainers", "logs", "-f", "keeper"],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    r = cli("exec", "-e", "X=2", "-u", "1000", "-w", "/tmp", "keeper", "sh", "-c",
            "echo $IN_ENV $X $(id -u) $(pwd); exit 4")  # fmt: skip
    assert (r.returncode, r.stdout) == (4, "1 2 1000 /tmp\n")
    assert cli("exec", "keeper", "no-such-command").returncode == 127
    assert ok("exec", "-i", "keeper", "cat", input="piped\n") == "piped\n"
    assert "hi-from-tty" in ok("exec", "-t", "keeper", "echo", "hi-from-tty")
    ok("exec", "-d", "keeper", "sh", "-c", "echo detached > /tmp/d")
    until(lambda: cli("exec", "keeper", "cat", "/tmp/d").stdout == "detached\n")
    ok("pause", "keeper")
    assert inspect("keeper", "{{.State.Status}}") == "paused"
    assert cli("exec", "keeper", "true").returncode == 125
    ok("unpause", "keeper")
    r = cli("rm", "keeper")
    assert r.returncode == 125 and "stop it first" in r.stderr
    assert cli("start", "keeper").returncode == 125  # already running
    assert ok("stop", "-t", "5", "keeper") == "keeper\n"
    out, _ = follower.communicate(timeout=30)  # logs -f ended when the container stopped
    assert out == "started\nbye\n"
    assert ok("wait", "keeper") == "0\n"
    assert inspect("keeper", "{{.State.Status}} {{.State.ExitCode}}") == "exited 0"
    r = cli("exec", "keeper", "true")
    assert r.returncode == 125 and "not running" in r.stderr
    ok("start", "keeper")  # a stopped container runs again
    assert inspect("keeper", "{{.State.Running}}") == "true"
    old_pid = inspect("keeper", "{{.State.Pid}}")
    ok("restart", "-t", "5", "keeper")
    assert inspect("keeper", "{{.State.Running}}") == "true"
    assert inspect("keeper", "{{.State.Pid}}") != old_pid
    ok("kill", "-s", "KILL", "keeper")
    assert ok("wait", "keeper") == "137\n"
    assert cli("kill", "keeper").returncode == 125  # not running
    assert cli("kill", "-s", "NOPE", "keeper").returncode == 125
    ok("rm", "keeper")
    r = cli("inspect", "keeper")
    assert r.returncode == 125 and "no such object" in r.stderr


def test_create_then_start_attached(busybox_rootfs: Path) -> None:
    cid = ok(
        "create", "--name", "later", str(busybox_rootfs), "sh", "-c", "echo ran; exit 6"
    ).strip()
    assert inspect(cid, "{{.State.Status}}") == "created"
    assert "later" not in ok("ps") and "Created" in ok("ps", "-a")
    r = cli("start", "-a", "later")
    assert (r.returncode, r.stdout) == (6, "ran\n")
    r = cli("start", "-a", "later")  # again: only this run's output
    assert (r.returncode, r.stdout) == (6, "ran\n")
    ok("rm", "later")
    cid = ok("create", "--rm", str(busybox_rootfs), "true").strip()
    ok("start", cid)
    until(lambda: ok("ps", "-aq") == "")  # auto-removed once it exited (ps must not fail)


def test_run_rm_is_removed_after_ctrl_c(busybox_rootfs: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pycontainers", "run", "--rm", "--name", "ctrlc",
                             str(busybox_rootfs), "sh", "-c", "echo up; sleep 1000"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert ok("ps", "-aq") == ""


def test_run_interactive_attaches_stdin(busybox_rootfs: Path) -> None:
    r = cli("run", "-i", "--rm", str(busybox_rootfs), "sh", "-c", "read x; echo got $x; exit 2",
            input="line\n")  # fmt: skip
    assert (r.returncode, r.stdout) == (2, "got line\n"), r.stderr


def test_ps_filters_and_formats(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    a = ok("run", "-d", "--name", "alpha", "-l", "tier=web", "-l", "x", bb, "sleep", "100").strip()
    b = ok("run", "-d", "--name", "beta", "--label", "tier=db", bb, "sleep", "100").strip()
    c = ok("create", "--name", "gamma", bb, "true").strip()
    try:
        assert set(ok("ps", "-q").split()) == {a[:12], b[:12]}
        assert set(ok("ps", "-aq").split()) == {a[:12], b[:12], c[:12]}
        assert ok("ps", "-q", "--filter", "label=tier=web") == a[:12] + "\n"
        assert set(ok("ps", "-q", "-f", "label=tier").split()) == {a[:12], b[:12]}
        assert ok("ps", "-q", "-f", "label=x", "-f", "name=alp") == a[:12] + "\n"
        assert ok("ps", "-q", "-f", "status=created") == c[:12] + "\n"
        assert set(ok("ps", "-q", "-f", "name=alpha", "-f", "name=beta").split()) == {
            a[:12],
            b[:12],
        }
        assert ok("ps", "-q", "-f", f"id={b[:5]}") == b[:12] + "\n"
        assert cli("ps", "-f", "colour=red").returncode == 125
        assert cli("ps", "-f", "status=happy").returncode == 125
        out = ok("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.State}} {{.Labels}}").splitlines()
        assert f"{a[:12]} alpha running tier=web,x=" in out and f"{c[:12]} gamma created " in out
        rows = [json.loads(line) for line in ok("ps", "--format", "json").splitlines()]
        assert {r["Names"] for r in rows} == {"alpha", "beta"}
        assert rows[0]["Command"] == '"sleep 100"' and rows[0]["Status"].startswith("Up ")
        table = ok("ps", "--format", "table {{.Names}}\\t{{.Status}}").splitlines()
        assert table[0].split() == ["NAMES", "STATUS"] and len(table) == 3
        header = ok("ps").splitlines()[0].split()
        assert header[:2] == ["CONTAINER", "ID"] and header[-1] == "NAMES"
        assert cli("ps", "--format", "{{.Nope}}").returncode == 125
        assert cli("ps", "--format", "{{if .ID}}x{{end}}").returncode == 125
    finally:
        ok("rm", "-f", "alpha", "beta", "gamma")


def test_restart_policy_flags(busybox_rootfs: Path) -> None:
    ok(
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        str(busybox_rootfs),
        "sh",
        "-c",
        "exit 1",
    )
    until(lambda: inspect("flaky", "{{.RestartCount}} {{.State.Status}}") == "2 exited", 30)
    assert inspect("flaky", "{{.State.ExitCode}}") == "1"
    ok("rm", "flaky")
    assert cli("run", "-d", "--restart", "sometimes", str(busybox_rootfs), "true").returncode == 125
    assert cli("run", "--rm", "--restart", "always", str(busybox_rootfs), "true").returncode == 125


def test_health_flags_turn_the_status(fresh_rootfs: Path) -> None:
    # a rootfs of its own: the check's /tmp/ok is written into it (not into the shared one)
    ok("run", "-d", "--name", "doc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "300ms",
       "--health-retries", "2", "--health-timeout", "5s", str(fresh_rootfs), "sleep", "1000")  # fmt: skip
    try:
        until(lambda: health("doc") == "unhealthy", 30)
        assert "(unhealthy)" in ok("ps")
        assert ok("ps", "-q", "-f", "health=unhealthy").strip() != ""
        ok("exec", "doc", "touch", "/tmp/ok")
        until(lambda: health("doc") == "healthy", 30)
    finally:
        ok("rm", "-f", "doc")


def test_logs_tail_since_until(busybox_rootfs: Path) -> None:
    ok("run", "--name", "talk", str(busybox_rootfs), "sh", "-c", "echo one; echo two; echo three")
    try:
        assert ok("logs", "--tail", "2", "talk") == "two\nthree\n"
        assert ok("logs", "-n", "0", "talk") == ""
        assert ok("logs", "--since", "1h", "talk") == "one\ntwo\nthree\n"
        assert ok("logs", "--until", "1h", "talk") == ""
        assert ok("logs", "--since", str(time.time() + 60), "talk") == ""
        assert cli("logs", "--since", "yesterday", "talk").returncode == 125
    finally:
        ok("rm", "talk")


def test_top_stats_cp_export_inspect(busybox_rootfs: Path, tmp_path: Path) -> None:
    ok("run", "-d", "--name", "box", "-m", "64m", str(busybox_rootfs), "sh", "-c", "sleep 1000")
    try:
        top = ok("top", "box").splitlines()
        assert top[0].split() == ["UID", "PID", "PPID", "STAT", "CMD"]
        assert any(line.endswith("sleep 1000") for line in top[1:])
        stats = ok("stats", "--no-stream", "box").splitlines()
        assert stats[0].split()[:3] == ["CONTAINER", "ID", "NAME"] and "box" in stats[1]
        assert "/ 64MiB" in stats[1]
        row = json.loads(ok("stats", "--no-stream", "--format", "json", "box"))
        assert row["Name"] == "box" and row["PIDs"] == "1"  # sh execs sleep
        src = tmp_path / "hello.txt"
        src.write_text("to the container\n")
        ok("cp", str(src), "box:/tmp/")
        ok("cp", str(src), "box:/tmp/renamed.txt")
        assert (
            ok("exec", "box", "cat", "/tmp/hello.txt", "/tmp/renamed.txt")
            == "to the container\n" * 2
        )
        ok("exec", "box", "sh", "-c", "mkdir -p /out/sub; echo deep > /out/sub/f")
        ok("cp", "box:/out", str(tmp_path))
        assert (tmp_path / "out" / "sub" / "f").read_text() == "deep\n"
        ok("cp", "box:/out/sub/f", str(tmp_path / "copy"))
        assert (tmp_path / "copy").read_text() == "deep\n"
        raw = subprocess.run([sys.executable, "-m", "pycontainers", "cp", "box:/out/sub/f", "-"],
                             capture_output=True, check=True).stdout  # fmt: skip
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            assert tar.getnames() == ["f"]
        assert cli("cp", "box:/nope", str(tmp_path)).returncode == 125
        assert cli("cp", str(src), str(tmp_path)).returncode == 125  # no container side
        out = tmp_path / "fs.tar"
        ok("export", "-o", str(out), "box")
        with tarfile.open(out) as tar:
            names = set(tar.getnames())
        assert "./bin/busybox" in names or "bin/busybox" in names
        info = json.loads(ok("inspect", "box"))
        assert info[0]["Name"] == "box" and info[0]["State"]["Running"] is True
    finally:
        ok("rm", "-f", "box")


def test_diff_of_an_image_container(busybox_rootfs: Path) -> None:
    from pycontainers.images import default_store

    default_store().import_rootfs(busybox_rootfs, "localhost/cli-diff:1")
    ok(
        "run",
        "--name",
        "changed",
        "localhost/cli-diff:1",
        "sh",
        "-c",
        "echo x > /tmp/new; rm /bin/ls",
    )
    try:
        lines = ok("diff", "changed").splitlines()
        assert "A /tmp/new" in lines and "D /bin/ls" in lines and "C /tmp" in lines
    finally:
        ok("rm", "changed")
    assert cli("diff", "nothing-here").returncode == 125


def test_volume_commands_and_volume_mounts(busybox_rootfs: Path) -> None:
    assert ok("volume", "create", "--label", "k=v", "cli-vol") == "cli-vol\n"
    try:
        ok(
            "run",
            "--rm",
            "-v",
            "cli-vol:/data",
            str(busybox_rootfs),
            "sh",
            "-c",
            "echo kept > /data/f",
        )
        r = cli("run", "--rm", "--mount", "type=volume,src=cli-vol,dst=/v,readonly",
                str(busybox_rootfs), "sh", "-c", "cat /v/f; touch /v/g 2>/dev/null || echo ro")  # fmt: skip
        assert r.stdout == "kept\nro\n", r.stderr
        assert "cli-vol" in ok("volume", "ls", "-q").split()
        assert ok("volume", "ls", "-q", "-f", "label=k=v") == "cli-vol\n"
        info = json.loads(ok("volume", "inspect", "cli-vol"))[0]
        assert info["Labels"] == {"k": "v"} and os.path.isdir(info["Mountpoint"])
        assert ok("inspect", "-f", "{{.Name}}", "--type", "volume", "cli-vol") == "cli-vol\n"
        # an anonymous volume goes with rm -v
        ok("run", "--name", "anon", "-v", "/scratch", str(busybox_rootfs), "touch", "/scratch/x")
        anon = [v for v in ok("volume", "ls", "-q").split() if v != "cli-vol"]
        assert len(anon) == 1
        ok("rm", "-v", "anon")
        assert ok("volume", "ls", "-q").split() == ["cli-vol"]
        assert cli("run", "--rm", "--mount", "type=bind,src=/no/such/dir,dst=/x",
                   str(busybox_rootfs), "true").returncode == 125  # fmt: skip
    finally:
        ok("volume", "rm", "cli-vol")
    assert cli("volume", "inspect", "cli-vol").returncode == 125
    ok("run", "--name", "anon2", "-v", "/scratch", str(busybox_rootfs), "true")
    ok("rm", "anon2")
    assert "Deleted Volumes:" in ok("volume", "prune", "-f")
    assert ok("volume", "ls", "-q") == ""


def test_exec_it_names_its_terminal_and_takes_its_size(busybox_rootfs: Path) -> None:
    """``exec -it`` on a terminal of 37x101: the command's pty is of the container's own
    devpts (tty(1) names it; a host pty would be "not a tty" there) and has our size."""
    import fcntl
    import struct
    import termios

    ok("run", "-d", "--name", "ttybox", str(busybox_rootfs), "sleep", "300")
    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 37, 101, 0, 0))
        p = subprocess.Popen(
            [sys.executable, "-m", "pycontainers", "exec", "-it", "ttybox", "sh", "-c",
             "tty; stty size"],
            stdin=slave, stdout=slave, stderr=slave,
        )  # fmt: skip
        os.close(slave)
        slave = -1
        out = read_pty(master, p, timeout=30)
        assert p.wait(timeout=30) == 0, out
        text = out.decode(errors="replace")
        assert "/dev/pts/" in text and "not a tty" not in text, text
        assert "37 101" in text, text
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
        cli("rm", "-f", "ttybox")
