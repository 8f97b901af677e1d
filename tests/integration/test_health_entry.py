"""Health checks of a detached container run from its monitor, from the entry sealed at start.

No interpreter starts per check; a missing, corrupt, stale or unknown entry (or a changed
spec, a paused container) fails the check with the reason and never runs the command. The
identity and security of the check's process are compared with ``run``'s and ``exec``'s in
``tests/security/test_entry_points.py``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pycontainers as pc
from pycontainers.runtime import health_entry as he

pytestmark = pytest.mark.root

TICK = os.sysconf("SC_CLK_TCK")


def _until(cond: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not reached within {timeout} s: {what}")


def _health(c: pc.Container) -> dict[str, Any]:
    try:
        with open(os.path.join(c.state_dir, "health.json")) as f:
            return json.load(f)  # type: ignore[no-any-return]
    except (FileNotFoundError, ValueError):
        return {}


def _monitor_pid(c: pc.Container) -> int:
    with open(os.path.join(c.state_dir, "state.json")) as f:
        return int(json.load(f)["monitor_pid"])


def _cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid`` in seconds (its reaped children included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _count(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines())
    except FileNotFoundError:
        return 0


@pytest.fixture
def checked(busybox_rootfs: Path, tmp_path: Path) -> Iterator[tuple[pc.Container, Path]]:
    """A running detached container whose health check appends a line to marks/ran."""
    marks = tmp_path / "marks"
    marks.mkdir()
    c = pc.Container.create(
        str(busybox_rootfs), ["sleep", "1000"], detach=True, network="none",
        mounts=[pc.Mount("/marks", str(marks))],
        healthcheck=pc.HealthCheck(["sh", "-c", "echo x >> /marks/ran"], interval="100ms",
                                   timeout="10s", retries=2),
    )  # fmt: skip
    try:
        c.start()
        _until(lambda: _health(c).get("status") == "healthy", "healthy")
        yield c, marks / "ran"
    finally:
        c.delete()


def test_checks_run_from_the_monitor_without_an_interpreter(
    checked: tuple[pc.Container, Path],
) -> None:
    c, ran = checked
    monitor = _monitor_pid(c)
    with open(f"/proc/{monitor}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    # the monitor runs only what its command line names: no health hook, no host command
    assert b"--health-entry" in argv and b"--health-cmd" not in argv, argv
    assert b"health" not in argv, argv
    # while checks run, nothing below the monitor is an interpreter
    start, before = _count(ran), _cpu(monitor)
    seen: set[str] = set()
    while _count(ran) < start + 10:
        for pid in _descendants(monitor):
            try:
                seen.add(os.path.basename(os.readlink(f"/proc/{pid}/exe")))
            except OSError:
                pass  # gone meanwhile
        time.sleep(0.003)
    used = _cpu(monitor) - before
    assert not any(name.startswith("python") for name in seen), seen
    assert seen & {"busybox", "pycontainers-monitor"}, seen  # the poll did see the checks
    # an interpreter per check costs about 0.3 s of CPU; the monitor's path a few ms
    assert used < 10 * 0.05, f"{used:.2f} s of CPU for 10 checks"


def _reseal(path: Path, edit: Callable[[list[tuple[str, bytes]]], None], version: int = 1) -> None:
    """Parse the entry's records, let ``edit`` change them, write it sealed again."""
    data = path.read_bytes()
    body = data.split(b"\n", 2)[2]
    records: list[tuple[str, bytes]] = []
    while body:
        head, rest = body.split(b"\n", 1)
        key, length = head.decode().split(" ")
        records.append((key, rest[: int(length)]))
        body = rest[int(length) + 1 :]
    edit(records)
    path.write_bytes(he.seal(list(records), version=version))


def _without(key: str) -> Callable[[list[tuple[str, bytes]]], None]:
    def edit(records: list[tuple[str, bytes]]) -> None:
        records[:] = [(k, v) for k, v in records if k != key]

    return edit


def _pid_1(records: list[tuple[str, bytes]]) -> None:
    records[:] = [(k, b"1" if k == "pid" else v) for k, v in records]


def _other_mnt_ns(records: list[tuple[str, bytes]]) -> None:
    """The mnt record names inode 1: not the container's mount namespace."""
    records[:] = [
        (k, v.rsplit(b" ", 1)[0] + b" 1" if k == "ns" and v.startswith(b"mnt ") else v)
        for k, v in records
    ]


def _flip(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"echo x", b"echo y", 1))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-40])


def _spec_edit(path: Path) -> None:
    spec = path.parent / "config.json"
    spec.write_bytes(spec.read_bytes() + b" ")


BREAKS: dict[str, tuple[Callable[[Path], object], str]] = {
    "removed": (Path.unlink, "no sealed health-check entry"),
    "truncated": (_truncate, "does not match its digest"),
    "a flipped byte": (_flip, "does not match its digest"),
    "unknown version": (lambda p: _reseal(p, lambda r: None, version=2), "unknown version 2"),
    "unknown field": (
        lambda p: _reseal(p, lambda r: r.append(("privileged", b"1"))),
        'unknown field "privileged"',
    ),
    "missing field": (lambda p: _reseal(p, _without("seccomp")), "no field seccomp"),
    "stale process": (lambda p: _reseal(p, _pid_1), "a stale entry"),
    "other namespace": (
        lambda p: _reseal(p, _other_mnt_ns),
        "mnt namespace is not the one the entry names",
    ),
    "a refusal": (lambda p: p.write_bytes(he.seal([("refuse", "no way")])), "no way"),
    "spec changed": (_spec_edit, "config.json changed since the entry was sealed"),
}


@pytest.mark.parametrize("how", list(BREAKS))
def test_a_broken_entry_fails_every_check_and_never_runs_the_command(
    how: str, checked: tuple[pc.Container, Path]
) -> None:
    c, ran = checked
    damage, message = BREAKS[how]
    damage(Path(he.entry_path(c.state_dir)))

    def refusals() -> list[dict[str, Any]]:
        return [e for e in _health(c).get("log", []) if "refused" in e["output"]]

    _until(lambda: refusals(), "a refused check")
    count = _count(ran)  # a check that started before the damage may have run
    _until(lambda: len(refusals()) >= 3, "three refused checks")
    for e in refusals():
        assert e["exit_code"] == -1 and message in e["output"], e
    assert _until(lambda: _health(c).get("status") == "unhealthy", "unhealthy")
    assert _count(ran) == count, "the command ran from a broken entry"


def test_a_paused_container_fails_its_checks_without_running_them(
    checked: tuple[pc.Container, Path],
) -> None:
    c, ran = checked
    c.pause()
    try:
        _until(lambda: _health(c).get("status") == "unhealthy", "unhealthy while paused")
        count = _count(ran)
        streak = _health(c)["failing_streak"]
        _until(lambda: _health(c)["failing_streak"] >= streak + 2, "two more checks")
        log = _health(c)["log"]
        assert all("the container is paused" in e["output"] for e in log[-2:]), log
        assert _count(ran) == count, "a check ran in the frozen cgroup"
    finally:
        c.resume()
    _until(lambda: _health(c).get("status") == "healthy", "healthy again")
    assert _count(ran) > count


def test_a_command_that_cannot_start_reports_why(busybox_rootfs: Path) -> None:
    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "1000"], detach=True, network="none",
        healthcheck=pc.HealthCheck(["no-such-probe"], interval="100ms", retries=1),
    ) as c:  # fmt: skip
        c.start()
        _until(lambda: _health(c).get("status") == "unhealthy", "unhealthy")
        last = _health(c)["log"][-1]
        assert last["exit_code"] == 127, last
        assert "no-such-probe: executable file not found" in last["output"], last


def test_checks_of_a_created_container_wait_for_its_start(busybox_rootfs: Path) -> None:
    """Like exec, a check refuses a container that was created but not started."""
    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "1000"], detach=True, network="none",
        healthcheck=pc.HealthCheck("true", interval="100ms", retries=1),
    ) as c:  # fmt: skip
        _until(lambda: _health(c).get("status") == "unhealthy", "unhealthy before start")
        assert "has not started yet" in _health(c)["log"][-1]["output"]
        c.start()
        _until(lambda: _health(c).get("status") == "healthy", "healthy after start")
