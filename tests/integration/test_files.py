"""cp in and out of containers (symlink attacks included), top, diff and export."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.errors import ContainerError
from pycontainers.images import default_store
from pycontainers.runtime import files

pytestmark = pytest.mark.root

PLANT = (
    "ln -s / /evil; ln -s ../../../.. /etc/x; echo container-secret > /etc/shadow; "
    "echo new > /new; rm /bin/ls; mkdir /d; echo in-d > /d/f; "
)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> str:
    default_store().import_rootfs(busybox_rootfs, "localhost/files:test")
    return "localhost/files:test"


@pytest.fixture
def running(image: str) -> Iterator[pc.Container]:
    with pc.Container.create(image, ["sh", "-c", PLANT + "touch /ready; exec sleep 60"]) as c:
        c.start()
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/proc/{c.pid}/root/ready"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield c


def untar(chunks: Iterator[bytes] | bytes) -> tarfile.TarFile:
    data = chunks if isinstance(chunks, bytes) else b"".join(chunks)
    return tarfile.open(fileobj=io.BytesIO(data))


def make_tar(*members: tuple[str, bytes | str]) -> bytes:
    """Members: (name, data) for files, (name, "->target") for symlinks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content[2:]
                t.addfile(info)
            else:
                info.size = len(content)
                t.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_copy_from_never_reads_the_hosts_files(running: pc.Container) -> None:
    host = Path("/etc/shadow").read_bytes() if os.path.exists("/etc/shadow") else b""
    for path in ("/evil/etc/shadow", "/etc/x/etc/shadow", "/etc/x/../../etc/shadow"):
        t = untar(files.copy_from(running, path))
        assert t.getnames() == ["shadow"]
        got = t.extractfile("shadow").read()  # type: ignore[union-attr]
        assert got == b"container-secret\n" and got != host
    t = untar(files.copy_from(running, "/evil"))  # the link itself, not what it points to
    assert t.getmembers()[0].issym() and t.getmembers()[0].linkname == "/"
    t = untar(files.copy_from(running, "/evil/", follow_link=True))
    assert {"evil/etc/shadow", "evil/new"} <= set(t.getnames())  # the container's /
    t = untar(files.copy_from(running, "/d"))
    assert t.getnames() == ["d", "d/f"] and t.extractfile("d/f").read() == b"in-d\n"  # type: ignore[union-attr]
    with pytest.raises(ContainerError, match="no such file"):
        files.copy_from(running, "/evil/nonexistent")


def test_copy_to_writes_inside_the_container_only(running: pc.Container) -> None:
    marker = f"pwned-{os.getpid()}"
    assert files.copy_to(running, "/evil", make_tar((marker, b"abc"))) == 1
    assert not os.path.exists(f"/{marker}")
    assert running.exec(["cat", f"/{marker}"], capture_output=True).stdout == b"abc"
    files.copy_to(running, "/etc/x/tmp", io.BytesIO(make_tar(("t1", b"1"))))  # a file object
    assert not os.path.exists("/tmp/t1")
    assert running.exec(["cat", "/tmp/t1"], capture_output=True).stdout == b"1"
    bad = [
        make_tar(("../escape", b"x")),
        make_tar(("/abs-" + marker, b"x")),
        make_tar(("lnk", "->/"), ("lnk/" + marker, b"x")),  # a link of the tar, then through it
        make_tar(("evil/" + marker + "-2", b"x")),  # through the container's own /evil -> /
        make_tar((".wh.new", b"")),
    ]
    for data in bad:
        with pytest.raises(ContainerError):
            files.copy_to(running, "/", data)
    for p in ("/escape", f"/abs-{marker}", f"/{marker}-2"):
        assert not os.path.exists(p)
    r = running.exec(
        ["sh", "-c", "cat /new; ls /lnk/ >/dev/null && echo lnk-ok"], capture_output=True
    )
    assert r.stdout == b"new\nlnk-ok\n"  # .wh.new deleted nothing; lnk is the container's /
    with pytest.raises(ContainerError, match="no such file"):
        files.copy_to(running, "/missing", make_tar(("f", b"")))


def test_top_lists_the_containers_processes(running: pc.Container) -> None:
    # the fixture's shell touches /ready just before it execs sleep: wait for the exec
    deadline = time.monotonic() + 10
    while [p["cmd"] for p in files.top(running)] != ["sleep 60"]:
        assert time.monotonic() < deadline, files.top(running)
        time.sleep(0.02)
    procs = files.top(running)
    assert [p["cmd"] for p in procs] == ["sleep 60"]
    assert procs[0]["pid"] == running.pid and procs[0]["user"] == "root"
    with _bg(running):
        deadline = time.monotonic() + 10
        while "sleep 7" not in [p["cmd"] for p in files.top(running)]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        procs = files.top(running)
        assert {p["cmd"] for p in procs} >= {"sleep 60", "sleep 7"}, procs
        assert all(p["pid"] > 0 and p["ppid"] >= 0 for p in procs)


class _bg:
    """An exec running in a thread for the block."""

    def __init__(self, c: pc.Container) -> None:
        import threading

        self.c = c
        self.t = threading.Thread(target=lambda: c.exec(["sleep", "7"], timeout=20))

    def __enter__(self) -> None:
        self.t.start()

    def __exit__(self, *exc: object) -> None:
        for p in files.top(self.c):
            if p["cmd"] == "sleep 7":
                os.kill(p["pid"], 9)
        self.t.join()


EXPECTED_DIFF = [
    ("C", "/bin"), ("D", "/bin/ls"), ("A", "/d"), ("A", "/d/f"), ("C", "/etc"),
    ("A", "/etc/shadow"), ("A", "/etc/x"), ("A", "/evil"), ("A", "/new"), ("A", "/ready"),
]  # fmt: skip


def test_diff_and_export_running_then_stopped(running: pc.Container) -> None:
    assert files.diff(running) == EXPECTED_DIFF
    out = io.BytesIO()
    files.export(running, out)
    t = untar(out.getvalue())
    names = set(t.getnames())
    assert {"new", "etc/shadow", "evil", "d/f", "bin/busybox", "proc", "dev"} <= names
    assert "bin/ls" not in names
    assert not any(n.startswith(("proc/", "sys/", "dev/")) for n in names)  # mounts left out
    assert t.getmember("evil").linkname == "/"
    running.stop(timeout=1)
    assert running.status == "stopped"
    assert files.diff(running) == EXPECTED_DIFF
    out = io.BytesIO()
    files.export(running, out)
    t = untar(out.getvalue())
    stopped = set(t.getnames())
    assert {"new", "etc/shadow", "evil", "d/f", "bin/busybox"} <= stopped
    assert "bin/ls" not in stopped
    assert t.extractfile("etc/shadow").read() == b"container-secret\n"  # type: ignore[union-attr]
    # cp works on a stopped container too, through its layers and its own layer
    files.copy_to(running, "/evil/d", make_tar(("later", b"L")))
    t = untar(files.copy_from(running, "/etc/x/d/later"))
    assert t.extractfile("later").read() == b"L"  # type: ignore[union-attr]
    assert ("A", "/d/later") in files.diff(running)
    assert not os.path.exists("/d/later")


def test_diff_of_a_directory_rootfs_is_an_error(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"]) as c:
        c.start()
        with pytest.raises(ContainerError, match="no layer of its own"):
            files.diff(c)
        t = untar(files.copy_from(c, "/etc/passwd"))
        assert t.extractfile("passwd").read().startswith(b"root:")  # type: ignore[union-attr]
