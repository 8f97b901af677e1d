"""Containers with resource limits: OOM, pids, cpu, pause, live update, stats, cleanup."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.cgroups import detect_layout

pytestmark = pytest.mark.root


def group_dirs(parent: str = "pycontainers") -> set[str]:
    """Every container group under ``parent`` in every hierarchy of this host."""
    layout = detect_layout()
    roots = [*dict(layout.v1_hierarchies).values(), *([layout.unified] if layout.unified else [])]
    found = set()
    for root in roots:
        base = os.path.join(root, parent)
        if os.path.isdir(base):
            found |= {
                os.path.join(base, d)
                for d in os.listdir(base)
                if os.path.isdir(os.path.join(base, d))
            }
    return found


@pytest.fixture
def no_cgroup_leaks() -> object:
    before = group_dirs()
    yield None
    assert group_dirs() == before


def test_oom_kill_is_reported(busybox_rootfs: Path, no_cgroup_leaks: object) -> None:
    # ~96 MiB held in a shell variable, in a 32 MiB container: the kernel kills the shell
    r = pc.run(str(busybox_rootfs), ["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo $x"],
               memory="32m", capture_output=True, timeout=60)  # fmt: skip
    assert r.oom_killed and r.returncode == 137


def test_no_oom_without_pressure(busybox_rootfs: Path) -> None:
    r = pc.run(str(busybox_rootfs), ["true"], memory="32m", timeout=30)
    assert r.returncode == 0 and not r.oom_killed


def test_fork_bomb_stops_at_pids_limit(busybox_rootfs: Path, no_cgroup_leaks: object) -> None:
    # an inner shell forks until the kernel refuses (then dies of it); the outer one reads
    # the count with builtins only, since no pid is left for a cat
    script = (
        "sh -c 'while :; do sleep 5 & done' 2>/dev/null; "
        "read cur < /sys/fs/cgroup/pids/pids.current; read max < /sys/fs/cgroup/pids/pids.max; "
        "echo $cur $max"
    )
    r = pc.run(
        str(busybox_rootfs), ["sh", "-c", script], pids_limit=16, capture_output=True, timeout=60
    )
    current, limit = r.stdout.split()
    assert limit == b"16" and 12 <= int(current) <= 16, r


def test_cpus_limit_keeps_a_busy_loop_near_its_share(
    busybox_rootfs: Path, no_cgroup_leaks: object
) -> None:
    with pc.Container.create(
        str(busybox_rootfs), ["sh", "-c", "while :; do :; done"], cpus=0.2
    ) as c:
        c.start()
        time.sleep(0.2)
        before, t0 = c.stats().cpu, time.monotonic()
        time.sleep(1.0)
        after, t1 = c.stats().cpu, time.monotonic()
        assert before is not None and after is not None
        share = (after.usage - before.usage) / ((t1 - t0) * 1e9)
        assert 0.08 < share < 0.35, share
        assert after.nr_throttled is not None and after.nr_throttled > 0


def test_pause_stops_progress_and_resume_continues(
    fresh_rootfs: Path, no_cgroup_leaks: object
) -> None:
    counter = fresh_rootfs / "tmp" / "n"
    # written by rename: a freeze between the truncation and the write of `echo > f`
    # would leave the file empty (the test once read '' and failed on int(''))
    script = "i=0; while :; do i=$((i+1)); echo $i > /tmp/n.t; mv /tmp/n.t /tmp/n; sleep 0.01; done"
    with pc.Container.create(str(fresh_rootfs), ["sh", "-c", script]) as c:
        c.start()
        time.sleep(0.3)
        c.pause()
        assert c.status == "paused"
        time.sleep(0.05)
        frozen = counter.read_text()
        time.sleep(0.3)
        assert counter.read_text() == frozen
        c.resume()
        time.sleep(0.3)
        assert int(counter.read_text()) > int(frozen)
        # from another handle too
        other = pc.Container.load(c.id)
        other.pause()
        assert pc.Container.load(c.id).status == "paused"
        other.resume()
        other.close()


def test_live_update_and_stats_move(busybox_rootfs: Path, no_cgroup_leaks: object) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sh", "-c", "sleep 30"], memory="64m") as c:
        c.start()
        assert c.cgroup.limits()["memory_max"] == "64MiB"
        c.update(memory="128m", pids_limit=20)
        limits = c.cgroup.limits()
        assert limits["memory_max"] == "128MiB" and limits["pids_max"] == "20"
        stats = c.stats()
        assert stats.memory is not None and stats.memory.usage > 0
        assert stats.pids is not None and stats.pids.current >= 1


def test_cgroup_namespace_shows_own_group_as_root_read_only(busybox_rootfs: Path) -> None:
    script = "cut -d: -f3 /proc/self/cgroup | sort -u; touch /sys/fs/cgroup/x 2>&1; cat /sys/fs/cgroup/pids/pids.max"
    r = pc.run(
        str(busybox_rootfs), ["sh", "-c", script], pids_limit=77, capture_output=True, timeout=30
    )
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "/" and len(lines) == 3
    assert "Read-only file system" in lines[1]
    assert lines[2] == "77"


def test_container_cgroup_is_removed_with_it(busybox_rootfs: Path, no_cgroup_leaks: object) -> None:
    c = pc.Container.create(str(busybox_rootfs), ["sleep", "30"])
    path = c.cgroup.path
    assert any(path in d for d in group_dirs())
    c.start()
    c.delete()
    assert not any(path in d for d in group_dirs())


def test_failed_start_leaves_no_cgroup(
    busybox_rootfs: Path, no_cgroup_leaks: object, no_leaks: object
) -> None:
    with pytest.raises(pc.ContainerStartError):
        pc.run(str(busybox_rootfs), ["no-such-command"], memory="64m")
    with pytest.raises(pc.ContainerStartError):
        pc.Container.create(str(busybox_rootfs), ["no-such-command"], memory="64m")


def test_invalid_limits_name_their_field() -> None:
    for kw, field in ((dict(memory="64x"), "memory"), (dict(pids_limit="x"), "pids_limit"),
                      (dict(cpus=-1), "cpus"), (dict(cpus=(os.cpu_count() or 1) + 1), "cpus"),
                      (dict(device_read_bps={"/dev/nonexistent": "1m"}), "device_read_bps"),
                      (dict(cpuset_cpus="63"), "cpuset_cpus"), (dict(bogus=1), "bogus")):  # fmt: skip
        with pytest.raises(pc.SpecError) as info:
            pc.run("host", ["true"], **kw)
        assert info.value.field == field, (kw, info.value)


@pytest.mark.slow
def test_two_hundred_limited_containers_leave_no_cgroup(
    busybox_rootfs: Path, no_cgroup_leaks: object
) -> None:
    for i in range(200):
        r = pc.run(
            str(busybox_rootfs), ["true"], memory="32m", pids_limit=10, init=i % 2 == 0, timeout=30
        )
        assert r.returncode == 0
