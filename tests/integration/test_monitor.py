"""pycontainers-monitor: json-file logs, exit files, surviving its creator, restart policies,
signals and its own process hygiene. The monitor runs commands itself (`-- ARGV` mode) or
adopts one (`--adopt`, see test_monitor_attach.py); no root needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from monitor_util import MON, TIME_RE, WAIT, Monitor, log_lines, pid_alive, read_json, wait_for

PY = sys.executable


def run(state: Path, *args: str, argv: list[str]) -> Monitor:
    m = Monitor(state, *args, argv=argv)
    m.wait()
    return m


# ---- json-file log ----


def test_log_lines_are_docker_json_file(tmp_path: Path) -> None:
    m = run(tmp_path, argv=["sh", "-c", "echo one; echo two >&2; echo three; printf tail"])
    lines = m.log()
    out = [e["log"] for e in lines if e["stream"] == "stdout"]
    err = [e["log"] for e in lines if e["stream"] == "stderr"]
    assert out == ["one\n", "three\n", "tail"]  # the partial last line is flushed at EOF
    assert err == ["two\n"]
    for e in lines:
        stamp = e["time"]
        assert TIME_RE.match(stamp)
        datetime.fromisoformat(stamp[:26] + "+00:00")  # a real date (Python takes 6 digits)
    raw = (tmp_path / "ctr.log").read_bytes().split(b"\n")[0]
    assert raw.startswith(b'{"log":"one\\n","stream":"stdout","time":"')


def test_long_line_is_split_at_16k_like_docker(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write('x' * 40000 + '\\nshort\\n')"
    lines = run(tmp_path, argv=[PY, "-c", code]).log()
    assert [len(e["log"]) for e in lines] == [16384, 16384, 40000 - 2 * 16384 + 1, 6]
    assert not lines[0]["log"].endswith("\n") and lines[2]["log"].endswith("\n")
    assert "".join(e["log"] for e in lines) == "x" * 40000 + "\nshort\n"


def test_control_chars_and_invalid_utf8_are_escaped(tmp_path: Path) -> None:
    payload = b'a\x00b\x1b[0m\x7f\xff\xfe\xc3\xa9\xed\xa0\x80"\\\t<>&\xe2\x80\xa8\r\n'
    code = f"import sys; sys.stdout.buffer.write({payload!r})"
    (entry,) = run(tmp_path, argv=[PY, "-c", code]).log()
    assert entry["log"] == 'a\x00b\x1b[0m\x7f\ufffd\ufffdé\ufffd\ufffd\ufffd"\\\t<>&\u2028\r\n'
    raw = (tmp_path / "ctr.log").read_bytes()
    assert raw.isascii() or "é".encode() in raw
    for esc in (rb"\u0000", rb"\u001b", rb"\ufffd", rb"\u003c", rb"\u0026", rb"\u2028", rb"\r"):
        assert esc in raw


@pytest.mark.parametrize("max_files", [3, 1])
def test_rotation_by_size(tmp_path: Path, max_files: int) -> None:
    script = "i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done"
    run(
        tmp_path,
        "--log-max-size",
        "2000",
        "--log-max-files",
        str(max_files),
        argv=["sh", "-c", script],
    )
    files = [tmp_path / "ctr.log"] + [tmp_path / f"ctr.log.{i}" for i in range(1, max_files)]
    assert all(f.exists() for f in files)
    assert not (tmp_path / f"ctr.log.{max_files}").exists()
    assert all(f.stat().st_size <= 2000 for f in files)
    # oldest file first: the kept lines are the last ones, in order, without a gap
    kept = [int(e["log"].split("-")[1]) for f in reversed(files) for e in log_lines(f)]
    assert kept == list(range(300 - len(kept), 300))
    # a file is rotated only when the next ~120-byte line would not fit
    assert all(f.stat().st_size > 2000 - 200 for f in files[1:])
    assert len(kept) > 10


# ---- exit file ----


def test_exit_file_for_an_exit_code(tmp_path: Path) -> None:
    info = run(tmp_path, argv=["sh", "-c", "exit 3"]).exit_info()
    assert set(info) == {"exit_code", "signal", "oom_killed", "finished_at", "restart_count"}
    assert info["exit_code"] == 3 and info["signal"] is None and info["restart_count"] == 0
    assert info["oom_killed"] is False  # no --cgroup given: nothing to read
    assert TIME_RE.match(info["finished_at"])
    assert not list(tmp_path.glob("*.tmp"))
    assert not (tmp_path / "attach.sock").exists()  # removed when the monitor leaves


def test_exit_file_for_sigkill(tmp_path: Path) -> None:
    info = run(tmp_path, argv=["sh", "-c", "kill -9 $$"]).exit_info()
    assert info["exit_code"] == 137 and info["signal"] == 9


def test_command_not_found_is_127_with_the_error_logged(tmp_path: Path) -> None:
    m = run(tmp_path, argv=["/nonexistent/cmd"])
    assert m.exit_info()["exit_code"] == 127
    assert "/nonexistent/cmd" in m.log()[0]["log"] and m.log()[0]["stream"] == "stderr"


def test_sigterm_to_the_monitor_is_forwarded(tmp_path: Path) -> None:
    m = Monitor(tmp_path, "--restart", "always", argv=["sleep", "300"])
    m.proc.terminate()
    info = m.exit_info()
    assert info["exit_code"] == 143 and info["signal"] == 15
    assert info["restart_count"] == 0  # a stopped container is not restarted
    m.kill()


def test_sigterm_reaches_a_handler_in_the_child(tmp_path: Path) -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        "print('armed', flush=True)\n"
        "time.sleep(300)\n"
    )
    m = Monitor(tmp_path, argv=[PY, "-c", code])
    wait_for(lambda: (tmp_path / "ctr.log").read_text(), "the handler to be armed")
    m.proc.send_signal(2)  # SIGINT to the monitor: the child gets SIGTERM
    assert m.exit_info()["exit_code"] == 42
    m.kill()


LAUNCH = """
import subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(p.pid, flush=True)
"""


def test_monitor_survives_its_creator(tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = f"echo started; while [ ! -e {go} ]; do sleep 0.02; done; echo done; exit 7"
    creator = subprocess.run(
        [PY, "-c", LAUNCH, MON, "--state-dir", str(tmp_path), "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    pid = int(creator.stdout)  # the creator has exited: the monitor is an orphan now
    assert pid_alive(pid)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert int(fields[3]) == pid  # setsid(): its own session, away from the creator's
    wait_for(lambda: (tmp_path / "ctr.log").exists() and (tmp_path / "ctr.log").read_text(), "log")
    assert not (tmp_path / "exit.json").exists()
    go.touch()
    wait_for(lambda: not pid_alive(pid), "the monitor to exit")
    assert read_json(tmp_path / "exit.json")["exit_code"] == 7
    assert [e["log"] for e in log_lines(tmp_path / "ctr.log")] == ["started\n", "done\n"]


def test_monitor_hygiene(tmp_path: Path) -> None:
    extra_r, extra_w = os.pipe()
    try:
        m = Monitor(tmp_path, argv=["sleep", "300"], pass_fds=(extra_r,))
        with m:
            fds = {
                int(fd): os.readlink(f"/proc/{m.pid}/fd/{fd}")
                for fd in os.listdir(f"/proc/{m.pid}/fd")
            }
            assert all(fds[i] == "/dev/null" for i in (0, 1, 2))
            assert os.readlink(f"/proc/self/fd/{extra_r}") not in fds.values()  # closed
            assert os.readlink(f"/proc/{m.pid}/cwd") == "/"
            status = Path(f"/proc/{m.pid}/status").read_text()
            sigign = int(status.split("SigIgn:")[1].split()[0], 16)
            assert sigign & (1 << (13 - 1)) and sigign & (1 << (1 - 1))  # SIGPIPE, SIGHUP
            child = int(Path(f"/proc/{m.pid}/task/{m.pid}/children").read_text().split()[0])
            wait_for(lambda: Path(f"/proc/{child}/comm").read_text() == "sleep\n", "exec")
            child_status = Path(f"/proc/{child}/status").read_text()
            child_ign = int(child_status.split("SigIgn:")[1].split()[0], 16)
            child_blk = int(child_status.split("SigBlk:")[1].split()[0], 16)
            assert child_ign == 0 and child_blk == 0  # the container gets default signals
    finally:
        os.close(extra_r)
        os.close(extra_w)


def test_usage_errors(tmp_path: Path) -> None:
    def fails(*args: str) -> str:
        p = subprocess.run([MON, *args], capture_output=True, text=True, timeout=WAIT)
        assert p.returncode == 2
        return p.stderr

    assert "--state-dir" in fails("--", "true")
    assert "exactly one" in fails("--state-dir", str(tmp_path))
    assert "not a directory" in fails("--state-dir", str(tmp_path / "nope"), "--", "true")
    assert "not a child" in fails("--state-dir", str(tmp_path), "--adopt", "1")
    assert "policy" in fails("--state-dir", str(tmp_path), "--restart", "sometimes", "--", "true")
    assert "--restart-cmd" in fails(
        "--state-dir", str(tmp_path), "--adopt", "1", "--restart", "always"
    )
    assert "--adopt" in fails("--state-dir", str(tmp_path), "--stdout-fd", "1", "--", "true")
    assert not list(tmp_path.iterdir())  # nothing left behind


# ---- restart policies ----


def test_on_failure_3_restarts_exactly_three_times(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    m = run(
        tmp_path,
        "--restart",
        "on-failure:3",
        "--restart-backoff-ms",
        "5",
        argv=["sh", "-c", f"echo run >> {runs}; echo attempt; exit 1"],
    )
    assert runs.read_text() == "run\n" * 4  # the first run and three restarts
    info = m.exit_info()
    assert info["exit_code"] == 1 and info["restart_count"] == 3
    assert [e["log"] for e in m.log()] == ["attempt\n"] * 4  # one log across restarts


def test_on_failure_does_not_restart_a_success(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run(tmp_path, "--restart", "on-failure", argv=["sh", "-c", f"echo run >> {runs}"])
    assert runs.read_text() == "run\n"


@pytest.mark.parametrize("policy", ["unless-stopped", "always"])
def test_restart_stops_when_the_stopped_file_exists(tmp_path: Path, policy: str) -> None:
    runs, stopped = tmp_path / "runs", tmp_path / "stopped"
    script = f"echo run >> {runs}; [ $(wc -l < {runs}) -ge 3 ] && touch {stopped}; exit 0"
    m = run(tmp_path, "--restart", policy, "--restart-backoff-ms", "5", argv=["sh", "-c", script])
    assert runs.read_text() == "run\n" * 3
    assert m.exit_info()["restart_count"] == 2


def test_restart_cmd_replaces_the_monitor(tmp_path: Path) -> None:
    """--adopt mode: the monitor execs --restart-cmd with --restart-count K+1 appended."""
    out = tmp_path / "restart-args"
    m = Monitor(
        tmp_path,
        "--restart",
        "on-failure:5",
        "--restart-count",
        "2",
        "--restart-backoff-ms",
        "5",
        "--restart-cmd",
        "/bin/sh",
        "-c",
        f'echo "$@" > {out}',
        "sh",
        "--",
        launcher=[PY, "-c", ADOPT_SIMPLE, json.dumps(["sh", "-c", "exit 9"])],
    )
    assert m.wait() == 0  # the status of the restart command the monitor became
    assert out.read_text() == "--restart-count 3\n"
    info = read_json(tmp_path / "exit.json")
    assert info["exit_code"] == 9 and info["restart_count"] == 2


# fork the "container", exec the monitor with --adopt (stdio of the container: /dev/null)
ADOPT_SIMPLE = """
import json, os, sys
argv, mon = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pid = os.fork()
if pid == 0:
    os.closerange(3, 65536)
    os.execvp(argv[0], argv)
os.execv(mon[0], [mon[0], "--adopt", str(pid), *mon[1:]])
"""
