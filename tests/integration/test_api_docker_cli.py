"""The docker CLI (DOCKER_HOST=unix://...) driving a ``pycontainers serve`` daemon: run,
ps, logs, exec, cp, stats, images, volumes, networks, inspect, rm, prune, events; version
negotiation and Docker-shaped errors.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import DOCKER, IMAGE, Daemon, docker, ensure_busybox_image, start_daemon

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Iterator[Daemon]:
    ensure_busybox_image(busybox_rootfs)
    yield from start_daemon(tmp_path_factory.mktemp("api"))


@pytest.fixture(autouse=True)
def clean(daemon: Daemon) -> Iterator[None]:
    yield
    from api_util import remove_everything

    remove_everything(daemon)


def raw(
    d: Daemon, method: str, path: str, body: bytes = b"", headers: str = ""
) -> tuple[int, bytes]:
    """One HTTP/1.0 request on the daemon's socket: (status, body)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(d.socket))
        s.sendall(
            f"{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"{headers}\r\n".encode()
            + body
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def test_run_rm_foreground_output_and_exit_code(daemon: Daemon) -> None:
    r = docker(
        daemon, "run", "--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 3", check=False
    )
    assert r.returncode == 3, r
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"
    assert docker(daemon, "ps", "-aq").stdout.strip() == ""  # --rm removed it


def test_run_d_publish_ps_inspect_logs_follow(daemon: Daemon) -> None:
    cid = docker(
        daemon,
        "run",
        "-d",
        "-p",
        "127.0.0.1::80",
        "--name",
        "web",
        "-e",
        "A=b",
        "-l",
        "k=v",
        IMAGE,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/",
    ).stdout.strip()
    ps = docker(daemon, "ps", "--format", "{{.ID}} {{.Names}} {{.Status}} {{.Ports}}").stdout
    assert cid[:12] in ps and "web" in ps and "Up" in ps and "->80/tcp" in ps
    doc = json.loads(docker(daemon, "inspect", "web").stdout)[0]
    assert doc["State"]["Running"] and doc["Config"]["Labels"] == {"k": "v"}
    assert "A=b" in doc["Config"]["Env"]
    port = int(doc["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # the published port
        s.sendall(b"GET /etc/hostname HTTP/1.0\r\n\r\n")
        assert b"200 OK" in s.recv(4096)
    assert docker(daemon, "port", "web", "80").stdout.strip().endswith(f":{port}")
    docker(
        daemon,
        "run",
        "-d",
        "--name",
        "talker",
        IMAGE,
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.2; done",
    )
    r = docker(daemon, "logs", "-f", "talker")
    assert r.stdout == "line1\nline2\nline3\n"
    assert docker(daemon, "logs", "--tail", "1", "talker").stdout == "line3\n"
    ts = docker(daemon, "logs", "-t", "talker").stdout.splitlines()[0]
    assert ts.endswith(" line1") and ts[:4].isdigit()


def test_exec_exit_codes_stdin_and_tty(daemon: Daemon) -> None:
    docker(daemon, "run", "-d", "--name", "box", IMAGE, "sleep", "300")
    assert docker(daemon, "exec", "box", "echo", "hi").stdout == "hi\n"
    assert docker(daemon, "exec", "box", "sh", "-c", "exit 5", check=False).returncode == 5
    assert docker(daemon, "exec", "-i", "box", "cat", input="piped\n").stdout == "piped\n"
    assert (
        docker(daemon, "exec", "-e", "X=1", "-w", "/tmp", "box", "sh", "-c", "echo $X $PWD").stdout
        == "1 /tmp\n"
    )
    # -it through a real pty: the command sees a terminal and its exit status comes back
    r = subprocess.run(
        ["script", "-qec", "docker exec -it box sh -c '[ -t 0 ] && echo TTY; exit 7'", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DOCKER_HOST": daemon.url},
    )
    assert "TTY" in r.stdout and r.returncode == 7, r
    missing = docker(daemon, "exec", "box", "/no/such", check=False)
    assert missing.returncode != 0


def in_a_pty(d: Daemon, argv: list[str], rows: int, cols: int) -> tuple[int, bytes]:
    """Run ``argv`` (the docker CLI) with a new pty of ``rows`` x ``cols`` as its stdio, as
    in a terminal: (exit status, what it wrote).
    """
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {**os.environ, "DOCKER_HOST": d.url}
    env.pop("DOCKER_CONTEXT", None)
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the CLI exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    return proc.wait(timeout=60), out


def test_exec_it_names_its_terminal_and_takes_its_size(daemon: Daemon) -> None:
    """``docker exec -it`` in a real pty of 37 rows, 101 columns: the command's terminal is
    a pty of the container's own devpts, so tty(1) names it, and it has the client's size; a
    resize reaches it.
    """
    assert DOCKER is not None
    docker(daemon, "run", "-d", "--name", "term", IMAGE, "sleep", "300")
    code, out = in_a_pty(daemon, [DOCKER, "exec", "-it", "term", "sh", "-c", "tty; stty size"],
                         37, 101)  # fmt: skip
    lines = out.decode(errors="replace").split()
    assert code == 0, out
    assert lines[0].startswith("/dev/pts/") and lines[1:] == ["37", "101"], out
    # POST /exec/{id}/resize while it runs (the docker CLI sends it on SIGWINCH)
    exec_id = json.loads(
        raw(daemon, "POST", "/containers/term/exec", json.dumps(
            {"Cmd": ["sh", "-c", "sleep 1; stty size"], "Tty": True, "AttachStdout": True}
        ).encode(), "Content-Type: application/json\r\n")[1]
    )["Id"]  # fmt: skip
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(daemon.socket))
        body = b'{"Detach": false, "Tty": true}'
        s.sendall(
            f"POST /exec/{exec_id}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        out = s.recv(4096)
        assert out.startswith(b"HTTP/1.1 101"), out
        status, _ = raw(daemon, "POST", f"/exec/{exec_id}/resize?h=12&w=34")
        assert status in (200, 201)
        while chunk := s.recv(4096):
            out += chunk
    assert out.rstrip().endswith(b"12 34"), out
    doc = json.loads(raw(daemon, "GET", f"/exec/{exec_id}/json")[1])
    assert doc["ExitCode"] == 0 and not doc["Running"]


def test_run_it_through_a_pty(daemon: Daemon) -> None:
    r = subprocess.run(
        [
            "script",
            "-qec",
            "docker run --rm -it busybox sh -c '[ -t 1 ] && echo TTY; exit 4'",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DOCKER_HOST": daemon.url},
    )
    assert "TTY" in r.stdout and r.returncode == 4, r


def test_cp_both_ways_stats_top(daemon: Daemon, tmp_path: Path) -> None:
    docker(daemon, "run", "-d", "--name", "files", IMAGE, "sleep", "300")
    src = tmp_path / "in.txt"
    src.write_text("payload\n")
    docker(daemon, "cp", str(src), "files:/tmp/")
    assert docker(daemon, "exec", "files", "cat", "/tmp/in.txt").stdout == "payload\n"
    docker(daemon, "cp", "files:/tmp/in.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "payload\n"
    tar = subprocess.run(
        ["docker", "cp", "files:/etc", "-"],
        capture_output=True,
        timeout=60,
        env={**os.environ, "DOCKER_HOST": daemon.url},
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        names = archive.getnames()
    assert "etc/passwd" in names
    assert docker(daemon, "cp", "files:/no/such", str(tmp_path), check=False).returncode != 0
    stats = docker(daemon, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "files")
    assert stats.stdout.strip() == "files 1"
    assert "sleep 300" in docker(daemon, "top", "files").stdout


def test_lifecycle_stop_start_restart_kill_pause_rename_rm(daemon: Daemon) -> None:
    docker(daemon, "run", "-d", "--name", "life", IMAGE, "sleep", "300")

    def status() -> str:
        return docker(daemon, "inspect", "-f", "{{.State.Status}}", "life").stdout.strip()

    docker(daemon, "pause", "life")
    assert status() == "paused"
    docker(daemon, "unpause", "life")
    docker(daemon, "stop", "-t", "1", "life")
    assert status() == "exited"
    docker(daemon, "start", "life")
    assert status() == "running"
    docker(daemon, "restart", "-t", "1", "life")
    assert status() == "running"
    docker(daemon, "rename", "life", "life2")
    assert docker(daemon, "ps", "--format", "{{.Names}}").stdout.strip() == "life2"
    assert docker(daemon, "rm", "life2", check=False).returncode != 0  # running: refused
    docker(daemon, "kill", "life2")
    assert docker(daemon, "wait", "life2").stdout.strip() == "137"
    docker(daemon, "run", "-d", "--name", "other", IMAGE, "sleep", "300")
    docker(daemon, "rm", "-f", "other")
    docker(daemon, "system", "prune", "-f")
    assert docker(daemon, "ps", "-aq").stdout.strip() == ""


def test_volumes_networks_and_names(daemon: Daemon) -> None:
    docker(daemon, "volume", "create", "data")
    docker(daemon, "run", "--rm", "-v", "data:/data", IMAGE, "sh", "-c", "echo kept > /data/f")
    assert (
        docker(daemon, "run", "--rm", "-v", "data:/data", IMAGE, "cat", "/data/f").stdout
        == "kept\n"
    )
    assert "data" in docker(daemon, "volume", "ls", "-q").stdout.split()
    assert json.loads(docker(daemon, "volume", "inspect", "data").stdout)[0]["Name"] == "data"
    docker(daemon, "network", "create", "appnet")
    docker(daemon, "run", "-d", "--name", "srv", "--network", "appnet", IMAGE, "sleep", "300")
    r = docker(
        daemon, "run", "--rm", "--network", "appnet", IMAGE, "ping", "-c", "1", "-W", "5", "srv"
    )
    assert "1 packets received" in r.stdout
    r = docker(daemon, "network", "connect", "appnet", "srv", check=False)
    assert r.returncode != 0 and "already connected" in r.stderr  # as Docker: 403
    docker(daemon, "run", "-d", "--name", "lone", IMAGE, "sleep", "300")
    docker(daemon, "network", "connect", "appnet", "lone")  # a running one: a second network
    nets = json.loads(docker(daemon, "network", "inspect", "appnet").stdout)[0]
    assert any(c["Name"] == "srv" for c in nets["Containers"].values())
    assert any(c["Name"] == "lone" for c in nets["Containers"].values())
    assert docker(daemon, "network", "rm", "appnet", check=False).returncode != 0  # in use
    docker(daemon, "rm", "-f", "srv", "lone")
    docker(daemon, "network", "rm", "appnet")
    docker(daemon, "volume", "rm", "data")


def test_network_disconnect_connect_a_created_container(daemon: Daemon) -> None:
    """As docker-compose v1 does: a created container leaves its network and joins another
    with an alias before it starts; it runs there, reachable by that alias."""
    docker(daemon, "network", "create", "movenet")
    try:
        docker(daemon, "create", "--name", "mover", IMAGE, "sleep", "300")
        docker(daemon, "network", "disconnect", "bridge", "mover")
        nets = docker(daemon, "inspect", "-f", "{{json .NetworkSettings.Networks}}", "mover")
        assert json.loads(nets.stdout) == {}
        docker(daemon, "network", "connect", "--alias", "moved-here", "movenet", "mover")
        docker(daemon, "start", "mover")
        nets = docker(daemon, "inspect", "-f", "{{json .NetworkSettings.Networks}}", "mover")
        assert list(json.loads(nets.stdout)) == ["movenet"]
        r = docker(daemon, "run", "--rm", "--network", "movenet", IMAGE,
                   "ping", "-c", "1", "-W", "5", "moved-here")  # fmt: skip
        assert "1 packets received" in r.stdout
        r = docker(daemon, "network", "disconnect", "movenet", "mover", check=False)
        assert r.returncode != 0  # running: it keeps the network it started on
    finally:
        docker(daemon, "rm", "-f", "mover", check=False)
        docker(daemon, "network", "rm", "movenet")


def test_images_inspect_tag_rmi_save_load(daemon: Daemon, tmp_path: Path) -> None:
    assert "busybox" in docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    doc = json.loads(docker(daemon, "image", "inspect", IMAGE).stdout)[0]
    assert doc["Id"].startswith("sha256:") and "busybox:latest" in doc["RepoTags"]
    docker(daemon, "tag", IMAGE, "mine/box:v1")
    docker(daemon, "save", "-o", str(tmp_path / "img.tar"), "mine/box:v1")
    docker(daemon, "rmi", "mine/box:v1")
    assert "mine/box" not in docker(daemon, "images").stdout
    docker(daemon, "load", "-i", str(tmp_path / "img.tar"))
    assert "mine/box" in docker(daemon, "images").stdout
    docker(daemon, "rmi", "mine/box:v1")
    r = docker(daemon, "run", "--rm", "--pull", "never", "no/such:img", check=False)
    assert r.returncode != 0 and "No such image" in r.stderr
    r = docker(daemon, "search", "busybox", check=False)
    assert r.returncode != 0 and "not available" in r.stderr
    r = docker(daemon, "build", "-q", str(tmp_path), check=False)
    assert r.returncode != 0


def test_ping_version_negotiation_and_errors(daemon: Daemon) -> None:
    status, body = raw(daemon, "GET", "/_ping")
    assert (status, body) == (200, b"OK")
    status, _ = raw(daemon, "HEAD", "/_ping")
    assert status == 200
    status, body = raw(daemon, "GET", "/v1.43/version")
    assert status == 200 and json.loads(body)["ApiVersion"] == "1.45"
    status, body = raw(daemon, "GET", "/v1.99/version")
    assert status == 400 and "too new" in json.loads(body)["message"]
    status, body = raw(daemon, "GET", "/v1.45/no/such/endpoint")
    assert status == 404 and "message" in json.loads(body)
    status, body = raw(daemon, "POST", "/v1.45/containers/create", b"{not json")
    assert status == 400 and "invalid JSON" in json.loads(body)["message"]
    status, body = raw(daemon, "POST", "/v1.45/containers/create", b'{"Image": 5}')
    assert status == 400 and "Image" in json.loads(body)["message"]
    bad = json.dumps({"Image": IMAGE, "HostConfig": {"Memory": "lots"}}).encode()
    status, body = raw(daemon, "POST", "/v1.45/containers/create", bad)
    assert status == 400 and "Memory" in json.loads(body)["message"]
    bad = json.dumps({"Image": IMAGE, "Cmd": "true", "Env": "A=b"}).encode()
    status, body = raw(daemon, "POST", "/v1.45/containers/create", bad)
    assert status == 400 and "Env" in json.loads(body)["message"]
    status, body = raw(daemon, "GET", "/v1.45/containers/nosuch/json")
    assert status == 404 and json.loads(body)["message"] == "No such container: nosuch"
    status, body = raw(
        daemon, "GET", "/v1.45/containers/json?filters=" + urllib.parse.quote("{bad")
    )
    assert status == 400
    info = json.loads(docker(daemon, "info", "--format", "{{json .}}").stdout)
    assert info["OSType"] == "linux" and info["ServerVersion"]
    assert daemon.alive()


def test_events_stream_container_lifecycle(daemon: Daemon) -> None:
    since = str(int(time.time()) - 1)
    docker(daemon, "run", "--rm", "--name", "evt", IMAGE, "true")
    r = docker(
        daemon,
        "events",
        "--since",
        since,
        "--until",
        str(int(time.time()) + 1),
        "--filter",
        "container=evt",
        "--format",
        "{{.Action}}",
    )
    actions = r.stdout.split()
    assert actions[:2] == ["create", "attach"] or actions[0] == "create", actions
    assert "start" in actions and "destroy" in actions


def test_docker_run_device(daemon: Daemon) -> None:
    """HostConfig.Devices: the docker CLI's --device reaches the container's /dev and cgroup."""
    probe = ("echo hi > /dev/mynull && echo wrote-null; "
             "(echo x > /dev/z) 2>/dev/null && echo wrote-zero || echo zero-denied")  # fmt: skip
    r = docker(daemon, "run", "--rm", "--device", "/dev/null:/dev/mynull",
               "--device", "/dev/zero:/dev/z:r", IMAGE, "sh", "-c", probe)  # fmt: skip
    assert r.stdout.split() == ["wrote-null", "zero-denied"], r  # the v1 devices controller
    r = docker(daemon, "run", "--rm", "--device", "/dev/nope", IMAGE, "true", check=False)
    assert r.returncode != 0 and "no device /dev/nope" in r.stderr, r


def test_system_df_counts_an_image_a_container_and_a_volume(daemon: Daemon) -> None:
    """``GET /system/df`` through the docker CLI (``system df``) and docker-py
    (``client.df()``): the image, the running container and the used volume are counted.
    """
    docker_py = pytest.importorskip("docker")

    docker(daemon, "volume", "create", "dfvol")
    cid = docker(
        daemon, "run", "-d", "--name", "dfbox", "-v", "dfvol:/data", IMAGE, "sh", "-c",
        "head -c 1048576 /dev/zero > /data/blob && exec sleep 300",
    ).stdout.strip()  # fmt: skip
    deadline = time.monotonic() + 30
    while docker(daemon, "exec", "dfbox", "ls", "/data", check=False).stdout != "blob\n":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    rows = {}
    for line in docker(
        daemon, "system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}"
    ).stdout.splitlines():
        kind, total, active = line.split("|")
        rows[kind] = (int(total), int(active))
    assert rows["Images"][0] >= 1 and rows["Images"][1] >= 1, rows
    assert rows["Containers"] == (1, 1), rows
    assert rows["Local Volumes"] == (1, 1), rows
    client = docker_py.DockerClient(base_url=daemon.url)
    try:
        df = client.df()
        image_id = client.images.get(IMAGE).id
    finally:
        client.close()
    assert image_id in {i["Id"] for i in df["Images"]}
    assert [c["Id"] for c in df["Containers"]] == [cid]
    assert df["Containers"][0]["State"] == "running"
    (vol,) = [v for v in df["Volumes"] if v["Name"] == "dfvol"]
    assert vol["UsageData"]["RefCount"] == 1
    assert vol["UsageData"]["Size"] >= 1048576
    assert df["LayersSize"] > 0


ENTRY_PROBE = (
    "grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "
    "/proc/self/status; cat /proc/self/uid_map /proc/self/cgroup; "
    "for n in cgroup ipc mnt net pid user uts; do readlink /proc/self/ns/$n; done"
)


def test_exec_with_and_without_a_tty_is_confined_as_the_first_process(daemon: Daemon) -> None:
    """``docker exec`` (pipes) and ``docker exec -t`` (a pty made in the container through
    the console socket) enter through the library's one entry path: their
    /proc/self/status, cgroups and namespaces are the container's first process's."""
    cid = docker(
        daemon, "run", "-d", IMAGE, "sh", "-c", f"{ENTRY_PROBE}; echo done; exec sleep 300"
    ).stdout.strip()
    deadline = time.monotonic() + 30
    while "done" not in docker(daemon, "logs", cid).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    first = docker(daemon, "logs", cid).stdout.replace("done\n", "")
    assert "Seccomp:\t2" in first and "NoNewPrivs:\t1" in first, first
    piped = docker(daemon, "exec", cid, "sh", "-c", ENTRY_PROBE).stdout
    tty = docker(daemon, "exec", "-t", cid, "sh", "-c", ENTRY_PROBE).stdout
    assert piped == first
    assert tty.replace("\r\n", "\n") == first
