"""Docker's commands a user reaches for: ``rename``, ``events`` (the event journal, also what
the API's ``/events`` streams), ``system df``, ``import``, ``commit --change/-a/-p``, and
``create --name`` reuse worded as Docker words it; through the CLI and through Python.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from cli_util import cli, ok, until

import pycontainers as pc
from pycontainers import events
from pycontainers.images import default_store

pytestmark = pytest.mark.root


def test_rename_and_name_conflict(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    a = ok("create", "--name", "ren-a", "--network", "none", bb, "true").strip()
    b = ok("create", "--name", "ren-b", "--network", "none", bb, "true").strip()
    try:
        r = cli("create", "--name", "ren-a", "--network", "none", bb, "true")
        assert r.returncode == 125
        assert r.stderr.strip() == (
            f'pycontainers: Conflict. The container name "/ren-a" is already in use by container '
            f'"{a}". You have to remove (or rename) that container to be able to reuse that name.'
        )
        ok("rename", "ren-a", "ren-c")
        assert json.loads(ok("inspect", a))[0]["Name"].lstrip("/") == "ren-c"
        r = cli("container", "rename", "ren-c", "ren-b")
        assert r.returncode == 125 and f'in use by container "{b}"' in r.stderr
        c = pc.Container.load("ren-b")
        try:
            c.rename("ren-d")
        finally:
            c.close()
        assert sorted(ok("ps", "-a", "--format", "{{.Names}}").split()) == ["ren-c", "ren-d"]
    finally:
        ok("rm", "-f", a, b)


def _actions(since: float, *filters: str) -> list[str]:
    out = ok("events", "--since", str(since), "--until", str(time.time() + 0.5),
             *(x for f in filters for x in ("--filter", f)), "--format", "{{.Action}}")  # fmt: skip
    return out.split()


def test_events_of_container_lifecycle(busybox_rootfs: Path) -> None:
    bb = str(busybox_rootfs)
    t0 = time.time() - 0.5
    cid = ok("run", "-d", "--name", "evt", "--network", "none", bb, "sleep", "100").strip()
    ok("pause", "evt")
    ok("unpause", "evt")
    ok("rename", "evt", "evt2")
    ok("stop", "-t", "1", "evt2")
    ok("rm", "evt2")
    until(lambda: "destroy" in _actions(t0, f"container={cid[:12]}"))
    actions = _actions(t0, f"container={cid[:12]}")
    # stop: SIGTERM (pid 1 ignores it), then SIGKILL after the second
    assert actions == ["create", "start", "pause", "unpause", "rename", "kill", "kill", "die",
                       "stop", "destroy"], actions  # fmt: skip
    # the monitor's die event gets the container's name and image from the journal
    line = ok("events", "--since", str(t0), "--until", str(time.time()), "--filter",
              "event=die", "--filter", f"container={cid}")  # fmt: skip
    assert f"container die {cid} (exitCode=137, image={bb}, name=evt2)" in line
    doc = json.loads(ok("events", "--since", str(t0), "--until", str(time.time()), "--filter",
                        "event=create", "--filter", f"container={cid}",
                        "--format", "{{json .}}").splitlines()[-1])  # fmt: skip
    assert doc["Actor"]["ID"] == cid and doc["status"] == "create" and doc["id"] == cid
    r = cli("events", "--filter", "colour=red", "--until", "1")
    assert r.returncode == 125 and "invalid filter" in r.stderr


def test_events_of_images_volumes_networks(busybox_rootfs: Path) -> None:
    t0 = time.time() - 0.5
    ok("volume", "create", "evt-vol")
    ok("volume", "rm", "evt-vol")
    ok("network", "create", "evt-net")
    ok("network", "rm", "evt-net")
    store = default_store()
    base = store.import_rootfs(str(busybox_rootfs), "localhost/evt-base:1")
    ok("tag", "localhost/evt-base:1", "localhost/evt-base:2")
    ok("rmi", "localhost/evt-base:2")
    ok("rmi", "localhost/evt-base:1")
    assert _actions(t0, "type=volume") == ["create", "destroy"]
    assert _actions(t0, "type=network") == ["create", "destroy"]
    assert _actions(t0, "type=image") == ["tag", "untag", "delete", "untag", "delete"]
    out = ok("events", "--since", str(t0), "--until", str(time.time()), "--filter",
             "event=tag", "--format", "{{.Actor.ID}} {{.Actor.Attributes.name}}")  # fmt: skip
    assert out == f"{base.id} localhost/evt-base:2\n"


def test_events_follow_and_corrupt_lines(busybox_rootfs: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pycontainers", "events", "--filter",
                             "type=volume", "--format", "{{.Action}} {{.Actor.ID}}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(1)  # it follows from now on: what came before is not shown
        ok("volume", "create", "evt-follow")
        assert proc.stdout is not None
        assert proc.stdout.readline() == "create evt-follow\n"
        ok("volume", "rm", "evt-follow")
        assert proc.stdout.readline() == "destroy evt-follow\n"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # and its pipes closed
    t0 = time.time()
    with open(events.journal_path(), "ab") as f:
        f.write(b'{"not": "an event"}\nnot json at all\n')
    ok("volume", "create", "evt-after")
    ok("volume", "rm", "evt-after")
    r = cli("events", "--since", str(t0), "--until", str(time.time()), "--filter", "type=volume",
            "--format", "{{.Action}}")  # fmt: skip
    assert r.returncode == 0 and r.stdout.split() == ["create", "destroy"]
    assert r.stderr.count("skipped a corrupt line of the event journal") == 2


def test_journal_is_bounded_and_read_across_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "MAX_BYTES", 4000)
    root = str(tmp_path)
    with events.Journal(root) as follower:
        assert follower.read() == []
        for i in range(100):
            events.record("volume", "create", f"v{i}", state_root=root)
        seen = [e["Actor"]["ID"] for e in follower.poll()]
    size = os.path.getsize(os.path.join(root, events.JOURNAL))
    assert size <= 4000 + 300 and os.path.exists(os.path.join(root, events.JOURNAL + ".1"))
    kept = [e["Actor"]["ID"] for e in events.Journal(root).read()]
    assert kept == [f"v{i}" for i in range(100 - len(kept), 100)]  # the newest, in order
    assert seen[-1] == "v99" and seen == sorted(seen, key=lambda v: int(v[1:]))


def test_api_events_read_the_journal(busybox_rootfs: Path, tmp_path: Path) -> None:
    from api_util import start_daemon

    for d in start_daemon(tmp_path):
        t0 = int(time.time()) - 1
        ok("volume", "create", "evt-api")  # done by the CLI, not the daemon
        ok("volume", "rm", "evt-api")
        import socket

        query = f"since={t0}&until={int(time.time()) + 1}&filters=" + '{"volume":["evt-api"]}'
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(d.socket))
            s.sendall(f"GET /events?{query} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        body = data.partition(b"\r\n\r\n")[2]
        got = [json.loads(line) for line in body.splitlines() if line.strip()]
        assert [(e["Action"], e["Actor"]["ID"]) for e in got] == [
            ("create", "evt-api"),
            ("destroy", "evt-api"),
        ]


def test_system_df(busybox_rootfs: Path) -> None:
    store = default_store()
    image = store.import_rootfs(str(busybox_rootfs), "localhost/df-img:1")
    cid = ok("run", "-d", "--network", "none", "-v", "df-vol:/v", "localhost/df-img:1", "sh",
             "-c", "head -c 100000 /dev/zero > /big; head -c 5000 /dev/zero > /v/f; sleep 100"
             ).strip()  # fmt: skip
    try:
        until(lambda: "/big" in ok("diff", cid))
        lines = ok("system", "df").splitlines()
        assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
        rows = {line[:15].strip(): line[15:].split() for line in lines[1:]}
        assert rows["Images"][:2] == [str(len(store.list())), "1"]
        assert rows["Containers"][:2] == ["1", "1"] and rows["Containers"][2] == "97.66KiB"
        assert rows["Local Volumes"][:3] == ["1", "1", "4.883KiB"]
        verbose = ok("system", "df", "-v")
        assert "Images space usage:" in verbose and "localhost/df-img" in verbose
        assert str(image.id).removeprefix("sha256:")[:12] in verbose
        assert cid[:12] in verbose and "df-vol" in verbose
        assert "Build cache usage: 0B" in verbose
        out = ok("system", "df", "--format", "{{.Type}}={{.Active}}")
        assert out.splitlines()[:3] == ["Images=1", "Containers=1", "Local Volumes=1"]
        from pycontainers.runtime.diskusage import disk_usage

        usage = disk_usage()
        (mine,) = [c for c in usage.containers if c["id"] == cid]
        assert mine["size"] == 100000
    finally:
        ok("rm", "-f", "-v", cid)
        ok("volume", "rm", "df-vol")
        store.remove("localhost/df-img:1")


def _tarball(tmp_path: Path, compress: bool) -> Path:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, text in (("bin/hello", b"#!/bin/sh\necho imported\n"), ("etc/motd", b"hi\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(text), 0o755
            tar.addfile(info, io.BytesIO(text))
    raw = data.getvalue()
    path = tmp_path / ("fs.tar.gz" if compress else "fs.tar")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def test_import(busybox_rootfs: Path, tmp_path: Path) -> None:
    store = default_store()
    tar = _tarball(tmp_path, compress=True)
    out = ok("import", "-c", "ENV GREETING=hello", "-c", 'CMD ["/bin/hello"]', "-c",
             "WORKDIR /etc", "-c", "EXPOSE 8080", "-c", "LABEL team=a", "-c", "USER 1000",
             "-c", "VOLUME /data", "-c", "STOPSIGNAL SIGQUIT", "-c", "ONBUILD RUN true",
             "-c", "ENTRYPOINT /bin/sh", "-m", "from a tarball", str(tar),
             "localhost/imported:1").strip()  # fmt: skip
    try:
        image = store.get("localhost/imported:1")
        assert out == str(image.id)
        cfg = image.raw_config["config"]
        assert cfg["Env"] == ["GREETING=hello"] and cfg["WorkingDir"] == "/etc"
        assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh"]
        assert cfg["Cmd"] == ["/bin/hello"]  # set by these changes: ENTRYPOINT keeps it
        assert cfg["ExposedPorts"] == {"8080/tcp": {}} and cfg["Labels"] == {"team": "a"}
        assert (cfg["User"], cfg["StopSignal"]) == ("1000", "SIGQUIT")
        assert cfg["Volumes"] == {"/data": {}} and cfg["OnBuild"] == ["RUN true"]
        assert image.raw_config["history"][-1]["comment"] == "from a tarball"
        plain = _tarball(tmp_path, compress=False)
        with plain.open("rb") as stdin:
            done = subprocess.run([sys.executable, "-m", "pycontainers", "import", "-",
                                "localhost/imported:2"], stdin=stdin,
                               capture_output=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        two = store.get("localhost/imported:2")
        assert two.diff_ids == image.diff_ids  # the same layer, gzip or not
        r = cli("import", "https://example.com/rootfs.tar", "localhost/imported:3")
        assert r.returncode == 125 and "fetches no URLs" in r.stderr
        (tmp_path / "junk").write_bytes(b"this is not a tarball" * 100)
        r = cli("import", str(tmp_path / "junk"), "localhost/imported:3")
        assert r.returncode == 125 and "not a tar archive" in r.stderr
        r = cli("import", "-c", "RUN echo", str(tar), "localhost/imported:3")
        assert r.returncode == 125 and "'RUN' is not a valid change command" in r.stderr
        assert [str(i.reference) for i in store.list() if "imported:3" in str(i.reference)] == []
        with tar.open("rb") as f:
            py = store.import_tar(f, "localhost/imported:4", config={"Cmd": ["/bin/hello"]})
        assert py.raw_config["config"] == {"Cmd": ["/bin/hello"]}
    finally:
        for ref in ("localhost/imported:1", "localhost/imported:2", "localhost/imported:4"):
            if any(str(i.reference).endswith(ref.split("/")[1]) for i in store.list()):
                store.remove(ref)


def test_commit_change_author_pause(busybox_rootfs: Path) -> None:
    store = default_store()
    store.import_rootfs(str(busybox_rootfs), "localhost/cbase:1")
    cid = ok("run", "-d", "--network", "none", "localhost/cbase:1", "sh", "-c",
             "echo data > /made; sleep 1000").strip()  # fmt: skip
    try:
        until(lambda: "/made" in ok("diff", cid))
        t0 = time.time() - 0.1
        out = ok("commit", "-a", "Ann <ann@example.com>", "-m", "snap", "-c", "ENV X=1",
                 "-c", 'CMD ["cat", "/made"]', cid, "localhost/committed:1").strip()  # fmt: skip
        image = store.get("localhost/committed:1")
        assert out == str(image.id)
        assert image.raw_config["author"] == "Ann <ann@example.com>"
        assert image.raw_config["history"][-1]["comment"] == "snap"
        assert "X=1" in image.raw_config["config"]["Env"]
        assert ok("run", "--rm", "--network", "none", "localhost/committed:1") == "data\n"
        assert json.loads(ok("inspect", cid))[0]["State"]["Status"] == "running"  # resumed
        assert _actions(t0, f"container={cid}") == ["pause", "unpause"]  # frozen meanwhile
        t1 = time.time()
        ok("commit", "-p=false", cid, "localhost/committed:2")
        assert _actions(t1, f"container={cid}") == []
        c = pc.Container.load(cid)
        try:
            img = c.commit("localhost/committed:3", changes=["USER 1000"], author="py")
        finally:
            c.close()
        assert img.raw_config["config"]["User"] == "1000" and img.raw_config["author"] == "py"
        r = cli("commit", "-c", "FROM x", cid, "localhost/committed:4")
        assert r.returncode == 125 and "not a valid change command" in r.stderr
    finally:
        ok("rm", "-f", cid)
        for ref in ("cbase:1", "committed:1", "committed:2", "committed:3"):
            store.remove(f"localhost/{ref}")


def test_events_of_an_attached_container(busybox_rootfs: Path) -> None:
    t0 = time.time()
    c = pc.Container.create(str(busybox_rootfs), ["sh", "-c", "exit 4"])  # this process reaps it
    try:
        c.start()
        assert c.wait(timeout=60) == 4
    finally:
        c.delete()
    got = [
        (e["Action"], e["Actor"]["Attributes"].get("exitCode"))
        for e in events.follow(since=t0, until=time.time(), filters={"container": [c.id]})
    ]
    assert got == [("create", None), ("start", None), ("die", "4"), ("destroy", None)]
