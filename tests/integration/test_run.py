"""pc.run() end to end on the real kernel: isolation, stdio, users, limits, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pycontainers as pc

pytestmark = pytest.mark.root

ALL_KINDS = ("pid", "net", "ipc", "mnt", "uts", "user", "cgroup", "time")
ROOT_MAP = (pc.IdMapping(0, 0, 4294967295),)


def sh(rootfs: Path | str, script: str, **kw: object) -> pc.CompletedContainer:
    kw.setdefault("timeout", 30)
    return pc.run(str(rootfs), ["sh", "-c", script], capture_output=True, **kw)  # type: ignore[arg-type]


def test_payload_is_pid1_and_sees_only_its_processes(
    busybox_rootfs: Path, no_leaks: object
) -> None:
    r = sh(busybox_rootfs, "echo $$; sleep 0.1 & ps -o pid,comm; wait")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().split("\n")
    assert lines[0] == "1"
    procs = sorted(tuple(line.split()) for line in lines[2:] if line.strip())
    # nothing of the host's: sh, the background sleep (perhaps still named after busybox's
    # "exe" between fork and exec) and ps
    assert [p[0] for p in procs] == ["1", "2", "3"]
    assert procs[0][1] == "sh" and procs[2][1] == "ps"


def test_hostname_is_the_containers(busybox_rootfs: Path) -> None:
    host = os.uname().nodename
    r = sh(busybox_rootfs, "hostname; cat /proc/sys/kernel/hostname", hostname="box.example")
    assert r.stdout.decode().split() == ["box.example", "box.example"]
    assert os.uname().nodename == host


def test_default_hostname_is_a_short_id(busybox_rootfs: Path) -> None:
    r = sh(busybox_rootfs, "hostname; echo $HOSTNAME")
    name, env = r.stdout.decode().split()
    assert name == env and len(name) == 12 and name != os.uname().nodename


def test_new_net_namespace_has_only_lo(busybox_rootfs: Path) -> None:
    r = sh(busybox_rootfs, "ls /sys/class/net; cat /proc/net/dev | tail -n +3 | cut -d: -f1")
    assert r.stdout.decode().split() == ["lo", "lo"]


def test_mount_table_holds_only_the_containers_mounts(busybox_rootfs: Path) -> None:
    from pycontainers.spec import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS

    r = sh(busybox_rootfs, "cut -d' ' -f5 /proc/self/mountinfo")
    points = set(r.stdout.decode().split())
    devices = {f"/dev/{name}" for name in ("null", "zero", "full", "random", "urandom", "tty")}
    base = {"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", *devices}
    assert base <= points
    # everything else is a masked or read-only kernel path: nothing of the host's mounts
    assert points - base <= set(DEFAULT_MASKED_PATHS) | set(DEFAULT_READONLY_PATHS), points - base
    assert "/proc/sys" in points and "/proc/keys" in points


def test_files_outside_the_rootfs_are_unreachable(fresh_rootfs: Path, tmp_path: Path) -> None:
    # a rootfs of its own: tests that mount into the shared one leave their mount points
    secret = tmp_path / "secret"
    secret.write_text("host only")
    r = sh(fresh_rootfs, f"cat {secret}; ls /; cat /proc/1/root{secret}; cd ..; ls")
    out = r.stdout.decode()
    assert "host only" not in out
    assert sorted(out.split()) == sorted(["bin", "dev", "etc", "proc", "root", "sys", "tmp"] * 2)


@pytest.mark.parametrize(
    "kinds",
    [ALL_KINDS, ("mnt",), ("mnt", "uts", "pid"), ("mnt", "net", "ipc", "cgroup", "time")],
    ids=lambda k: "+".join(k),
)
def test_ns_files_differ_exactly_for_requested_kinds(
    busybox_rootfs: Path, kinds: tuple[str, ...]
) -> None:
    extra = {"uid_mappings": ROOT_MAP, "gid_mappings": ROOT_MAP} if "user" in kinds else {}
    r = sh(
        busybox_rootfs,
        "for k in " + " ".join(ALL_KINDS) + "; do readlink /proc/self/ns/$k; done",
        namespaces=kinds,
        **extra,
    )
    assert r.returncode == 0, r.stderr
    inside = dict(zip(ALL_KINDS, r.stdout.decode().split(), strict=True))
    for kind in ALL_KINDS:
        host = os.readlink(f"/proc/self/ns/{kind}")
        if kind in kinds:
            assert inside[kind] != host, kind
        else:
            assert inside[kind] == host, kind


def test_capture_input_and_env(busybox_rootfs: Path) -> None:
    r = pc.run(
        str(busybox_rootfs),
        ["sh", "-c", "cat; echo $GREETING >&2; pwd"],
        input=b"from stdin\n",
        capture_output=True,
        env={"GREETING": "hello"},
        cwd="/tmp",
    )
    assert r.stdout == b"from stdin\n/tmp\n"
    assert r.stderr == b"hello\n"


def test_large_output_does_not_deadlock(busybox_rootfs: Path) -> None:
    r = sh(busybox_rootfs, "head -c 5000000 /dev/zero; head -c 300000 /dev/zero >&2")
    assert len(r.stdout) == 5_000_000 and len(r.stderr) == 300_000


def test_exit_status_and_signals(busybox_rootfs: Path) -> None:
    assert sh(busybox_rootfs, "exit 7").returncode == 7
    # a signal from outside the pid namespace kills PID 1 as usual: 128 + 9
    r = sh(busybox_rootfs, "kill -9 $$; exit 0", namespaces=("mnt",))
    assert r.returncode == 137


def test_check_raises_on_failure(busybox_rootfs: Path) -> None:
    with pytest.raises(pc.ContainerExitError) as info:
        pc.run(str(busybox_rootfs), ["false"], check=True)
    assert info.value.returncode == 1


def test_timeout_kills_and_cleans_up(busybox_rootfs: Path, no_leaks: object) -> None:
    with pytest.raises(pc.ContainerTimeout):
        pc.run(str(busybox_rootfs), ["sleep", "30"], timeout=0.3)
    with pytest.raises(pc.ContainerTimeout) as info:
        sh(busybox_rootfs, "echo partial; sleep 30", timeout=0.5)
    assert info.value.stdout == b"partial\n"


def test_user_numeric_and_by_name(busybox_rootfs: Path) -> None:
    assert sh(busybox_rootfs, "id -u; id -g", user="123:456").stdout.split() == [b"123", b"456"]
    script = "id -u; id -g; grep Groups /proc/self/status"
    assert sh(busybox_rootfs, script, user="alice").stdout.split() == [
        b"1000",
        b"1000",
        b"Groups:",
        b"50",
    ]
    # a numeric user found in /etc/passwd takes its primary group and supplementary groups
    assert sh(busybox_rootfs, script, user="1000").stdout.split() == [
        b"1000",
        b"1000",
        b"Groups:",
        b"50",
    ]
    # an explicit gid wins; root gets no supplementary groups from the host
    assert sh(busybox_rootfs, script, user="1000:7").stdout.split() == [
        b"1000",
        b"7",
        b"Groups:",
        b"50",
    ]
    assert sh(busybox_rootfs, script).stdout.split() == [b"0", b"0", b"Groups:"]
    with pytest.raises(pc.SpecError, match="unable to find user mallory"):
        sh(busybox_rootfs, "id", user="mallory")


def test_rlimits_within_the_hard_limit(busybox_rootfs: Path) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    r = sh(busybox_rootfs, "ulimit -n", rlimits={"nofile": (64, min(hard, 128))})
    assert r.stdout.strip() == b"64"


def test_rlimit_above_hard_limit_is_a_clear_error(busybox_rootfs: Path, no_leaks: object) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("nofile hard limit is unlimited here")
    with open("/proc/self/status") as f:
        if int(next(line for line in f if line.startswith("CapEff")).split()[1], 16) >> 24 & 1:
            pytest.skip("this process has CAP_SYS_RESOURCE and may raise hard limits")
    with pytest.raises(pc.ContainerStartError, match="CAP_SYS_RESOURCE") as info:
        sh(busybox_rootfs, "true", rlimits={"nofile": hard + 1})
    assert info.value.stage == "rlimit"


def test_init_reaps_zombies_and_forwards_exit_status(busybox_rootfs: Path) -> None:
    # the orphaned "sleep" children are reparented to init and reaped
    script = "(sleep 0.1 &) ; (sleep 0.1 &); sleep 0.3; ps -o pid,stat,comm; exit 5"
    r = sh(busybox_rootfs, script, init=True)
    assert r.returncode == 5
    out = r.stdout.decode()
    assert " Z " not in out, out
    assert out.split("\n")[1].split()[0] == "1" and out.split("\n")[1].split()[-1] == "init"


def test_init_forwards_signals(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], init=True) as c:
        c.start()
        c.kill(15)  # init passes SIGTERM on; sleep dies of it
        assert c.wait(timeout=10) == 128 + 15


def test_host_image_runs_with_nothing_downloaded() -> None:
    # GNU ls is dynamically linked: the host's libraries resolve inside
    r = pc.run(
        "host",
        [
            "sh",
            "-c",
            "ls --version | head -1; echo hi > /tmp/f && cat /tmp/f; "
            "touch /usr/x 2>&1; touch /x 2>&1; cat /etc/hostname; hostname",
        ],
        capture_output=True,
    )
    out = r.stdout.decode().splitlines()
    assert out[0].startswith("ls (GNU coreutils)") and out[1] == "hi"
    assert "Read-only file system" in out[2] and "Read-only file system" in out[3]
    assert out[4] == out[5]


def test_bind_mounts_ro_and_rw(fresh_rootfs: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in").write_text("x\n")
    mounts = [
        pc.Mount("/data", str(data)),
        pc.Mount("/ro", str(data), read_only=True),
        pc.Mount("/scratch", type="tmpfs", options=("size=1m",)),
    ]
    r = sh(
        fresh_rootfs,
        "cat /data/in; echo y > /data/out; echo z > /ro/no || echo refused; "
        "echo w > /scratch/f && cat /scratch/f",
        mounts=mounts,
    )
    assert r.stdout.split() == [b"x", b"refused", b"w"]
    assert (data / "out").read_text() == "y\n"
    assert not (data / "no").exists()
    # missing mount points are created inside the rootfs, and stay empty on the host side
    assert sorted(os.listdir(fresh_rootfs / "scratch")) == []
    assert os.listdir(fresh_rootfs / "data") == []


def test_readonly_rootfs(fresh_rootfs: Path) -> None:
    r = sh(
        fresh_rootfs,
        "touch /x 2>&1; touch /tmp/x 2>&1; touch /dev/shm/x && echo shm-ok",
        readonly_rootfs=True,
    )
    assert r.stdout.decode().count("Read-only file system") == 2
    assert b"shm-ok" in r.stdout
    assert not (fresh_rootfs / "x").exists()


def test_cli_run_exit_codes(busybox_rootfs: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pycontainers", "run", "--rm", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    r = cli(
        "--hostname",
        "h1",
        "-e",
        "A=b",
        "-w",
        "/tmp",
        "-u",
        "7:8",
        str(busybox_rootfs),
        "--",
        "sh",
        "-c",
        "echo $A $(hostname) $(pwd) $(id -u):$(id -g); exit 3",
    )
    assert r.returncode == 3 and r.stdout.split() == ["b", "h1", "/tmp", "7:8"]
    assert cli(str(busybox_rootfs), "nosuchcmd").returncode == 127
    assert cli(str(busybox_rootfs), "/etc/passwd").returncode == 126
    r = cli("/nonexistent/rootfs", "true")
    assert r.returncode == 125 and "not a directory" in r.stderr
    with open("/proc/net/dev") as f:
        host_ifaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    r = cli("--network", "host", "host", "cat", "/proc/net/dev")
    assert sorted(line.split(":")[0].strip() for line in r.stdout.splitlines()[2:]) == host_ifaces
    r = cli("--network", "none", "host", "cat", "/proc/net/dev")
    assert [line.split(":")[0].strip() for line in r.stdout.splitlines()[2:]] == ["lo"]
    assert cli("--init", str(busybox_rootfs), "sh", "-c", "exit 4").returncode == 4


def test_a_path_object_is_a_directory_rootfs(
    busybox_rootfs: Path, monkeypatch: pytest.MonkeyPatch, no_leaks: object
) -> None:
    """pathlib.Path (any os.PathLike) names a directory, also relative to the working
    directory; a relative string stays an image reference, as in Docker.
    """
    r = pc.run(busybox_rootfs, ["sh", "-c", "echo in"], capture_output=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, b"in\n")
    monkeypatch.chdir(busybox_rootfs.parent)
    relative = Path(busybox_rootfs.name)
    c = pc.Container.create(relative, ["true"])
    try:
        assert c.spec is not None and c.spec.rootfs == str(busybox_rootfs)
        c.start()
        assert c.wait(timeout=30) == 0
    finally:
        c.delete()
    with pytest.raises(LookupError, match="no image"):
        pc.run(busybox_rootfs.name, ["true"], timeout=30)  # an image name, not in the store
