"""OCI interop: the config.json we write runs under runc unchanged, and configs runc writes
load and run here (pycontainers.oci)."""

from __future__ import annotations

import errno
import json
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

import pycontainers as pc
from pycontainers.oci import OciConfigError, from_config, read_config, to_config
from pycontainers.runtime.run import make_spec
from pycontainers.security import _seccomp_bpf
from pycontainers.security._seccomp_profile import native_arch
from pycontainers.security.seccomp import SeccompProfile, compile_profile

pytestmark = pytest.mark.root

RUNC = shutil.which("runc")
needs_runc = pytest.mark.skipif(RUNC is None, reason="runc is not installed (apt-get install runc)")
PROBE = "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; hostname; cat /marks/x"


def status(text: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in text.splitlines() if " " in line or "\t" in line)


@needs_runc
def test_a_bundle_we_write_runs_under_runc(
    busybox_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    (marks / "x").write_text("bound\n")
    spec = make_spec(str(busybox_rootfs), ["sh", "-c", PROBE], hostname="ocibox",
                     mounts=[pc.Mount("/marks", str(marks), read_only=True)])  # fmt: skip
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(to_config(spec)))
    ours = pc.run(spec, capture_output=True, timeout=30)
    r = subprocess.run([str(RUNC), "--root", str(tmp_path / "runc"), "run", "--bundle",
                        str(bundle), f"oci-{tmp_path.name[-8:]}"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines == ours.stdout.decode().split(), (r.stdout, ours.stdout)
    assert lines[1] == "00000000a80425fb" and lines[-2:] == ["ocibox", "bound"], lines


@needs_runc
def test_runc_spec_output_loads_runs_and_round_trips(
    busybox_rootfs: Path, tmp_path: Path, rootfs_factory: object
) -> None:
    subprocess.run([str(RUNC), "spec", "--bundle", str(tmp_path)], check=True)
    shutil.copytree(busybox_rootfs, tmp_path / "rootfs", symlinks=True)
    doc = json.loads((tmp_path / "config.json").read_text())
    doc["process"]["args"] = ["sh", "-c", "grep CapEff /proc/self/status; hostname; ls /dev/pts"]
    doc["process"]["terminal"] = False
    (tmp_path / "config.json").write_text(json.dumps(doc))
    loaded = read_config(str(tmp_path / "config.json"))
    assert loaded.spec.rootfs == str((tmp_path / "rootfs").resolve())
    assert loaded.spec.readonly_rootfs and loaded.spec.hostname == "runc"
    r = pc.run(loaded.spec, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    words = r.stdout.decode().split()
    caps = (1 << 29) | (1 << 5) | (1 << 10)  # AUDIT_WRITE, KILL, NET_BIND_SERVICE
    assert words[:3] == ["CapEff:", f"{caps:016x}", "runc"], words
    # what we do not model (runc's device rules, its /dev mounts) survives the round trip
    back = to_config(loaded.spec, extra=loaded.extra)
    assert back["linux"]["resources"] == doc["linux"]["resources"]
    assert [m["destination"] for m in back["mounts"]][:7] == [
        m["destination"] for m in doc["mounts"]
    ]
    assert from_config(back).spec == loaded.spec


ARG0_IS_5 = {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d["process"].update(args="sh"), "process.args"),
        (lambda d: d["linux"]["namespaces"].append({"type": "bogus"}), "linux.namespaces[5].type"),
        (
            lambda d: d["process"]["rlimits"].append({"type": "RLIMIT_NOFILE", "soft": "x"}),
            "process.rlimits[1].soft",
        ),
        (lambda d: d.pop("process"), "process"),
        (lambda d: d["mounts"].append({"destination": "/x", "type": "weird"}), "mounts[7]"),
        (
            lambda d: d["linux"].update(
                seccomp={
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [
                        {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [ARG0_IS_5]},
                        {"names": ["clone"], "action": "SCMP_ACT_KILL", "args": [ARG0_IS_5]},
                    ],
                }
            ),
            "linux.seccomp.syscalls[1]",
        ),
        (
            lambda d: d["linux"].update(
                seccomp={
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [
                        {
                            "names": ["clone"],
                            "action": "SCMP_ACT_ERRNO",
                            "args": [dict(ARG0_IS_5, op="SCMP_CMP_ABOUT")],
                        }
                    ],
                }
            ),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (lambda d: d["linux"].update(seccomp={"syscalls": []}), "linux.seccomp.defaultAction"),
    ],
)
def test_an_invalid_config_names_the_json_path(tmp_path: Path, edit: object, path: str) -> None:
    subprocess.run([str(RUNC or "runc"), "spec", "--bundle", str(tmp_path)], check=True)
    doc = json.loads((tmp_path / "config.json").read_text())
    edit(doc)  # type: ignore[operator]
    with pytest.raises(OciConfigError) as info:
        from_config(doc, bundle=str(tmp_path))
    assert info.value.field == path, info.value


def test_the_state_directory_answers_the_runtime_spec_state_operation(
    busybox_rootfs: Path,
) -> None:
    from pycontainers.runtime.specfile import oci_state

    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], name="stated") as c:
        created = oci_state(c)
        assert (created["status"], created["pid"], created["id"]) == ("created", c.pid, c.id)
        c.start()
        loaded = pc.Container.load("stated")
        try:
            state = oci_state(loaded)
        finally:
            loaded.close()
        assert state["status"] == "running" and state["pid"] == c.pid
        assert state["annotations"]["io.pycontainers.name"] == "stated"
        config = read_config(str(Path(state["bundle"]) / "config.json"), require_digest=True)
        assert config.spec == c.spec and config.name == "stated"
        c.kill()
        c.wait(timeout=10)
        assert "pid" not in oci_state(c) and oci_state(c)["status"] == "stopped"


PODMAN = shutil.which("podman")


@pytest.mark.skipif(PODMAN is None, reason="podman is not installed (apt-get install podman)")
def test_a_config_podman_writes_loads_and_round_trips(busybox_rootfs: Path) -> None:
    """podman (with runc, its storage in a short temporary dir: its runroot must be under 50
    characters) writes the config.json of a container at ``init``; it loads, maps what we
    model and keeps the rest (sysctl, cgroupsPath...)."""
    tmp_path = Path(tempfile.mkdtemp(prefix="pcpm-"))
    podman = [str(PODMAN), "--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"),
              "--runtime", str(RUNC or "runc"), "--cgroup-manager", "cgroupfs",
              "--storage-driver", "vfs", "--events-backend", "none"]  # fmt: skip
    created = subprocess.run(
        [*podman, "create", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
         "--network", "none", "--cap-add", "NET_ADMIN", "--rootfs", str(busybox_rootfs),
         "sh", "-c", "echo from-podman"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    cid = created.stdout.strip()
    try:
        subprocess.run([*podman, "init", cid], capture_output=True, check=True, timeout=120)
        path = next((tmp_path / "root").rglob(f"{cid}/userdata/config.json"))
        doc = json.loads(path.read_text())
        loaded = from_config(doc, bundle=str(path.parent))
    finally:
        subprocess.run([*podman, "rm", "-f", cid], capture_output=True, timeout=120)
        shutil.rmtree(tmp_path, ignore_errors=True)
    spec = loaded.spec
    assert spec.rootfs == str(busybox_rootfs.resolve())
    assert spec.process.args == ("sh", "-c", "echo from-podman")
    assert spec.process.rlimits == (("nofile", 1024, 1024), ("nproc", 1024, 1024))
    assert "CAP_NET_ADMIN" in spec.security.capabilities()
    assert spec.namespaces >= {"pid", "mnt", "ipc", "uts", "net"}
    assert "/etc/hostname" in [m.target for m in spec.mounts]
    back = to_config(spec, extra=loaded.extra)
    for key in ("sysctl", "cgroupsPath"):
        if key in doc["linux"]:
            assert back["linux"][key] == doc["linux"][key], key
    assert from_config(back).spec == spec


# Run the syscalls named on the command line ("label:nr[:arg...]", an arg "self" is the
# pid) and print "label=ok" or "label=<errno>": a static binary, so it runs in any rootfs.
PROBE_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    pid_t self = getpid();
    for (int i = 1; i < argc; i++) {
        char *save = NULL, *label = strtok_r(argv[i], ":", &save), *tok;
        long nr = strtol(strtok_r(NULL, ":", &save), NULL, 0), a[6] = {0};
        for (int k = 0; k < 6 && (tok = strtok_r(NULL, ":", &save)); k++)
            a[k] = strcmp(tok, "self") == 0 ? (long)self : (long)strtoull(tok, NULL, 0);
        errno = 0;
        long rc = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        int err = errno;
        if (getpid() != self)
            _exit(0); /* the child of a fork-like clone */
        if (rc > 0 && nr == SYS_clone)
            waitpid((pid_t)rc, NULL, 0);
        else if (rc > 2 && nr == SYS_socket)
            close((int)rc);
        if (rc == -1)
            printf("%s=%d\n", label, err);
        else
            printf("%s=ok\n", label);
    }
    return 0;
}
"""
# x86_64 numbers; what podman's profile (containers-common) and the kernel answer
PODMAN_PROBES = {
    "getpid:39": "ok",
    "setns:308:-1:0": "EBADF",  # allowed: its allow-list rule comes before the EPERM one
    "kcmp:312:self:self:1:0:0": "EPERM",  # the profile's errnoRet (the kernel would allow)
    "futex_waitv:449:0:0:0:0:0": "ENOSYS",  # in no rule: defaultErrnoRet
    "audit_socket:41:16:3:9": "EINVAL",  # AF_NETLINK, NETLINK_AUDIT: the conditional deny
    "route_socket:41:16:3:0": "ok",
    "inet_socket:41:2:1:0": "ok",
    "personality_no_aslr:135:0x40000": "ENOSYS",  # only the listed personas
    "personality_query:135:0xffffffff": "ok",
    "clone:56:17:0:0:0:0": "ok",  # fork-like
    "clone_newuts:56:0x4000011:0:0:0:0": "EPERM",  # allowed by the profile, not the kernel
    "unshare_uts:272:0x4000000": "EPERM",
    "sethostname:170:0:0": "EPERM",
}


@pytest.fixture(scope="module")
def syscall_probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static binary that makes raw syscalls (see PROBE_C)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("needs a C compiler (apt-get install gcc)")
    out = tmp_path_factory.mktemp("probe")
    (out / "probe.c").write_text(PROBE_C)
    built = subprocess.run([cc, "-static", "-O1", "-o", str(out / "probe"), str(out / "probe.c")],
                           capture_output=True, text=True)  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"cannot link a static probe: {built.stderr[-300:]}")
    return out / "probe"


def answers(stdout: str | bytes) -> dict[str, str]:
    text = stdout.decode() if isinstance(stdout, bytes) else stdout
    out = {}
    for line in text.split():
        label, _, value = line.partition("=")
        out[label] = value if value == "ok" else errno.errorcode.get(int(value), value)
    return out


@pytest.mark.skipif(PODMAN is None, reason="podman is not installed (apt-get install podman)")
@pytest.mark.skipif(platform.machine() != "x86_64", reason="probes use x86_64 syscall numbers")
def test_a_config_podman_writes_runs_here_as_under_podman(
    rootfs_factory: Any, syscall_probe: Path
) -> None:
    """podman (with runc) runs a probe of syscalls; the config.json it wrote for it, read
    unchanged, runs here with the same answers: its seccomp profile (rules that disagree
    for setns, conditional socket rules) compiles to the filter runc built."""
    tmp_path = Path(tempfile.mkdtemp(prefix="pcpm-"))
    rootfs = rootfs_factory(tmp_path / "rootfs")
    shutil.copy(syscall_probe, rootfs / "probe")
    podman = [str(PODMAN), "--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"),
              "--runtime", str(RUNC or "runc"), "--cgroup-manager", "cgroupfs",
              "--storage-driver", "vfs", "--events-backend", "none"]  # fmt: skip
    labels = [probe.split(":")[0] for probe in PODMAN_PROBES]
    try:
        created = subprocess.run(
            [*podman, "create", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
             "--network", "none", "--rootfs", str(rootfs), "/probe", *PODMAN_PROBES],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        cid = created.stdout.strip()
        under_podman = subprocess.run([*podman, "start", "--attach", cid],
                                      capture_output=True, text=True, timeout=120)  # fmt: skip
        assert under_podman.returncode == 0, under_podman.stderr
        # its bind sources (hostname, resolv.conf...) live as long as podman's container
        config = read_config(str(next((tmp_path / "root").rglob(f"{cid}/userdata/config.json"))))
        here = pc.run(config.spec, capture_output=True, timeout=30)
    finally:
        subprocess.run([*podman, "rm", "-f", "--all"], capture_output=True, timeout=120)
        shutil.rmtree(tmp_path, ignore_errors=True)
    want = dict(zip(labels, PODMAN_PROBES.values(), strict=True))
    assert answers(under_podman.stdout) == want
    assert here.returncode == 0, here.stderr
    assert answers(here.stdout) == want
    security = config.spec.security
    assert isinstance(security.seccomp, SeccompProfile)
    runc_way = _seccomp_bpf.compile_bpf(security.seccomp.resolve(security.capabilities()),
                                        native_arch())  # fmt: skip
    assert compile_profile(security.seccomp, security.capabilities()) == runc_way
