"""Escape tests: one test per attack that runc, crun, Docker or bubblewrap once let through.

Each test is named after the attack (CVE) it stops and runs it for real against the kernel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pty
import threading
from pathlib import Path
from typing import Any

import pytest

import pycontainers as pc

pytestmark = pytest.mark.root

DOCKER_DEFAULT_CAPS = 0xA80425FB  # Docker's 14 default capabilities as a mask


def status_field(text: str, name: str) -> str:
    return next(line.split()[1] for line in text.splitlines() if line.startswith(f"{name}:"))


def sh(rootfs: Path | str, script: str, **kw: object) -> pc.CompletedContainer:
    kw.setdefault("timeout", 30)
    return pc.run(str(rootfs), ["sh", "-c", script], capture_output=True, **kw)  # type: ignore[arg-type]


def test_default_capabilities_are_dockers_fourteen(busybox_rootfs: Path) -> None:
    out = sh(busybox_rootfs, "cat /proc/self/status").stdout.decode()
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(status_field(out, field), 16) == DOCKER_DEFAULT_CAPS, field


def test_cve_2022_29162_inheritable_and_ambient_capabilities_are_empty(
    busybox_rootfs: Path,
) -> None:
    for kw in ({}, {"user": "1000"}, {"cap_add": ["NET_ADMIN"]}, {"privileged": True}):
        out = sh(busybox_rootfs, "cat /proc/self/status", **kw).stdout.decode()
        assert int(status_field(out, "CapInh"), 16) == 0, kw
        assert int(status_field(out, "CapAmb"), 16) == 0, kw


def test_non_root_user_has_no_effective_capabilities(busybox_rootfs: Path) -> None:
    out = sh(busybox_rootfs, "cat /proc/self/status", user="1000").stdout.decode()
    assert int(status_field(out, "CapEff"), 16) == 0
    assert int(status_field(out, "CapBnd"), 16) == DOCKER_DEFAULT_CAPS


def test_cap_drop_all_and_cap_add(busybox_rootfs: Path) -> None:
    out = sh(
        busybox_rootfs, "cat /proc/self/status", cap_drop=["ALL"], cap_add=["net_bind_service"]
    )
    assert int(status_field(out.stdout.decode(), "CapEff"), 16) == 1 << 10


def test_cve_2019_19921_proc_as_a_symlink_fails_to_start(
    fresh_rootfs: Path, no_leaks: object
) -> None:
    for name, target in (("proc", "/"), ("sys", "/etc"), ("proc", "tmp")):
        path = fresh_rootfs / name
        path.rmdir()
        path.symlink_to(target)
        with pytest.raises(pc.ContainerStartError) as info:
            pc.run(str(fresh_rootfs), ["true"])
        assert info.value.stage == "mount" and f"/{name}" in str(info.value)
        path.unlink()
        path.mkdir()


def test_cve_2019_18837_mount_target_escaping_through_symlinks(
    fresh_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    (fresh_rootfs / "abs").symlink_to(str(outside))
    (fresh_rootfs / "rel").symlink_to("../../../../../../../../" + str(outside).lstrip("/"))
    for target in ("/abs", "/abs/x", "/rel", "/rel/x"):
        with pytest.raises(pc.ContainerStartError, match="outside the container's rootfs"):
            pc.run(str(fresh_rootfs), ["true"], mounts=[pc.Mount(target, str(src))])
    assert os.listdir(outside) == []


def _renameat2_exchange() -> Any:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fn = libc.renameat2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


@pytest.mark.slow
def test_cve_2021_30465_symlink_exchange_race_never_mounts_outside(
    fresh_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    """A racer swaps a directory and a symlink pointing out of the rootfs with
    renameat2(RENAME_EXCHANGE) while containers start with a volume on that path. Every start
    either fails cleanly or has the volume inside its own root; nothing lands outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / "vol"
    src.mkdir()
    (src / "marker").write_text("volume\n")
    race = fresh_rootfs / "race"
    race.mkdir()
    (race / "a").mkdir()
    (race / "b").symlink_to(str(outside))
    exchange = _renameat2_exchange()
    stop = threading.Event()
    swaps = 0

    def racer() -> None:
        nonlocal swaps
        a, b = str(race / "a").encode(), str(race / "b").encode()
        while not stop.is_set():
            exchange(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE
            swaps += 1

    thread = threading.Thread(target=racer)
    thread.start()
    started = failed = 0
    try:
        for _ in range(400):
            try:
                r = sh(fresh_rootfs, "grep -o ' /race/[ab] ' /proc/self/mountinfo",
                       mounts=[pc.Mount("/race/a", str(src))])  # fmt: skip
            except pc.ContainerStartError as exc:
                assert exc.stage == "mount"
                failed += 1
                continue
            started += 1
            # the volume is mounted on the directory that was resolved, wherever the racer
            # has renamed it since: always inside the container's root
            assert r.stdout.decode().split() in (["/race/a"], ["/race/b"]), (r.stdout, r.stderr)
    finally:
        stop.set()
        thread.join()
    assert swaps > 400 and started > 0
    assert os.listdir(outside) == []


def test_cve_2025_31133_masked_paths_stay_masked_and_core_pattern_unwritable(
    busybox_rootfs: Path,
) -> None:
    # masked files are the host's /dev/null: whatever is written vanishes, they stay empty;
    # masked directories are empty read-only tmpfs
    script = (
        "for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do "
        "  [ -e $p ] && { echo x > $p 2>/dev/null; wc -c < $p; }; done; "
        "ls /proc/acpi /proc/scsi /sys/firmware 2>/dev/null | grep -v : | grep . && echo LISTED; "
        "touch /proc/scsi/x /sys/firmware/x 2>/dev/null && echo WROTE tmpfs; "
        "echo '|/tmp/evil' > /proc/sys/kernel/core_pattern 2>/dev/null && echo WROTE core_pattern; "
        "echo 1 > /proc/sysrq-trigger 2>/dev/null && echo WROTE sysrq; echo done"
    )
    r = sh(busybox_rootfs, script)
    out = r.stdout.decode()
    assert "WROTE" not in out and "LISTED" not in out and out.endswith("done\n"), out
    assert all(line.strip() == "0" for line in out.splitlines()[:-1]), out
    with open("/proc/sys/kernel/core_pattern") as f:
        assert "evil" not in f.read()


def test_cve_2025_31133_a_symlinked_dev_null_in_the_rootfs_is_never_used(
    fresh_rootfs: Path,
) -> None:
    (fresh_rootfs / "dev" / "null").symlink_to("/proc/sys/kernel/core_pattern")
    r = sh(fresh_rootfs, "cat /proc/keys | wc -c; ls -l /dev/null")
    assert r.stdout.decode().split()[0] == "0"
    assert r.stdout.decode().split()[1].startswith("crw")


def test_cve_2024_21626_no_host_fd_leaks_into_the_container(
    busybox_rootfs: Path, tmp_path: Path
) -> None:
    leaked = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)  # inheritable on purpose
    os.set_inheritable(leaked, True)
    try:
        r = sh(busybox_rootfs, "ls /proc/self/fd")
        assert sorted(int(fd) for fd in r.stdout.split()) == [0, 1, 2, 3]  # 3: ls's own dir fd
        with pytest.raises(pc.ContainerStartError) as info:
            pc.run(str(busybox_rootfs), ["true"], cwd=f"/proc/self/fd/{leaked}")
        assert info.value.stage == "cwd"
    finally:
        os.close(leaked)


def test_cve_2016_3697_numeric_user_is_not_looked_up_as_a_name(fresh_rootfs: Path) -> None:
    with open(fresh_rootfs / "etc" / "passwd", "a") as f:
        f.write("4321:x:0:0:a name that is a number:/:/bin/sh\n")
    r = sh(fresh_rootfs, "id -u", user="4321")
    assert r.stdout.strip() == b"4321"


def test_cve_2022_36109_supplementary_groups_are_applied(busybox_rootfs: Path) -> None:
    # alice is in group staff (50) in the rootfs's /etc/group: the kernel must see it
    r = sh(busybox_rootfs, "grep Groups /proc/self/status", user="alice")
    assert r.stdout.split()[1:] == [b"50"]


def test_cve_2017_5226_tiocsti_cannot_inject_into_an_inherited_terminal() -> None:
    """The container gets a terminal of ours as stdin; pushing input into it with TIOCSTI
    must fail because the container runs in a new session without a controlling tty."""
    master, slave = pty.openpty()
    try:
        code = (
            "import fcntl, termios, sys\n"
            "try:\n    fcntl.ioctl(0, termios.TIOCSTI, b'X'); print('INJECTED')\n"
            "except OSError as e:\n    print('refused', e.errno)\n"
        )
        r = pc.run(
            "host", ["/usr/bin/python3", "-c", code], stdin=slave, stdout=pc.PIPE, timeout=30
        )
        assert r.stdout.decode().startswith("refused"), r.stdout
        os.set_blocking(master, False)
        with pytest.raises(BlockingIOError):
            os.read(master, 10)
    finally:
        os.close(master)
        os.close(slave)


SYSCALL_PROBE = r"""
import ctypes, ctypes.util, os, socket, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
def attempt(name, fn):
    ctypes.set_errno(0)
    rc = fn()
    print(name, "ALLOWED" if rc is not None and rc >= 0 else "refused", ctypes.get_errno())
attempt("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
attempt("unshare", lambda: libc.unshare(0x04000000))
attempt("setns", lambda: libc.setns(os.open("/proc/1/ns/uts", os.O_RDONLY), 0))
attempt("keyctl", lambda: libc.syscall(250, 0, 0, 0, 0, 0))
attempt("bpf", lambda: libc.syscall(321, 0, 0, 0))
attempt("kexec_load", lambda: libc.syscall(246, 0, 0, 0, 0))
attempt("ptrace_attach_host", lambda: libc.ptrace(16, int(sys.argv[1]), 0, 0))
def sysrq():
    try:
        with open("/proc/sysrq-trigger", "w") as f:
            f.write("h")
        return 0
    except OSError as e:
        ctypes.set_errno(e.errno)
        return -1
attempt("sysrq", sysrq)
"""


def test_dangerous_syscalls_from_inside_are_refused() -> None:
    r = pc.run("host", ["/usr/bin/python3", "-c", SYSCALL_PROBE, str(os.getpid())],
               namespaces=("pid", "mnt", "uts", "ipc", "net"), capture_output=True, timeout=60)  # fmt: skip
    results = dict(line.split()[:2] for line in r.stdout.decode().splitlines())
    assert set(results) == {"mount", "unshare", "setns", "keyctl", "bpf", "kexec_load",
                            "ptrace_attach_host", "sysrq"}, r.stderr  # fmt: skip
    assert all(v == "refused" for v in results.values()), results


def test_writing_cgroupfs_from_inside_is_refused(busybox_rootfs: Path) -> None:
    script = (
        "echo 999 > /sys/fs/cgroup/pids/pids.max 2>/dev/null && echo WROTE limit; "
        "mkdir /sys/fs/cgroup/memory/escape 2>/dev/null && echo MADE group; "
        "echo 1 > /sys/fs/cgroup/unified/cgroup.procs 2>/dev/null && echo MOVED; "
        "read m < /sys/fs/cgroup/pids/pids.max; echo $m"
    )
    r = sh(busybox_rootfs, script, pids_limit=40)
    assert r.stdout.split() == [b"40"], r.stdout


def test_device_nodes_made_inside_cannot_be_opened(busybox_rootfs: Path) -> None:
    """Container root keeps CAP_MKNOD (as in Docker), but a disk or memory node it makes, in
    /dev or anywhere in its rootfs, cannot be opened: both are nodev mounts and the standard
    devices are binds of the host's."""
    script = (
        "mknod /dev/disk b 8 0; mknod /tmp/mem c 1 1; "
        "for n in /dev/disk /tmp/mem; do head -c 1 $n >/dev/null 2>&1 && echo OPENED $n; done; "
        "head -c 4 /dev/urandom | wc -c; echo ok > /dev/null && echo null-ok; "
        "rm -f /dev/disk /tmp/mem"  # the rootfs is shared by later tests (copied whole)
    )
    r = sh(busybox_rootfs, script)
    assert r.stdout.split() == [b"4", b"null-ok"], r.stdout + r.stderr


@pytest.mark.parametrize("how", ["run", "create"])
def test_device_nodes_in_a_bind_mount_cannot_be_opened(
    busybox_rootfs: Path, tmp_path: Path, how: str
) -> None:
    """A bind mount from the host is not nodev (Docker's volumes are not either), so there
    only the device cgroup stands between container root (CAP_MKNOD) and a host device: a
    container with no limits gets one too, from ``pc.run`` as from ``Container.create``. The
    null node made beside them opens, so the volume does allow device nodes."""
    vol = tmp_path / "vol"
    vol.mkdir()
    script = (
        "mknod /vol/loop b 7 0; mknod /vol/ctl c 10 237; mknod /vol/null c 1 3; "
        "for n in /vol/loop /vol/ctl; do head -c 1 $n >/dev/null 2>&1 && echo OPENED $n; done; "
        "echo x > /vol/null && echo null-ok"
    )
    mounts = [pc.Mount("/vol", str(vol))]
    if how == "run":
        r = sh(busybox_rootfs, script, mounts=mounts)
        out, code = r.stdout + r.stderr, r.returncode
    else:
        with pc.Container.create(str(busybox_rootfs), ["sh", "-c", script], mounts=mounts,
                                 detach=True) as c:  # fmt: skip
            c.start()
            code = c.wait(timeout=30)
            out = b"".join(e.data for e in c.logs())
            c.delete()
    assert code == 0 and out.split() == [b"null-ok"], out
    assert {p.name for p in vol.iterdir()} == {"loop", "ctl", "null"}


def test_cve_2019_5736_host_binary_unreachable_through_proc_exe(busybox_rootfs: Path) -> None:
    """The init (a fork of this interpreter that never execs) lives inside the container, and
    exec'd processes enter through a fork of it: none may expose the host's binary or memory.
    Every process the container can see must be its own; the init must refuse /proc/1/exe,
    /proc/1/mem and /proc/1/environ (it is non-dumpable) and show no host command line."""
    import hashlib
    import sys

    digest = hashlib.sha256(Path(sys.executable).resolve().read_bytes()).hexdigest()
    probe = (
        "readlink /proc/1/exe && echo LEAK exe; head -c 1 /proc/1/mem >/dev/null 2>&1 && echo LEAK mem; "
        "head -c 1 /proc/1/environ >/dev/null 2>&1 && echo LEAK environ; "
        "tr '\\0' ' ' < /proc/1/cmdline | grep -q python && echo LEAK cmdline; "
        "for p in /proc/[0-9]*; do l=$(readlink $p/exe 2>/dev/null) && "
        "case $l in /bin/busybox) ;; *) echo FOREIGN $p $l;; esac; done; echo checked"
    )
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], init=True) as c:
        c.start()
        for _ in range(20):
            r = c.exec(["sh", "-c", probe], capture_output=True, timeout=30)
            out = r.stdout.decode()
            assert out.strip().endswith("checked") and "LEAK" not in out and "FOREIGN" not in out, (
                out
            )
            # and writing the host binary through /proc/1/exe is refused outright
            r = c.exec(
                ["sh", "-c", "echo x >> /proc/1/exe && echo WROTE"], capture_output=True, timeout=30
            )
            assert b"WROTE" not in r.stdout
    assert hashlib.sha256(Path(sys.executable).resolve().read_bytes()).hexdigest() == digest


def test_cve_2022_29162_exec_gets_no_inheritable_or_ambient_capabilities(
    busybox_rootfs: Path,
) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"]) as c:
        c.start()
        for user in (None, "1000"):
            out = c.exec(
                ["cat", "/proc/self/status"], capture_output=True, user=user
            ).stdout.decode()
            assert (
                int(status_field(out, "CapInh"), 16) == 0
                and int(status_field(out, "CapAmb"), 16) == 0
            )
            assert status_field(out, "Seccomp") == "2" and status_field(out, "NoNewPrivs") == "1"


def test_device_cgroup_allows_only_the_standard_devices(busybox_rootfs: Path) -> None:
    from pycontainers.cgroups import detect_layout

    if "devices" not in detect_layout().v1_controllers:
        pytest.skip("no v1 devices controller on this host (pure v2 relies on the nodev mounts)")
    script = "cat /sys/fs/cgroup/devices/devices.list; head -c 1 /dev/zero | wc -c"
    out = sh(busybox_rootfs, script, memory="64m").stdout.decode().splitlines()
    assert "a *:* rwm" not in out
    assert {"c 1:3 rwm", "c 1:9 rwm", "c 136:* rwm"} <= set(out) and out[-1] == "1"
