"""Every way into a container confines a process exactly as the container's own process.

A parametrized matrix: configuration {default, cap_add NET_ADMIN, cap_drop ALL, privileged,
a custom seccomp profile, userns="auto"} x entry point {the first process, exec from the
creator, exec after ``Container.load`` in a fresh interpreter, CLI ``exec``, ``exec -d``,
``exec -t``, ``exec -u 1000``, a health-check command (spawned by the monitor from its
sealed entry), the first process, an exec and a health check after a restart-policy
restart}. Each probe reports its own ``/proc/self/status`` ids and security lines, uid/gid
maps, cgroups and namespace links; they must equal the container's first process's.
Rootless is the last column, in ``test_rootless.py`` (it needs an ordinary user's session).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from entry_matrix import (
    DOCKER_CAPS,
    PROBE,
    cli,
    everywhere,
    mismatches,
    parse_probe,
)

import pycontainers as pc

pytestmark = [pytest.mark.root]

CUSTOM_SECCOMP = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        {"names": ["sethostname", "mount", "unshare", "keyctl"], "action": "SCMP_ACT_ERRNO"}
    ],
}

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "cap-add-net-admin": {"cap_add": ["NET_ADMIN"]},
    "cap-drop-all": {"cap_drop": ["ALL"]},
    "privileged": {"privileged": True},
    "custom-seccomp": {"seccomp": CUSTOM_SECCOMP},
    "userns-auto": {"userns": "auto"},
}


@pytest.fixture
def reachable_rootfs(rootfs_factory: Callable[[Path], Path]) -> Iterator[Path]:
    """A busybox rootfs that a user namespace's mapped root can reach (not under 0700 dirs)."""
    base = Path(tempfile.mkdtemp(prefix="pycontainers-entry-"))
    base.chmod(0o755)
    try:
        yield rootfs_factory(base / "rootfs")
    finally:
        shutil.rmtree(base)


def _needs_auto_range(config: dict[str, Any]) -> None:
    if config.get("userns") == "auto":
        from pycontainers.security.userns import auto_mappings

        try:
            auto_mappings()
        except pc.SpecError as exc:
            pytest.skip(f"no subordinate ids for userns='auto' on this host: {exc}")


@pytest.fixture
def marks() -> Iterator[Path]:
    """A directory any container user can write, bound at /marks."""
    path = Path(tempfile.mkdtemp(prefix="pycontainers-marks-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_every_entry_point_matches_the_first_process(
    config_name: str, reachable_rootfs: Path, marks: Path
) -> None:
    config = CONFIGS[config_name]
    _needs_auto_range(config)

    def make(args: list[str], **kw: Any) -> pc.Container:
        tmp = pc.Mount("/tmp", type="tmpfs", options=("mode=1777",))
        kw["mounts"] = [tmp, *kw["mounts"]]
        return pc.Container.create(str(reachable_rootfs), args, **kw)

    outputs = everywhere(make, PROBE, marks, **config)
    first = parse_probe(outputs["first process"][1])
    # the first process itself is what the configuration asks for
    held = int(parse_probe(subprocess.run(["sh", "-c", PROBE], capture_output=True,
                                          text=True).stdout)["CapEff"], 16)  # fmt: skip
    bounding = {"default": DOCKER_CAPS, "cap-add-net-admin": DOCKER_CAPS | 1 << 12,
                "cap-drop-all": 0, "privileged": held, "custom-seccomp": DOCKER_CAPS,
                "userns-auto": DOCKER_CAPS}[config_name]  # fmt: skip
    assert int(first["CapBnd"], 16) == int(first["CapEff"], 16) == bounding, first
    if config_name == "privileged":
        assert first["Seccomp"] == "0", first
    else:
        assert (first["Seccomp"], first["NoNewPrivs"]) == ("2", "1"), first
    if config_name == "userns-auto":
        from pycontainers.security.userns import auto_mappings

        m = auto_mappings()[0][0]
        assert first["uid_map"] == f"{m.container_id} {m.host_id} {m.size}", first
    else:
        assert first["uid_map"] == "0 0 4294967295", first
    assert mismatches(outputs) == [], config_name


ATTACK_PROBE = r"""
import ctypes, errno, os, stat, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def attempt(name, fn):
    ctypes.set_errno(0)
    try:
        rc = fn()
        err = ctypes.get_errno()
    except OSError as exc:
        rc, err = -1, exc.errno
    print(name, "ALLOWED" if rc is not None and rc >= 0 else errno.errorcode.get(err, str(err)))
    return rc
monitor = int(open("/marks/monitor").read())
attempt("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
attempt("unshare-m", lambda: libc.unshare(0x00020000))
attempt("sethostname", lambda: libc.sethostname(b"evil", 4))
attempt("keyctl", lambda: libc.syscall(250, 0, -3, 0))  # KEYCTL_GET_KEYRING_ID(session)
image = ctypes.create_string_buffer(b"\0" * 64)
attempt("init_module", lambda: libc.syscall(175, image, 64, b""))
attempt("finit_module", lambda: libc.syscall(313, os.open("/bin/sh", os.O_RDONLY), b"", 0))
handle = ctypes.create_string_buffer(b"\x08\0\0\0\x01\0\0\0" + b"\0" * 8)
attempt("open_by_handle_at", lambda: libc.syscall(304, os.open("/", os.O_RDONLY), handle, 0))
attempt("kexec_load", lambda: libc.syscall(246, 0, 0, None, 0xFFFF0000))
if attempt("ptrace-monitor", lambda: libc.ptrace(16, monitor, None, None)) == 0:
    libc.ptrace(17, monitor, None, None)
def write_cgroupfs():
    for path in ("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max",
                 "/sys/fs/cgroup/cgroup.procs"):
        if os.path.exists(path):
            with open(path, "w") as f:
                f.write("max\n")
            return 0
    raise OSError(errno.ENOENT, "no cgroup file")
attempt("write-cgroupfs", write_cgroupfs)
def mknod_open():
    path = f"/tmp/mem-{os.getpid()}"
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 1))
    try:
        os.close(os.open(path, os.O_RDONLY))
    finally:
        os.unlink(path)
    return 0
attempt("mknod-open", mknod_open)
attempt("unshare-U", lambda: libc.unshare(0x10000000))  # last: it would drop the rest's rights
"""
REFUSED = {"EPERM", "EACCES", "EROFS", "ESRCH"}
"""What a refusal looks like; any other errno means the call got past the policy."""


def attack_results(text: str) -> dict[str, str]:
    """``name outcome`` lines of the attack probe; all twelve must be there."""
    results = dict(line.split(None, 1) for line in text.splitlines() if line.strip())
    assert len(results) == 12, text
    return results


def test_attacks_are_refused_through_every_entry_point(marks: Path) -> None:
    (marks / "attack.py").write_text(ATTACK_PROBE)

    def make(args: list[str], **kw: Any) -> pc.Container:
        return pc.Container.create("host", args, **kw)

    outputs = everywhere(make, "/usr/bin/python3 /marks/attack.py", marks, pids_limit=100)
    assert len(outputs) == 11
    for cell, (_, text) in outputs.items():
        results = attack_results(text)
        allowed = {k: v for k, v in results.items() if v not in REFUSED}
        assert not allowed, f"{cell}: {allowed}"


def test_the_attack_probe_tells_a_refusal_from_a_call_that_got_through(marks: Path) -> None:
    """Without confinement (a privileged container without seccomp, in namespaces of its
    own so nothing reaches the host) the same probe must see the calls get through."""
    (marks / "attack.py").write_text(ATTACK_PROBE)
    (marks / "monitor").write_text("1")
    r = pc.run("host", ["/usr/bin/python3", "/marks/attack.py"], privileged=True,
               seccomp=None, mounts=[pc.Mount("/marks", str(marks))], capture_output=True,
               timeout=60)  # fmt: skip
    results = attack_results(r.stdout.decode())
    through = {"mount", "unshare-m", "unshare-U", "sethostname", "keyctl", "init_module",
               "finit_module", "open_by_handle_at", "kexec_load"}  # fmt: skip
    assert {k: results[k] for k in through if results[k] in REFUSED} == {}, results


def _spec_file(c: pc.Container) -> Path:
    return Path(c.state_dir) / "config.json"


def _break_removed(path: Path) -> None:
    path.unlink()


def _break_truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _add_sys_admin(doc: dict[str, Any]) -> None:
    for key in ("bounding", "effective", "permitted"):
        doc["process"]["capabilities"][key].append("CAP_SYS_ADMIN")


def _break_edited(path: Path) -> None:
    """A hand edit that widens the capabilities: the digest no longer matches."""
    doc = json.loads(path.read_text())
    _add_sys_admin(doc)
    path.write_text(json.dumps(doc))


def _break_edited_and_resealed(path: Path) -> None:
    """The same edit with the digest recomputed: the annotations still say otherwise."""
    from pycontainers.oci import seal

    doc = json.loads(path.read_text())
    _add_sys_admin(doc)
    path.write_text(json.dumps(seal(doc)))


def _break_foreign(path: Path) -> None:
    """A valid, sealed config that we did not write (no io.pycontainers annotations)."""
    from pycontainers.oci import seal

    doc = json.loads(path.read_text())
    doc["annotations"] = {}
    path.write_text(json.dumps(seal(doc)))


def _break_unreadable(path: Path) -> None:
    path.unlink()
    path.mkdir()  # reading it fails with EISDIR


BREAKS = {
    "removed": (_break_removed, "no saved spec"),
    "truncated": (_break_truncated, "not valid JSON"),
    "edited": (_break_edited, "does not match its digest"),
    "edited and resealed": (_break_edited_and_resealed, "process.capabilities.bounding"),
    "not ours": (_break_foreign, "not a config we wrote"),
    "unreadable": (_break_unreadable, "cannot read container spec file"),
}


@pytest.mark.parametrize("how", list(BREAKS))
def test_a_missing_or_corrupt_spec_refuses_every_exec(
    how: str, busybox_rootfs: Path, marks: Path
) -> None:
    """Nothing runs, from the creator, a fresh interpreter or the CLI; the error says why."""
    damage, message = BREAKS[how]
    name = f"broken-{os.urandom(4).hex()}"
    with pc.Container.create(str(busybox_rootfs), ["sleep", "60"], name=name,
                             mounts=[pc.Mount("/marks", str(marks))]) as c:  # fmt: skip
        c.start()
        damage(_spec_file(c))
        with pytest.raises(pc.ContainerError, match=message) as info:
            c.exec(["touch", "/marks/ran-creator"])
        assert "refusing" in str(info.value), info.value
        loaded = pc.Container.load(name)
        try:
            with pytest.raises(pc.ContainerError, match=message):
                loaded.exec(["touch", "/marks/ran-loaded"])
        finally:
            loaded.close()
        r = cli("exec", name, "touch", "/marks/ran-cli")
        assert r.returncode == 125 and message.encode() in r.stderr, r.stderr
    assert list(marks.iterdir()) == [], "a command ran without its container's security"


def test_exec_refuses_a_container_whose_process_was_replaced(busybox_rootfs: Path) -> None:
    """A handle whose main process is gone (and whose pid could be reused) enters nothing."""
    with pc.Container.create(str(busybox_rootfs), ["sleep", "60"]) as c:
        c.start()
        loaded = pc.Container.load(c.id)
        try:
            os.kill(c.pid, signal.SIGKILL)
            c.wait(timeout=10)
            with pytest.raises(pc.ContainerError):
                loaded.exec(["true"])
        finally:
            loaded.close()
