"""Our CLI as a client of a ``pycontainers serve`` daemon (issue 18's client side): with
``--host unix://…``, ``$PYCONTAINERS_HOST`` and ``$DOCKER_HOST``, over TLS TCP and over
ssh (a real sshd on localhost). The daemons have state and data roots of their own, so a
command that acted on this machine through the library would be seen: the CLI's own roots
(the session's) stay empty and the effects are read through the daemon (docker CLI) and
its state root.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_util import IMAGE, docker, free_port, remove_everything
from remote_util import RootedDaemon, cli, local_containers, rooted_daemon

pytestmark = [pytest.mark.root, pytest.mark.network]

NONE = ("--network", "none")  # the daemons have their own state roots: no shared bridge


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path
) -> Iterator[RootedDaemon]:
    yield from rooted_daemon(tmp_path_factory.mktemp("remote"), "d", busybox_rootfs)


@pytest.fixture(autouse=True)
def clean(daemon: RootedDaemon) -> Iterator[None]:
    yield
    remove_everything(daemon)
    assert local_containers() == []  # nothing was made through the library here


def ok(r: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert r.returncode == code, (r.args, r.returncode, r.stdout, r.stderr)
    return r.stdout


def test_run_attached_output_exit_code_and_rm_through_host_flag(daemon: RootedDaemon) -> None:
    r = cli("run", "--rm", *NONE, IMAGE, "sh", "-c", "echo out; echo err >&2; exit 3",
            host=daemon.url)  # fmt: skip
    assert r.returncode == 3, r
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"
    assert docker(daemon, "ps", "-aq").stdout.strip() == ""  # --rm removed it on the daemon
    assert daemon.containers() == []


def test_docker_host_lifecycle_logs_exec_inspect(daemon: RootedDaemon) -> None:
    env = {"DOCKER_HOST": daemon.url}
    cid = ok(cli("run", "-d", *NONE, "--name", "web", "-e", "A=b", "-l", "k=v", IMAGE,
                 "sh", "-c", "echo hello; echo oops >&2; sleep 300", env=env)).strip()  # fmt: skip
    assert len(cid) == 64
    assert daemon.containers() == [cid]  # in the daemon's state root, nowhere else
    assert local_containers() == []
    assert docker(daemon, "inspect", "-f", "{{.State.Status}} {{.Config.Labels.k}}", "web"
                  ).stdout.split() == ["running", "v"]  # fmt: skip
    assert cid[:12] in ok(cli("ps", env=env))
    assert ok(cli("ps", "-q", "--filter", "label=k=v", env=env)).split() == [cid[:12]]
    deadline = time.monotonic() + 30
    while "hello" not in (logs := cli("logs", "web", env=env)).stdout:
        assert time.monotonic() < deadline, logs
        time.sleep(0.1)
    assert (logs.stdout, logs.stderr) == ("hello\n", "oops\n")
    r = cli("exec", "-e", "C=d", "web", "sh", "-c", 'echo "$A$C"; exit 4', env=env)
    assert (r.returncode, r.stdout) == (4, "bd\n"), r
    assert ok(cli("exec", "-i", "web", "cat", env=env, input="piped\n")) == "piped\n"
    assert ok(cli("inspect", "-f", "{{.Id}}", "web", env=env)).strip() == cid
    assert ok(cli("stop", "-t", "1", "web", env=env)).strip() == "web"
    assert docker(daemon, "inspect", "-f", "{{.State.Status}}", "web").stdout.strip() == "exited"
    ok(cli("start", "web", env=env))
    ok(cli("restart", "-t", "1", "web", env=env))
    ok(cli("kill", "web", env=env))  # SIGKILL (a shell as PID 1 ignores SIGTERM)
    assert ok(cli("wait", "web", env=env, timeout=60)).strip() == "137"
    ok(cli("rm", "web", env=env))
    assert docker(daemon, "ps", "-aq").stdout.strip() == ""
    r = cli("logs", "web", env=env)
    assert r.returncode == 125 and "web" in r.stderr, r


def test_logs_follow_ends_with_the_container(daemon: RootedDaemon) -> None:
    ok(cli("run", "-d", *NONE, "--name", "f", IMAGE, "sh", "-c",
           "for i in 1 2 3; do echo line$i; sleep 0.3; done", host=daemon.url))  # fmt: skip
    r = cli("logs", "-f", "f", host=daemon.url, timeout=60)
    assert ok(r).split() == ["line1", "line2", "line3"]


def test_create_then_start_attached(daemon: RootedDaemon) -> None:
    ok(cli("create", *NONE, "--name", "s1", IMAGE, "sh", "-c", "echo started; exit 4",
           host=daemon.url))  # fmt: skip
    assert docker(daemon, "inspect", "-f", "{{.State.Status}}", "s1").stdout.strip() == "created"
    r = cli("start", "-a", "s1", host=daemon.url)
    assert (r.returncode, r.stdout) == (4, "started\n"), r
    r = cli("attach", "s1", host=daemon.url)
    assert r.returncode == 125 and "cannot attach to container s1: it is exited" in r.stderr, r


def test_wait_for_a_container_that_already_exited(daemon: RootedDaemon) -> None:
    ok(cli("run", "-d", *NONE, "--name", "w", IMAGE, "sh", "-c", "exit 7", host=daemon.url))
    deadline = time.monotonic() + 30
    while docker(daemon, "inspect", "-f", "{{.State.Status}}", "w").stdout.strip() != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ok(cli("wait", "w", host=daemon.url)).strip() == "7"


def test_pycontainers_host_comes_before_docker_host(daemon: RootedDaemon) -> None:
    env = {"PYCONTAINERS_HOST": daemon.url, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    assert "busybox" in ok(cli("images", env=env))
    r = cli("images", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert r.returncode == 125
    assert "cannot connect to the daemon at unix:///nonexistent/docker.sock" in r.stderr


def _in_pty(argv: list[str], typed: bytes) -> tuple[int, bytes]:
    """Run our CLI on a new terminal; type ``typed`` after the shell's prompt; the exit
    status and everything the terminal showed.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "PYCONTAINERS_HOST")}
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.execve(sys.executable, [sys.executable, "-m", "pycontainers", *argv], env)
    out = b""
    try:
        deadline = time.monotonic() + 60
        while b"# " not in out and time.monotonic() < deadline:  # the shell's prompt
            if select.select([fd], [], [], 0.5)[0]:
                out += os.read(fd, 4096)
        os.write(fd, typed)
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def test_run_it_and_exec_it_through_a_pty(daemon: RootedDaemon) -> None:
    """``run -it`` over the hijacked attach and ``exec -it`` over the hijacked exec start:
    a terminal inside, what is typed reaches the shell, its exit status comes back.
    """
    code, out = _in_pty(["-H", daemon.url, "run", "--rm", "-it", *NONE, IMAGE, "sh"],
                        b"tty; echo $((6*7)); exit 5\n")  # fmt: skip
    assert code == 5, out
    assert b"/dev/pts/" in out and b"42\r\n" in out, out
    ok(cli("run", "-d", *NONE, "--name", "t", IMAGE, "sleep", "300", host=daemon.url))
    code, out = _in_pty(["-H", daemon.url, "exec", "-it", "t", "sh"],
                        b"tty; echo $((7*8)); exit 6\n")  # fmt: skip
    assert code == 6, out
    assert b"56\r\n" in out, out  # (the daemon's exec -t answers `tty` "not a tty": noted)


def test_objects_images_volumes_networks_system(daemon: RootedDaemon) -> None:
    h = daemon.url
    ok(cli("tag", IMAGE, "mine:1", host=h))
    assert "mine:1" in docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert "mine" in ok(cli("images", host=h))
    assert ok(cli("image", "inspect", "mine:1", host=h)).count('"Id"') == 1
    ok(cli("rmi", "mine:1", host=h))
    assert "mine:1" not in docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert ok(cli("volume", "create", "vol1", host=h)).strip() == "vol1"
    assert "vol1" in docker(daemon, "volume", "ls", "-q").stdout.split()
    assert ok(cli("volume", "ls", "-q", host=h)).split() == ["vol1"]
    ok(cli("volume", "rm", "vol1", host=h))
    assert docker(daemon, "volume", "ls", "-q").stdout.strip() == ""
    assert ok(cli("network", "create", "--subnet", "10.93.7.0/24", "n1", host=h)).strip()
    assert "n1" in docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "n1" in ok(cli("network", "ls", "-q", host=h)).split()
    ok(cli("network", "rm", "n1", host=h))
    assert "n1" not in docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"Host: {h}" in ok(cli("version", host=h))
    assert ok(cli("info", "-f", "{{.Containers}}", host=h)).strip() == "0"
    ok(cli("create", *NONE, "--name", "idle", IMAGE, "true", host=h))
    assert "Deleted Containers:" in ok(cli("system", "prune", "-f", host=h))
    assert docker(daemon, "ps", "-aq").stdout.strip() == ""


def test_build_through_the_daemon(daemon: RootedDaemon, tmp_path: Path) -> None:
    """``build`` sends the context as a tar to Docker's ``/build``. A daemon without a
    builder answers 501: the CLI then says so and fails, building nothing here.
    """
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo built > /built\n")
    r = cli("build", "-t", "built:1", str(tmp_path), host=daemon.url, timeout=300)
    from pycontainers.errors import ImageNotFound
    from pycontainers.images import default_store

    with pytest.raises(ImageNotFound):
        default_store().get("built:1")  # never built in the CLI's own store
    from pycontainers.client import Client
    from pycontainers.errors import ApiError

    with Client(daemon.url) as client:
        try:
            client.request("POST", "/build", content=b"")  # an empty context
            status = 200
        except ApiError as exc:
            status = exc.status
    if status == 501:
        assert r.returncode == 125 and "build" in r.stderr, r
        return
    ok(r)
    out = docker(daemon, "run", "--rm", "--network", "none", "built:1", "cat", "/built").stdout
    assert out == "built\n"
    docker(daemon, "rmi", "built:1")


def test_push_and_pull_through_the_daemon(
    tmp_path: Path, busybox_rootfs: Path, registry: Any, registry_netns: Any
) -> None:
    """The daemon (in the registry's network namespace) pushes and pulls; the CLI only
    talks to its socket, and its own store never gets the image.
    """
    with registry_netns.enter():
        gen = rooted_daemon(tmp_path, "reg", busybox_rootfs)
        d = next(gen)
    try:
        ref = f"{registry.host}/client/bb:1"

        def tags() -> list[str]:
            return docker(d, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()

        ok(cli("tag", IMAGE, ref, host=d.url))
        assert ref in tags()
        ok(cli("push", ref, host=d.url))
        ok(cli("rmi", ref, host=d.url))
        assert ref not in tags()
        assert ok(cli("pull", "-q", ref, host=d.url)).strip() == ref
        assert ref in tags()
        assert ok(cli("run", "--rm", *NONE, ref, "echo", "pulled", host=d.url)) == "pulled\n"
        from pycontainers.errors import ImageNotFound
        from pycontainers.images import default_store

        with pytest.raises(ImageNotFound):
            default_store().get(ref)
        r = cli("pull", f"{registry.host}/client/missing:1", host=d.url)
        assert r.returncode == 125 and "missing" in r.stderr, r
    finally:
        next(gen, None)


def test_one_cli_two_daemons(tmp_path: Path, busybox_rootfs: Path) -> None:
    gen1 = rooted_daemon(tmp_path, "one", busybox_rootfs)
    gen2 = rooted_daemon(tmp_path, "two", busybox_rootfs)
    one, two = next(gen1), next(gen2)
    try:
        # (names that are no id prefix: "a" may be one of the other daemon's container)
        a = ok(cli("run", "-d", *NONE, "--name", "one-x", IMAGE, "sleep", "300", host=one.url))
        b = ok(cli("run", "-d", *NONE, "--name", "two-x", IMAGE, "sleep", "300", host=two.url))
        assert one.containers() == [a.strip()] and two.containers() == [b.strip()]
        assert ok(cli("ps", "--format", "{{.Names}}", host=one.url)).split() == ["one-x"]
        assert ok(cli("ps", "--format", "{{.Names}}", host=two.url)).split() == ["two-x"]
        r = cli("stop", "one-x", host=two.url)  # it lives on the other daemon
        assert r.returncode == 125 and "one-x" in r.stderr, r
        ok(cli("stop", "one-x", host=one.url))  # its own stop timeout (no -t)
        ok(cli("restart", "two-x", host=two.url))
        ok(cli("rm", "-f", "one-x", host=one.url))
        ok(cli("rm", "-f", "two-x", host=two.url))
        assert one.containers() == [] and two.containers() == []
    finally:
        for gen in (gen1, gen2):
            next(gen, None)


def test_errors_daemon_down_unknown_scheme_unsupported(
    daemon: RootedDaemon, tmp_path: Path
) -> None:
    r = cli("ps", host=f"unix://{tmp_path}/none.sock")
    assert r.returncode == 125
    assert r.stderr.startswith(f"pycontainers: cannot connect to the daemon at unix://{tmp_path}")
    r = cli("ps", host=f"tcp://127.0.0.1:{free_port()}")
    assert r.returncode == 125 and "cannot connect to the daemon" in r.stderr, r
    r = cli("ps", host="ftp://example")
    assert r.returncode == 125 and "unsupported scheme" in r.stderr, r
    for argv in (("cp", "x:/a", "/tmp/a"), ("run", "--gpus", "all", IMAGE),
                 ("login", "-u", "x", "example.org")):  # fmt: skip
        r = cli(*argv, host=daemon.url)
        assert r.returncode == 125 and "not supported with a remote daemon" in r.stderr, r
    assert daemon.containers() == []


def test_dial_stdio_proxies_to_the_daemon(daemon: RootedDaemon) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env["PYCONTAINERS_HOST"] = daemon.url
    proc = subprocess.Popen([sys.executable, "-m", "pycontainers", "system", "dial-stdio"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
    proc.stdin.flush()
    answer = proc.stdout.read()  # an HTTP/1.0 answer ends the connection, and dial-stdio
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert answer.startswith(b"HTTP/1.") and answer.endswith(b"\r\n\r\nOK"), answer


# -- TLS -------------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _certs(tmp: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate it signed."""
    p = {n: str(tmp / f"{n}.pem") for n in ("ca", "cakey", "cert", "key", "ccert", "ckey")}
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
             "-keyout", p["cakey"], "-out", p["ca"])  # fmt: skip
    ext = tmp / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for cert, key, extra in (("cert", "key", ["-extfile", str(ext)]), ("ccert", "ckey", [])):
        csr = str(tmp / f"{cert}.csr")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cert}",
                 "-keyout", p[key], "-out", csr)  # fmt: skip
        _openssl("x509", "-req", "-in", csr, "-CA", p["ca"], "-CAkey", p["cakey"],
                 "-CAcreateserial", "-days", "1", "-out", p[cert], *extra)  # fmt: skip
    return p


def test_tls_tcp_with_docker_flags_and_env(tmp_path: Path, busybox_rootfs: Path) -> None:
    p = _certs(tmp_path)
    url = f"tcp://127.0.0.1:{free_port()}"
    d = RootedDaemon(tmp_path, "tls", busybox_rootfs, extra=("-H", url, "--tlsverify",
                     "--tlscacert", p["ca"], "--tlscert", p["cert"], "--tlskey", p["key"]))  # fmt: skip
    try:
        flags = ("--tlsverify", "--tlscacert", p["ca"], "--tlscert", p["ccert"],
                 "--tlskey", p["ckey"], "--host", url)  # fmt: skip
        out = ok(cli(*flags, "run", "--rm", *NONE, IMAGE, "echo", "over tls"))
        assert out == "over tls\n"
        certs = tmp_path / "certs"
        certs.mkdir()
        for src, dst in (("ca", "ca.pem"), ("ccert", "cert.pem"), ("ckey", "key.pem")):
            shutil.copy(p[src], certs / dst)
        env = {"DOCKER_HOST": url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
        assert "busybox" in ok(cli("images", env=env))
        r = cli("--tlsverify", "--tlscacert", p["ca"], "--host", url, "images")  # no cert
        assert r.returncode == 125 and "cannot connect to the daemon" in r.stderr, r
        r = cli("--host", url, "images")  # plain HTTP to a TLS port
        assert r.returncode == 125, r
        assert d.alive()
    finally:
        d.stop()


# -- ssh -------------------------------------------------------------------------------


@pytest.fixture
def sshd(tmp_path: Path, daemon: RootedDaemon) -> Iterator[tuple[str, dict[str, str]]]:
    """An sshd on a free localhost port, key auth only, whose forced command stands in for
    the remote machine's ``pycontainers`` on PATH: it checks that the client asked for
    exactly ``pycontainers system dial-stdio`` and runs it (this checkout) against the
    daemon. Yields the ssh:// URL and the client's environment.
    """
    sshd_bin = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd_bin):
        pytest.fail("openssh-server is required (apt-get install openssh-server)")
    d = tmp_path / "ssh"
    d.mkdir(mode=0o700)
    for key in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)],
                       check=True)  # fmt: skip
    checkout = Path(__file__).resolve().parents[2]
    remote = d / "remote.sh"
    remote.write_text(
        "#!/bin/sh\n"
        '[ "$SSH_ORIGINAL_COMMAND" = "pycontainers system dial-stdio" ] || '
        '{ echo "unexpected command: $SSH_ORIGINAL_COMMAND" >&2; exit 97; }\n'
        f"exec env PYTHONPATH={checkout} PYCONTAINERS_HOST={daemon.url} "
        f"{sys.executable} -m pycontainers system dial-stdio\n"
    )
    remote.chmod(0o755)
    pub = (d / "user_key.pub").read_text().strip()
    (d / "authorized_keys").write_text(
        f'command="{remote}",no-pty,no-port-forwarding,no-agent-forwarding {pub}\n'
    )
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nStrictModes no\n"
        "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    log = open(d / "sshd.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while b"Server listening" not in (d / "sshd.log").read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, (d / "sshd.log").read_text()
            time.sleep(0.05)
        ssh = (f"ssh -F /dev/null -i {d}/user_key -o StrictHostKeyChecking=no "
               "-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR")  # fmt: skip
        yield f"ssh://root@127.0.0.1:{port}", {"PYCONTAINERS_SSH_COMMAND": ssh}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def test_ssh_transport(daemon: RootedDaemon, sshd: tuple[str, dict[str, str]]) -> None:
    url, env = sshd
    r = cli("run", "--rm", *NONE, IMAGE, "sh", "-c", "echo via ssh; exit 2", host=url, env=env)
    assert (r.returncode, r.stdout) == (2, "via ssh\n"), r
    cid = ok(cli("run", "-d", *NONE, "--name", "s", IMAGE, "sleep", "300", host=url, env=env))
    assert daemon.containers() == [cid.strip()]
    assert ok(cli("exec", "-i", "s", "cat", host=url, env=env, input="in\n")) == "in\n"
    assert ok(cli("ps", "--format", "{{.Names}}", host=url, env=env)).split() == ["s"]
    ok(cli("rm", "-f", "s", host=url, env=env))
    assert docker(daemon, "ps", "-aq").stdout.strip() == ""
    r = cli("ps", host="ssh://root@127.0.0.1:1", env=env)  # nothing listens there
    assert r.returncode == 125 and "cannot" in r.stderr, r


@pytest.mark.skipif(
    not {"memory", "cpu"}
    <= __import__("pycontainers.cgroups").cgroups.detect_layout().v1_controllers,
    reason="memory and cpu are not v1 (swappiness, real-time time)",
)
def test_resource_flags_and_update_through_the_daemon(daemon: RootedDaemon) -> None:
    """The rarer run flags reach the daemon as HostConfig keys and its cgroups as limits
    (read inside the container); ``update --host`` stores on top of them (inspect through
    the daemon); what the daemon's host cannot honour is refused naming the key."""
    MiB = 1 << 20
    cid = ok(cli("run", "-d", *NONE, "-m", "64m", "--memory-swappiness", "20",
                 "--oom-kill-disable", "--memory-reservation", "16m", "--cpu-quota", "50000",
                 "--cpu-period", "200000", "--cpu-rt-period", "500000", IMAGE, "sleep", "300",
                 host=daemon.url)).strip()  # fmt: skip
    files = ("memory/memory.swappiness", "memory/memory.oom_control",
             "memory/memory.soft_limit_in_bytes", "cpu/cpu.cfs_quota_us",
             "cpu/cpu.cfs_period_us", "cpu/cpu.rt_period_us")  # fmt: skip
    out = ok(cli("exec", cid, "sh", "-c", "; ".join(f"head -1 /sys/fs/cgroup/{f}" for f in files),
                 host=daemon.url)).splitlines()  # fmt: skip
    assert out == ["20", "oom_kill_disable 1", str(16 * MiB), "50000", "200000", "500000"]

    def limits() -> dict[str, Any]:
        import json

        doc = json.loads(ok(cli("inspect", cid, host=daemon.url)))[0]["HostConfig"]
        return {k: doc[k] for k in ("Memory", "MemorySwap", "MemorySwappiness", "OomKillDisable",
                                    "CpuQuota", "CpuPeriod", "CpuRealtimePeriod", "PidsLimit")}  # fmt: skip

    assert limits() == {"Memory": 64 * MiB, "MemorySwap": 0, "MemorySwappiness": 20,
                        "OomKillDisable": True, "CpuQuota": 50000, "CpuPeriod": 200000,
                        "CpuRealtimePeriod": 500000, "PidsLimit": 0}  # fmt: skip
    assert ok(cli("update", "--memory-swap", "128m", "--pids-limit", "30", cid,
                  host=daemon.url)).strip() == cid  # fmt: skip
    ok(cli("update", "--cpu-quota", "100000", cid, host=daemon.url))
    now = limits()
    assert (now["Memory"], now["MemorySwap"], now["PidsLimit"], now["CpuQuota"]) == (
        64 * MiB, 128 * MiB, 30, 100000)  # fmt: skip
    r = cli("update", "--memory", "256m", cid, host=daemon.url)
    assert r.returncode == 125 and "Memory: conflicts with the stored memory_swap" in r.stderr, r
    assert limits() == now
    r = cli("run", "-d", *NONE, "--blkio-weight-device", "/dev/vda:100", IMAGE, "true",
            host=daemon.url)  # fmt: skip
    assert r.returncode == 125 and "HostConfig.BlkioWeightDevice" in r.stderr, r
    r = cli("run", "-d", *NONE, "--blkio-weight-device", "vda", IMAGE, "true", host=daemon.url)
    assert r.returncode == 125 and "--blkio-weight-device 'vda'" in r.stderr, r
    assert daemon.containers() == [cid]
