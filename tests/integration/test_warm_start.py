"""The ``pycontainers`` command's warm start (issue 15; ``pycontainers/warmstart``,
``_native/warm_client.c``): a launcher script written by ``_launchcache.script_text`` from
the tree under test, with the C client first, run as real processes. Each test has its own
socket directory and stops its servers in teardown. ``PYCONTAINERS_LAUNCH_DEBUG=1`` makes
the client say ``warm <pid>`` or ``cold (<reason>)``.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_util import read_pty, until

import pycontainers
from pycontainers import _launchcache

pytestmark = pytest.mark.root

PACKAGE = Path(pycontainers.__file__).resolve().parent
FRONT = PACKAGE / "_bin" / "pycontainers-front"
WARM_LINE = re.compile(r"^pycontainers-front: (warm \d+|cold \((.*)\))$", re.M)


class Warm:
    """A launcher with the warm start client, its socket directory and environment."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "warm"
        self.dir.mkdir(mode=0o700)
        self.script = tmp / "bin" / "pycontainers"
        self.script.parent.mkdir()
        text = _launchcache.script_text(
            "pycontainers", "pycontainers.cli.main:main", sys.executable, [str(FRONT)]
        )
        self.script.write_text(text)
        self.script.chmod(0o755)
        self.env = dict(os.environ)
        self.env.pop("PYCONTAINERS_LAUNCH_DEBUG", None)
        self.env.update(
            PYTHONPATH=str(PACKAGE.parent),
            PYCONTAINERS_WARM_DIR=str(self.dir),
            PYCONTAINERS_WARM_IDLE="60",
        )

    def run(
        self, *args: str, warm: bool = True, debug: bool = True, prefix: tuple[str, ...] = (),
        input: str | None = None, cwd: Path | None = None, **env: str,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        e = dict(self.env, **env)
        if not warm:
            e["PYCONTAINERS_WARM"] = "0"
        if debug:
            e["PYCONTAINERS_LAUNCH_DEBUG"] = "1"
        return subprocess.run([*prefix, str(self.script), *args], env=e, capture_output=True,
                              text=True, input=input, cwd=cwd, timeout=120)  # fmt: skip

    def popen(self, *args: str, **kw: object) -> subprocess.Popen[bytes]:
        env = dict(self.env, PYCONTAINERS_LAUNCH_DEBUG="1")
        env.update(kw.pop("env", {}))  # type: ignore[call-overload]
        return subprocess.Popen([str(self.script), *args], env=env, **kw)  # type: ignore[call-overload, no-any-return]

    def ready(self) -> None:
        """Start this context's server and wait until a call is warm."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if how(self.run("version").stderr) == "warm":
                return
            time.sleep(0.2)
        raise AssertionError("no warm start")

    def pids(self) -> list[int]:
        from pycontainers.warmstart import status

        old = os.environ.get("PYCONTAINERS_WARM_DIR")
        os.environ["PYCONTAINERS_WARM_DIR"] = str(self.dir)
        try:
            return [pid for _p, pid, _a in status.servers() if pid is not None]
        finally:
            if old is None:
                del os.environ["PYCONTAINERS_WARM_DIR"]
            else:
                os.environ["PYCONTAINERS_WARM_DIR"] = old

    def processes(self) -> list[int]:
        """The processes running this launcher (after its clients: its servers)."""
        out = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if os.fsencode(self.script) in cmdline:
                out.append(int(pid))
        return out

    def stop(self) -> None:
        """Stop the servers, also one still starting (a cold client does not wait for it)."""
        deadline = time.monotonic() + 30
        while True:
            r = self.run("system", "warm", "--stop", debug=False)
            assert r.returncode == 0, r.stderr
            if not self.processes() or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert self.processes() == []


def how(stderr: str) -> str:
    """``warm``, or the reason of a cold start, from the client's debug line."""
    m = WARM_LINE.search(stderr)
    assert m, stderr
    return "warm" if m.group(1).startswith("warm") else m.group(2)


def strip(stderr: str) -> str:
    return "\n".join(
        line
        for line in stderr.splitlines()
        if not line.startswith(("pycontainers-front:", "pycontainers-launch:"))
    )


@pytest.fixture
def warm(tmp_path: Path) -> Iterator[Warm]:
    if not FRONT.exists():
        pytest.skip("pycontainers-front is not built (setup.py build_front)")
    w = Warm(tmp_path)
    yield w
    w.stop()
    assert w.pids() == []
    assert sorted(p.name for p in w.dir.iterdir() if p.name != "seen") == []  # no lock left


def same(warm: Warm, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run ``args`` warm and cold: the same stdout, stderr and status."""
    hot = warm.run(*args, **kw)  # type: ignore[arg-type]
    cold = warm.run(*args, warm=False, **kw)  # type: ignore[arg-type]
    assert how(hot.stderr) == "warm", hot.stderr
    assert how(cold.stderr) == "PYCONTAINERS_WARM=0"
    assert (hot.returncode, hot.stdout, strip(hot.stderr)) == (
        cold.returncode, cold.stdout, strip(cold.stderr),
    ), args  # fmt: skip
    return hot


def test_warm_and_cold_give_the_same_results(
    warm: Warm, busybox_rootfs: Path, tmp_path: Path
) -> None:
    first = warm.run("version")  # a context's first call starts no server (it may be its only)
    assert how(first.stderr) == "no server: the first call of this context"
    assert how(warm.run("version").stderr) == "no server: starting one"
    warm.ready()
    rootfs = str(busybox_rootfs)
    same(warm, "version")
    same(warm, "ps")
    same(warm, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
    for code in ("0", "5"):
        r = same(
            warm,
            "run",
            "--rm",
            "--network",
            "none",
            rootfs,
            "sh",
            "-c",
            f"echo out; echo err >&2; exit {code}",
        )
        assert r.returncode == int(code) and r.stdout == "out\n"
    assert same(warm, "run", "--rm", "--network", "none", rootfs, "/nonexistent").returncode == 127
    assert same(warm, "run", "--rm", "--network", "none", "--bogus", rootfs).returncode == 125
    r = same(warm, "run", "--rm", "--network", "none", "-e", "FROM_ENV", "-w", "/etc", rootfs,
             "sh", "-c", 'echo "$FROM_ENV $(pwd)"', FROM_ENV="given")  # fmt: skip
    assert r.stdout == "given /etc\n"
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "f").write_text("relative\n")
    r = same(
        warm,
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "./dir:/x",
        rootfs,
        "cat",
        "/x/f",
        cwd=tmp_path,
    )
    assert r.stdout == "relative\n"
    r = same(warm, "run", "--rm", "-i", "--network", "none", rootfs, "cat", input="piped\n")
    assert r.stdout == "piped\n"
    assert same(warm, "inspect", f"missing-{uuid.uuid4().hex[:8]}").returncode != 0


def test_cold_for_the_reasons_it_must_be(warm: Warm, tmp_path: Path) -> None:
    warm.ready()
    assert how(warm.run("version").stderr) == "warm"
    assert how(warm.run("info").stderr) == "not a warm command"
    assert how(warm.run("--debug", "ps").stderr) == "not a warm command"
    assert how(warm.run("version", warm=False).stderr) == "PYCONTAINERS_WARM=0"
    # a lower RLIMIT_NOFILE: another context (its own server, cold at first)
    r = warm.run("version", prefix=("prlimit", "--nofile=512:512", "--"))
    assert how(r.stderr) == "no server: the first call of this context"
    # another cgroup
    group = Path(f"/sys/fs/cgroup/pids/pc-warm-test-{uuid.uuid4().hex[:8]}")
    group.mkdir()
    try:
        r = warm.run(
            "version", prefix=("sh", "-c", f'echo $$ > {group}/cgroup.procs; exec "$@"', "sh")
        )
        assert how(r.stderr) == "no server: the first call of this context"
    finally:
        warm.stop()  # (a server that client started would live in that group)
        until(lambda: not (group / "cgroup.procs").read_text().strip())
        group.rmdir()
    # a socket directory others may read
    os.chmod(warm.dir, 0o755)
    try:
        assert how(warm.run("version").stderr) == "socket directory not private"
    finally:
        os.chmod(warm.dir, 0o700)
    other = tmp_path / "link"
    other.symlink_to(warm.dir)
    assert (
        how(warm.run("version", PYCONTAINERS_WARM_DIR=str(other)).stderr)
        == "socket directory not private"
    )


def test_a_changed_module_makes_it_stale(warm: Warm) -> None:
    warm.ready()
    (pid,) = warm.pids()
    target = PACKAGE / "cli" / "output.py"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    try:
        r = warm.run("version")
        assert how(r.stderr) == "stale" and r.returncode == 0 and "Version" in r.stdout
        until(lambda: not os.path.exists(f"/proc/{pid}"))
    finally:
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_signals_and_a_killed_client(warm: Warm, busybox_rootfs: Path) -> None:
    warm.ready()
    rootfs = str(busybox_rootfs)
    results = []
    for hot in (True, False):
        name = f"warm-sig-{uuid.uuid4().hex[:8]}"
        env = {} if hot else {"PYCONTAINERS_WARM": "0"}
        p = warm.popen("run", "--rm", "--name", name, "--network", "none", rootfs, "sleep", "30",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env)  # fmt: skip
        until(lambda n=name: n in warm.run("ps", "--format", "{{.Names}}", debug=False).stdout)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert (how(err.decode()) == "warm") == hot
        results.append((p.returncode, out, strip(err.decode())))
    assert results[0] == results[1]
    # kill -9 of the client: the worker dies, the container goes
    name = f"warm-kill-{uuid.uuid4().hex[:8]}"
    p = warm.popen("run", "--rm", "--name", name, "--network", "none", rootfs, "sleep", "30",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    until(lambda: name in warm.run("ps", "--format", "{{.Names}}", debug=False).stdout)
    worker = int(re.search(rb"warm (\d+)", p.stderr.read1(4096)).group(1))  # type: ignore[union-attr]
    p.kill()
    p.wait()
    until(lambda: not os.path.exists(f"/proc/{worker}"))
    subprocess.run([sys.executable, "-m", "pycontainers", "rm", "-f", name], capture_output=True)
    until(lambda: name not in warm.run("ps", "-a", "--format", "{{.Names}}", debug=False).stdout)


def _state(pid: int) -> str:
    """The process's state letter (``T``: stopped), ``-`` once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "-"
    return stat[stat.rindex(")") + 2]


def test_ctrl_z_stops_the_worker_and_the_client_and_a_continue_resumes_both(
    warm: Warm, busybox_rootfs: Path
) -> None:
    """SIGTSTP to the client (a terminal's ^Z): it stops the worker (SIGSTOP), then itself;
    the SIGCONT that resumes the client (the shell's fg) resumes the worker, and the command
    ends as it would have."""
    warm.ready()
    # its own process group in our session, as a shell's job is (a stop signal to a process
    # group that is orphaned -- no parent in another group of its session, as under a CI
    # runner that let go of its job -- is dropped by the kernel: see the second half)
    p = warm.popen("run", "--rm", "--network", "none", str(busybox_rootfs), "sh", "-c",
                   "sleep 2; echo done", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   process_group=0)  # fmt: skip
    worker = int(re.search(rb"warm (\d+)", p.stderr.read1(4096)).group(1))  # type: ignore[union-attr]
    p.send_signal(signal.SIGTSTP)
    until(lambda: _state(p.pid) == "T" and _state(worker) == "T")
    time.sleep(0.5)
    assert _state(p.pid) == "T" and _state(worker) == "T" and p.poll() is None
    p.send_signal(signal.SIGCONT)
    until(lambda: _state(worker) != "T")
    out, _ = p.communicate(timeout=60)
    assert (p.returncode, out) == (0, b"done\n")
    # an orphaned process group (a new session: its leader's parent is in another one) drops
    # SIGTSTP: a cold command runs on, and so must the warm one (its worker too)
    p = warm.popen("run", "--rm", "--network", "none", str(busybox_rootfs), "sh", "-c",
                   "sleep 2; echo done", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   start_new_session=True)  # fmt: skip
    assert b"warm " in p.stderr.read1(4096)  # type: ignore[union-attr]
    p.send_signal(signal.SIGTSTP)
    out, _ = p.communicate(timeout=60)
    assert (p.returncode, out) == (0, b"done\n")


def test_a_killed_server_takes_its_workers(warm: Warm, busybox_rootfs: Path) -> None:
    """kill -9 of the server mid-command: its worker dies too (it does not go on with the
    client's fds after the client left), the client says so and exits 125, and the next call
    starts a new server."""
    warm.ready()
    [server] = warm.pids()
    name = f"warm-srv-{uuid.uuid4().hex[:8]}"
    p = warm.popen("run", "--rm", "--name", name, "--network", "none", str(busybox_rootfs),
                   "sleep", "30", stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    until(lambda: name in warm.run("ps", "--format", "{{.Names}}", debug=False).stdout)
    worker = int(re.search(rb"warm (\d+)", p.stderr.read1(4096)).group(1))  # type: ignore[union-attr]
    os.kill(server, signal.SIGKILL)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 125 and b"server went away" in err, err
    until(lambda: not os.path.exists(f"/proc/{worker}"))
    subprocess.run([sys.executable, "-m", "pycontainers", "rm", "-f", name], capture_output=True)
    assert how(warm.run("version").stderr) == "no server: starting one"
    warm.ready()


def test_concurrent_runs_one_server_and_idle_exit(warm: Warm, busybox_rootfs: Path) -> None:
    warm.ready()
    procs = [
        warm.popen("run", "--rm", "--network", "none", str(busybox_rootfs), "hostname",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(8)
    ]  # fmt: skip
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8
    workers = {re.search(rb"warm (\d+)", err).group(1) for _out, err in outs}  # type: ignore[union-attr]
    assert len(workers) == 8
    assert len(set(out for out, _err in outs)) == 8  # each its own container (hostname: id)
    # two servers cannot serve one socket: a second one exits at once
    (sock,) = warm.dir.glob("*.sock")
    env = dict(warm.env, PYCONTAINERS_WARM_SERVE=str(sock))
    second = subprocess.run([sys.executable, "-S", str(warm.script)], env=env, timeout=60)
    assert second.returncode == 0 and len(warm.pids()) == 1
    # idle: the server exits and removes its socket
    warm.stop()
    warm.env["PYCONTAINERS_WARM_IDLE"] = "1"
    warm.ready()
    (pid,) = warm.pids()
    until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=30)
    assert list(warm.dir.glob("*.sock")) == []


def test_run_t_under_a_pty(warm: Warm, busybox_rootfs: Path) -> None:
    warm.ready()
    outputs = []
    for hot in (True, False):
        master, slave = pty.openpty()
        env = dict(warm.env, **({} if hot else {"PYCONTAINERS_WARM": "0"}))
        p = subprocess.Popen([str(warm.script), "run", "--rm", "-t", "--network", "none", str(busybox_rootfs),
                              "sh", "-c", "tty >/dev/null && echo is-a-tty; stty size >/dev/null && echo sized"],
                             stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)  # fmt: skip
        os.close(slave)
        out = read_pty(master, p)
        p.wait(timeout=60)
        os.close(master)
        outputs.append((p.returncode, out))
    assert outputs[0] == outputs[1] and b"is-a-tty" in outputs[0][1]


def test_exec_it_under_a_pty(warm: Warm, busybox_rootfs: Path) -> None:
    """``exec -it`` warm and cold: the same output, the terminal's size reaches the exec'd
    process (the worker sizes the console from the client's terminal fd), warm when hot."""
    import fcntl
    import struct
    import termios

    warm.ready()
    name = f"warm-exec-{uuid.uuid4().hex[:8]}"
    r = warm.run("run", "-d", "--name", name, "--network", "none", str(busybox_rootfs),
                 "sleep", "60")  # fmt: skip
    assert r.returncode == 0, r.stderr
    outputs = []
    try:
        for hot in (True, False):
            master, slave = pty.openpty()
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
            env = dict(warm.env, PYCONTAINERS_LAUNCH_DEBUG="1",
                       **({} if hot else {"PYCONTAINERS_WARM": "0"}))  # fmt: skip
            p = subprocess.Popen([str(warm.script), "exec", "-it", name, "sh", "-c",
                                  "tty >/dev/null && echo is-a-tty; stty size"],
                                 stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env,
                                 start_new_session=True)  # fmt: skip
            os.close(slave)
            out = read_pty(master, p)
            _, err = p.communicate(timeout=60)
            os.close(master)
            assert (how(err.decode()) == "warm") == hot, err
            outputs.append((p.returncode, out))
    finally:
        warm.run("rm", "-f", name, debug=False)
    assert outputs[0] == outputs[1], outputs
    assert outputs[0][0] == 0 and b"is-a-tty" in outputs[0][1] and b"33 101" in outputs[0][1]


def test_another_user_cannot_use_roots_server(warm: Warm) -> None:
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="pc-warm-"))
    own = (warm.script, warm.dir, warm.env["PYCONTAINERS_WARM_DIR"])
    try:
        shared.chmod(0o755)
        script = shared / "pycontainers"
        script.write_text(warm.script.read_text())
        script.chmod(0o755)
        roots = shared / "root"
        roots.mkdir(mode=0o700)
        warm.script, warm.dir = script, roots
        warm.env["PYCONTAINERS_WARM_DIR"] = str(roots)
        warm.ready()
        user = ("setpriv", "--reuid=pycontainers", "--regid=pycontainers", "--clear-groups")
        r = warm.run("version", prefix=user, HOME="/nonexistent")
        assert how(r.stderr) == "socket directory not private", r.stderr
        assert r.returncode == 0 and "Version" in r.stdout
        warm.stop()
    finally:
        subprocess.run(["rm", "-rf", str(shared)], check=True)
        warm.script, warm.dir, warm.env["PYCONTAINERS_WARM_DIR"] = own


def test_kept_container_is_inspectable_right_after_its_run(
    warm: Warm, busybox_rootfs: Path
) -> None:
    warm.ready()
    for i in range(10):
        name = f"kept-{i}-{uuid.uuid4().hex[:6]}"
        r = warm.run(
            "run", "--name", name, "--network", "none", str(busybox_rootfs), "sh", "-c", "exit 5"
        )
        assert r.returncode == 5 and how(r.stderr) == "warm", r.stderr
        r = warm.run("inspect", name)
        assert r.returncode == 0, r.stderr
        assert warm.run("rm", name).returncode == 0


def test_the_preload_covers_runs_path(busybox_rootfs: Path) -> None:
    from test_cli_imports import lean, run_main

    status, out, modules = run_main(
        "run", "--rm", "--network", "none", str(busybox_rootfs), "echo", "hi"
    )
    assert (status, out) == (0, "hi\n")
    code = "from pycontainers.warmstart.preload import preload\nassert preload() == []\nprint(*sorted(sys.modules))"
    loaded = subprocess.run(lean(code), capture_output=True, text=True, check=True).stdout.split()
    own = [m for m in modules if m.split(".")[0] == "pycontainers"]
    missing = [m for m in own if m not in loaded]
    assert missing == [], missing
