"""Detached containers: a C monitor keeps them, so any process can follow, stop and
learn the exit status of a container whose creator is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.runtime.detach import HealthCheck

pytestmark = pytest.mark.root


def _creator(script: str) -> str:
    """Run ``script`` in a separate Python process that exits at once; return its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", "import pycontainers as pc\n" + script],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _until(cond: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_survives_its_creator_listed_execd_logged_stopped(busybox_rootfs: Path) -> None:
    cid = _creator(
        f"c = pc.Container.create({str(busybox_rootfs)!r}, ['sh', '-c', "
        "'echo started; echo oops >&2; while true; do sleep 1; done'], detach=True, name='keeper')\n"
        "c.start()\nprint(c.id)"
    )
    c = pc.Container.load("keeper")
    try:
        assert c.id == cid and c.status == "running" and c.detached
        assert "keeper" in [x.name for x in pc.Container.list()]
        assert c.exec(["echo", "inside"], capture_output=True).stdout == b"inside\n"
        _until(lambda: len(list(c.logs())) >= 2)
        entries = list(c.logs())
        assert [(e.stream, e.data) for e in entries] == [
            ("stdout", b"started\n"),
            ("stderr", b"oops\n"),
        ]
        raw = (Path(c.state_dir) / "ctr.log").read_text().splitlines()
        assert all(set(json.loads(line)) == {"log", "stream", "time"} for line in raw)
        assert [e.data for e in c.logs(stderr=False)] == [b"started\n"]
        c.stop(timeout=0.5)  # sh as PID 1 ignores SIGTERM: SIGKILL after the timeout
        assert c.status == "stopped" and c.wait() == 137
        again = pc.Container.load(cid)
        assert again.wait() == 137 and again.inspect()["State"]["ExitCode"] == 137
        again.close()
    finally:
        c.delete()
    assert not os.path.exists(c.state_dir)


def test_exit_status_recorded_after_creator_exits(busybox_rootfs: Path) -> None:
    cid = _creator(
        f"c = pc.Container.create({str(busybox_rootfs)!r}, ['sh', '-c', 'sleep 0.3; exit 7'], "
        "detach=True)\nc.start()\nprint(c.id)"
    )
    c = pc.Container.load(cid)
    try:
        assert c.wait(timeout=20) == 7
        assert c.inspect()["State"]["Status"] == "exited"
    finally:
        c.delete()


def test_start_twice_and_exec_into_stopped_are_errors(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], detach=True) as c:
        c.start()
        with pytest.raises(pc.ContainerError, match="running"):
            c.start()
        c.kill()
        assert c.wait(timeout=10) == 137
        with pytest.raises(pc.ContainerError):
            c.exec(["true"])


def test_name_is_unique(busybox_rootfs: Path) -> None:
    with (
        pc.Container.create(str(busybox_rootfs), ["true"], detach=True, name="only-one"),
        pytest.raises(pc.ContainerError, match="already in use"),
    ):
        pc.Container.create(str(busybox_rootfs), ["true"], name="only-one")
    with pytest.raises(pc.SpecError, match="name"):
        pc.Container.create(str(busybox_rootfs), ["true"], name="bad name")


def test_restart_on_failure_3_restarts_exactly_three_times(
    fresh_rootfs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pc.Container.create(
        str(fresh_rootfs),
        ["sh", "-c", "echo run >> /out/runs; exit 1"],
        mounts=[pc.Mount("/out", str(out))],
        detach=True,
        restart="on-failure:3",
    ) as c:
        c.start()
        _until(
            lambda: (
                pc.Container.load(c.id).restart_count == 3
                and pc.Container.load(c.id).status == "stopped"
            ),
            30,
        )
        time.sleep(1)  # a fourth restart would come within this
        assert (out / "runs").read_text() == "run\n" * 4
        last = pc.Container.load(c.id)
        assert last.restart_count == 3 and last.wait() == 1
        last.close()


def test_restart_always_until_stopped(fresh_rootfs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    c = pc.Container.create(
        str(fresh_rootfs),
        ["sh", "-c", "echo run >> /out/runs; sleep 0.2"],
        mounts=[pc.Mount("/out", str(out))],
        detach=True,
        restart="always",
    )
    try:
        c.start()
        _until(lambda: (out / "runs").exists() and len((out / "runs").read_text().split()) >= 3, 30)
        live = pc.Container.load(c.id)
        live.stop(timeout=1)
        n = len((out / "runs").read_text().split())
        time.sleep(1)
        assert len((out / "runs").read_text().split()) == n
        live.close()
    finally:
        c.close()
        pc.Container.load(c.id).delete()


def test_health_turns_unhealthy_and_healthy_again(fresh_rootfs: Path, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.mkdir()
    (flag / "ok").touch()
    with pc.Container.create(
        str(fresh_rootfs),
        ["sleep", "60"],
        mounts=[pc.Mount("/flag", str(flag))],
        detach=True,
        healthcheck=HealthCheck("test -f /flag/ok", interval="300ms", timeout="5s", retries=2),
    ) as c:
        c.start()
        assert c.health == "starting"
        _until(lambda: c.health == "healthy", 20)
        (flag / "ok").unlink()
        _until(lambda: c.health == "unhealthy", 20)
        assert c.inspect()["State"]["Health"]["FailingStreak"] >= 2
        (flag / "ok").touch()
        _until(lambda: c.health == "healthy", 20)


def test_logs_follow_a_running_container(busybox_rootfs: Path) -> None:
    with pc.Container.create(
        str(busybox_rootfs),
        ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done"],
        detach=True,
    ) as c:
        c.start()
        got = [e.data for e in c.logs(follow=True)]
        assert got == [f"line {i}\n".encode() for i in range(1, 6)]
        assert [e.data for e in c.logs(tail=2)] == [b"line 4\n", b"line 5\n"]


def test_auto_remove(busybox_rootfs: Path) -> None:
    c = pc.Container.create(str(busybox_rootfs), ["true"], detach=True, auto_remove=True)
    c.start()
    _until(lambda: not os.path.exists(c.state_dir), 20)
    c.close()


def test_detached_bridge_container_gives_back_its_port_when_it_exits(busybox_rootfs: Path) -> None:
    from pycontainers.network.nft import Netfilter

    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "0.5"], detach=True, ports=["8123:80"]
    ) as c:
        c.start()
        assert c.id in Netfilter().owners()
        c.wait(timeout=10)
        _until(lambda: c.id not in Netfilter().owners(), 10)


def test_stop_signal_from_the_spec(fresh_rootfs: Path) -> None:
    with pc.Container.create(
        str(fresh_rootfs),
        ["sh", "-c", "trap 'exit 42' USR1; echo ready; while true; do sleep 0.1; done"],
        detach=True,
        stop_signal="SIGUSR1",
    ) as c:
        c.start()
        _until(lambda: [e.data for e in c.logs()] == [b"ready\n"])
        c.stop(timeout=10)
        assert c.wait() == 42  # the trap ran: USR1 came first, not TERM or KILL
    with pytest.raises(pc.SpecError, match="stop_signal"):
        pc.Container.create(str(fresh_rootfs), ["true"], stop_signal="SIGNOPE")


def test_exec_with_a_controlling_terminal(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], detach=True) as c:
        c.start()
        master, slave = os.openpty()
        try:
            r = c.exec(
                ["sh", "-c", "cut -d' ' -f7 /proc/self/stat"],
                stdin=slave, stdout=slave, stderr=slave, tty=True, timeout=20,
            )  # fmt: skip
            out = os.read(master, 1000)
        finally:
            os.close(master)
            os.close(slave)
        assert r.returncode == 0
        assert int(out.split()[0]) != 0, out  # tty_nr: the pty is its controlling terminal


def test_wait_without_a_timeout_returns_the_status(busybox_rootfs: Path) -> None:
    """No timeout means wait as long as it takes (it once became 1e9 s: OverflowError)."""
    with pc.Container.create(str(busybox_rootfs), ["sh", "-c", "sleep 0.3; exit 4"],
                             detach=True) as c:  # fmt: skip
        c.start()
        assert c.wait() == 4
        loaded = pc.Container.load(c.id)
        try:
            assert loaded.wait() == 4
        finally:
            loaded.close()


def test_a_start_racing_the_auto_remove_never_brings_the_container_back(
    busybox_rootfs: Path, state_root: Path
) -> None:
    """`create --rm` + `start` of a command that exits at once: the starter saves the
    state ("running") while the exit hook removes the container. Run many times, the
    container is always gone afterwards (the save once resurrected its state file)."""
    for _ in range(15):
        c = pc.Container.create(str(busybox_rootfs), ["true"], detach=True, auto_remove=True)
        c.close()
        starter = pc.Container.load(c.id)  # like the CLI's `start`: a handle of its own
        try:
            starter.start()
        finally:
            starter.close()
        deadline = time.monotonic() + 30
        while (state_root / c.id).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.05)
        assert not (state_root / c.id).exists(), os.listdir(state_root / c.id)
        assert c.id not in [x.id for x in pc.Container.list()]
