"""Every way into a container confines a process exactly as the container's own process.

A parametrized matrix: configuration {default, cap_add NET_ADMIN, cap_drop ALL, privileged,
a custom seccomp profile, userns="auto"} x entry point {the first process, exec from the
creator, exec after ``Container.load`` in a fresh interpreter, CLI ``exec``, ``exec -d``,
``exec -t``, ``exec -u 1000``, a health-check command, the first process after a
restart-policy restart}. Each probe reports its own ``/proc/self/status`` security lines,
uid/gid maps, cgroups and namespace links; they must equal the container's first process's.
Rootless is the last column, in ``test_rootless.py`` (it needs an ordinary user's session).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pycontainers as pc

pytestmark = [pytest.mark.root]

STATUS_FIELDS = (
    "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters",
)  # fmt: skip
DOCKER_CAPS = 0xA80425FB
NS_KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")

PROBE = (
    "grep -E '^(" + "|".join(STATUS_FIELDS) + "):' /proc/self/status; "
    'echo "uid_map $(cat /proc/self/uid_map | tr -s " \\n" " ")"; '
    'echo "gid_map $(cat /proc/self/gid_map | tr -s " \\n" " ")"; '
    'echo "cgroup $(sort /proc/self/cgroup | tr "\\n" " ")"; '
    f'for n in {" ".join(NS_KINDS)}; do echo "ns_$n $(readlink /proc/self/ns/$n)"; done'
)
"""Shell that prints ``key value`` lines describing the process that runs it."""

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


def parse_probe(text: str) -> dict[str, str]:
    """``key value`` lines (a pty's \\r included) -> a dict; fails on an empty probe."""
    out = {}
    for line in text.replace("\r", "").splitlines():
        words = line.split()
        if words:
            out[words[0].rstrip(":")] = " ".join(words[1:])
    assert set(STATUS_FIELDS) <= set(out), f"incomplete probe output: {text!r}"
    return out


def as_user(probe: dict[str, str]) -> dict[str, str]:
    """What a probe of a non-root user looks like: no permitted or effective capability."""
    return {**probe, "CapPrm": "0" * 16, "CapEff": "0" * 16}


def cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI as a whole process, as a user would."""
    kw.setdefault("timeout", 60)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "pycontainers", *args], capture_output=True, **kw)


def wait_for(path: str, timeout: float = 30.0) -> str:
    """The text of ``path`` once it exists (written with a rename: never half a file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            time.sleep(0.05)
    raise AssertionError(f"{path} did not appear in {timeout} s")


def written(name: str, script: str) -> str:
    """Shell that writes the output of ``script`` to /tmp/NAME atomically."""
    return f"({script}) > /tmp/{name}.tmp 2>&1; mv /tmp/{name}.tmp /tmp/{name}"


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


def restart_main(script: str) -> str:
    """The container's command: run ``script`` into /tmp/main (/tmp/main2 after a restart,
    told apart by a mark on a bind mount that outlives the run), then sleep."""
    return (
        f"if [ -e /marks/once ]; then {written('main2', script)}; "
        f"else touch /marks/once; {written('main', script)}; fi; exec sleep 300"
    )


def everywhere(
    make: Callable[..., pc.Container],
    script: str,
    marks: Path,
    **config: Any,
) -> dict[str, tuple[str, str]]:
    """Run ``script`` through every entry point of one detached container made by ``make``.

    ``marks`` is bound at /marks (a file there tells a restart from the first run; the
    monitor's pid is written to /marks/monitor). Returns {entry point: (user, output)},
    where user is "root" or "1000" (``exec -u``).
    """
    name = f"entry-{os.urandom(4).hex()}"
    out: dict[str, tuple[str, str]] = {}
    c = make(
        ["sh", "-c", restart_main(script)],
        name=name,
        detach=True,
        restart="on-failure:2",
        healthcheck=pc.HealthCheck(written("health", script), interval="500ms"),
        mounts=[pc.Mount("/marks", str(marks))],
        **config,
    )
    try:
        (marks / "monitor").write_text(str(monitor_pid(c)))
        c.start()
        tmp = f"/proc/{c.pid}/root/tmp"
        out["first process"] = ("root", wait_for(f"{tmp}/main"))
        r = c.exec(["sh", "-c", script], capture_output=True, timeout=30)
        out["exec from the creator"] = ("root", r.stdout.decode())
        code = (
            "import sys, pycontainers as pc; c = pc.Container.load(sys.argv[1]); "
            "sys.stdout.write(c.exec(['sh', '-c', sys.argv[2]], capture_output=True).stdout.decode())"
        )
        r = subprocess.run([sys.executable, "-c", code, name, script], capture_output=True,
                           timeout=60)  # fmt: skip
        out["exec after load in a fresh interpreter"] = ("root", r.stdout.decode())
        for label, flags in (("CLI exec", ()), ("CLI exec -t", ("-t",)),
                             ("CLI exec -u 1000", ("-u", "1000"))):  # fmt: skip
            r = cli("exec", *flags, name, "sh", "-c", script)
            assert r.returncode == 0, (label, r.stderr)
            out[label] = ("1000" if "-u" in flags else "root", r.stdout.decode())
        r = cli("exec", "-d", name, "sh", "-c", written("detached", script))
        assert r.returncode == 0, r.stderr
        out["CLI exec -d"] = ("root", wait_for(f"{tmp}/detached"))
        out["health check"] = ("root", wait_for(f"{tmp}/health"))
        # the restart policy starts the same container again
        os.kill(c.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pc.Container.load(name).restart_count < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        again = pc.Container.load(name)
        (marks / "monitor").write_text(str(monitor_pid(again)))
        try:
            out["first process after a restart"] = (
                "root", wait_for(f"/proc/{again.pid}/root/tmp/main2")
            )  # fmt: skip
            r = again.exec(["sh", "-c", script], capture_output=True, timeout=30)
            out["exec after a restart"] = ("root", r.stdout.decode())
        finally:
            again.close()
    finally:
        pc.Container.load(name).delete()
        c.close()
    return out


def monitor_pid(c: pc.Container) -> int:
    """The host pid of a detached container's monitor, from its state file."""
    with open(os.path.join(c.state_dir, "state.json")) as f:
        return int(json.load(f)["monitor_pid"])


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
    host = {f"ns_{k}": os.readlink(f"/proc/self/ns/{k}") for k in NS_KINDS}
    restarted = parse_probe(outputs["first process after a restart"][1])
    for cell, (user, text) in outputs.items():
        probe = parse_probe(text)
        if cell.endswith("after a restart"):
            # new namespaces, each the container's own exactly where the first run's were
            for key in host:
                assert (probe[key] == host[key]) == (first[key] == host[key]), (cell, key)
            want = {k: v for k, v in first.items() if not k.startswith("ns_")}
            have = {k: v for k, v in probe.items() if not k.startswith("ns_")}
            assert have == want, f"{config_name} x {cell}"
            if cell == "exec after a restart":
                assert probe == restarted, f"{config_name} x {cell}"
            continue
        assert probe == (as_user(first) if user == "1000" else first), f"{config_name} x {cell}"


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
    assert len(outputs) == 10
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
