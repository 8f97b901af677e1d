"""What opencontainers/runtime-tools' validation suite checks of a runtime, each case a
failure it found in pycontainers-runtime (tests/conformance/run_runtime_tools.py runs the
suite itself): the same config observably the same under runc (where installed) and ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from oci_runtime_util import (
    Caller,
    Runtime,
    cgroup_exists,
    edit_config,
    make_bundle,
    runtime_script,
    runtimes,
)

pytestmark = pytest.mark.root

RUNC = shutil.which("runc")


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(runtime_script(tmp_path), tmp_path / "root")


def _run(argv: list[str], bundle: Path, cid: str) -> subprocess.CompletedProcess[str]:
    """``run`` in the foreground (the container's stdout is ours)."""
    return subprocess.run([*argv, "run", "--bundle", str(bundle), cid], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip


def _refused(rt: Runtime, bundle: Path, cid: str) -> str:
    """Create must fail, leaving no state, cgroup or process behind; its message."""
    r = rt("create", "--bundle", str(bundle), cid, check=False, stdin=subprocess.DEVNULL)
    if r.returncode == 0:  # accepted after all: nothing may stay behind the failed test
        rt("delete", "--force", cid, check=False)
    assert r.returncode == 1, r
    assert not (rt.root / cid).exists()
    assert not cgroup_exists("pycontainers-runtime", cid)
    assert rt("list", "-q").stdout == ""
    return r.stderr


CAP_LINES = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"


def test_each_capability_set_is_applied_as_the_config_lists_it(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    # runtime-tools' default config lists all five sets; we took only "bounding" (effective
    # and permitted became the bounding set, inheritable and ambient stayed empty)
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", CAP_LINES])
    sets = {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"], "effective": ["CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL"], "inheritable": ["CAP_CHOWN", "CAP_KILL"],
            "ambient": ["CAP_CHOWN"]}  # fmt: skip
    edit_config(
        bundle, lambda d: d["process"].update(capabilities=sets, user={"uid": 1000, "gid": 1000})
    )
    # a non-root process keeps across execve exactly its ambient set (permitted, effective)
    want = {"CapInh": 0x21, "CapPrm": 0x1, "CapEff": 0x1, "CapBnd": 0x200021, "CapAmb": 0x1}
    for name, argv in runtimes(rt, tmp_path):
        r = _run(argv, bundle, f"caps-{name}")
        assert r.returncode == 0, (name, r.stderr)
        got = {k: int(v, 16) for k, v in (line.split(":") for line in r.stdout.splitlines())}
        assert got == want, (name, {k: hex(v) for k, v in got.items()})


def test_capability_sets_that_cannot_be_applied_are_refused_naming_the_set(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    good = json.loads((bundle / "config.json").read_text())
    # uid 1000: for uid 0, ambient capabilities the kernel cannot raise change nothing and are
    # left out, as runc does (`runc spec` lists ambient ones without an inheritable set)
    good["process"]["user"] = {"uid": 1000, "gid": 1000}
    both = ["CAP_CHOWN", "CAP_KILL"]
    cases = [
        ({"bounding": ["CAP_KILL"], "effective": both, "permitted": both},
         "process.capabilities.permitted: CAP_CHOWN not in the bounding set"),
        ({"bounding": both, "permitted": ["CAP_KILL"], "effective": both},
         "process.capabilities.effective: CAP_CHOWN not in the permitted set"),
        ({"bounding": both, "permitted": both, "ambient": ["CAP_KILL"]},
         "process.capabilities.ambient: CAP_KILL not in both the permitted and the inheritable"),
        ({"bounding": both, "inheritable": ["CAP_SYS_ADMIN"]},
         "process.capabilities.inheritable: CAP_SYS_ADMIN not in the bounding set"),
        ({"bounding": ["CAP_NO_SUCH"]}, "process.capabilities.bounding: unknown capability"),
        ({"bounding": both, "effectiv": both}, "process.capabilities.effectiv: unknown"),
    ]  # fmt: skip
    for i, (caps, expected) in enumerate(cases):
        good["process"]["capabilities"] = caps
        (bundle / "config.json").write_text(json.dumps(good))
        assert expected in _refused(rt, bundle, f"bad{i}")


PROPAGATION = (
    "mkdir -p /t /m /s && touch /s/f && mount -o rbind / /t 2>/dev/null || echo unbindable; "
    "mount -o bind /s /m && ls /t/m; umount /m; umount -l /t 2>/dev/null; true"
)


def test_shared_and_unbindable_root_propagation(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    # refused before ("one of rprivate, rslave, private, slave"); the runtime-spec lists
    # shared, slave, private and unbindable
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", PROPAGATION])

    def setup(d: dict[str, Any], propagation: str) -> None:
        d["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
        d["process"]["capabilities"]["effective"].append("CAP_SYS_ADMIN")
        d["process"]["capabilities"]["permitted"].append("CAP_SYS_ADMIN")
        d["linux"].pop("seccomp", None)  # mount is not in the default filter
        d["linux"]["rootfsPropagation"] = propagation

    # a shared root: the bind of / at /t is its peer, so a mount under / shows under /t
    want = {"shared": "f\n", "rshared": "f\n", "private": "", "slave": "",
            "unbindable": "unbindable\n", "runbindable": "unbindable\n"}  # fmt: skip
    good = json.loads((bundle / "config.json").read_text())
    for propagation, out in want.items():
        doc = json.loads(json.dumps(good))
        setup(doc, propagation)
        (bundle / "config.json").write_text(json.dumps(doc))
        # runc 1.1's shared root stays the host's peer, and its unbindable one fails to bind
        # the rootfs ("invalid argument"): compared with runc only where it works
        which = runtimes(rt, tmp_path) if propagation in ("private", "slave") else [
            ("ours", rt.argv())
        ]  # fmt: skip
        for name, argv in which:
            r = _run(argv, bundle, f"prop-{name}")
            assert (r.returncode, r.stdout) == (0, out), (name, propagation, r.stderr)


def test_a_shared_root_does_not_propagate_mounts_to_the_host(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs,
                         ["sh", "-c", "mkdir -p /m && mount -t tmpfs t /m && touch /ready && "
                                      "exec sleep 60"])  # fmt: skip
    edit_config(bundle, lambda d: d["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN"))
    edit_config(bundle, lambda d: d["process"]["capabilities"]["effective"].append("CAP_SYS_ADMIN"))
    edit_config(bundle, lambda d: d["process"]["capabilities"]["permitted"].append("CAP_SYS_ADMIN"))
    edit_config(bundle, lambda d: d["linux"].update(rootfsPropagation="rshared", seccomp=None))
    ready = bundle / "rootfs" / "ready"
    rt.run_detached(bundle, "shared", tmp_path / "out")
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists(), (tmp_path / "out").read_text()
        assert rt.state("shared")["status"] == "running"
        # the container's tmpfs at /m is its own: the host sees no mount in the rootfs
        assert str(bundle / "rootfs") not in Path("/proc/self/mountinfo").read_text()
    finally:
        rt("delete", "--force", "shared")
        ready.unlink(missing_ok=True)


def test_an_absolute_cgroups_path_right_under_the_root(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    # "/name" was refused ("cgroup_parent: must be a relative cgroup path, got ''"); the
    # linux_cgroups_* programs put their container at /cgrouptest and read it there
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "30"])
    name = f"pc-conform-{os.getpid()}"
    edit_config(bundle, lambda d: d["linux"].update(cgroupsPath=f"/{name}"))
    edit_config(bundle, lambda d: d["linux"]["resources"].update(pids={"limit": 42}))
    pids = Path("/sys/fs/cgroup/pids") / name
    for cid, force in (("created", False), ("running", True)):
        caller = Caller(rt, bundle, cid, tmp_path)
        try:
            assert (pids / "pids.max").read_text() == "42\n"
            assert str(caller.pid) in (pids / "cgroup.procs").read_text()
            if force:
                rt("start", cid)
                assert rt.state(cid)["status"] == "running"
        finally:
            rt("delete", *(["--force"] if force else []), cid)
            caller.close()
        assert not pids.exists() and not cgroup_exists("", name)


def test_features_names_the_capabilities_as_config_json_does(rt: Runtime) -> None:
    # they were listed as "CAP_CAP_CHOWN", ...: names no config can use
    from pycontainers.security.capabilities import CAPABILITIES

    feats = json.loads(rt("features").stdout)
    assert feats["linux"]["capabilities"] == list(CAPABILITIES)
    assert {"CAP_CHOWN", "CAP_SYS_ADMIN"} <= set(feats["linux"]["capabilities"])
    if RUNC is not None:
        theirs = json.loads(subprocess.run([RUNC, "features"], capture_output=True, text=True,
                                           check=True).stdout)  # fmt: skip
        assert set(theirs["linux"]["capabilities"]) <= set(feats["linux"]["capabilities"])


@pytest.mark.parametrize("nnp", [False, True])
def test_a_filter_that_refuses_getcwd_does_not_fail_the_start(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path, nnp: bool
) -> None:
    # runtime-tools' linux_seccomp: without no_new_privs the filter is loaded before the
    # switch to the container's ids, and our own check of the working directory (getcwd,
    # CVE-2024-21626) came after it and failed with the filter's errno. runc (1.1.x) fails so
    # too ("failed to verify if current working directory is safe"): compared with it only
    # with no_new_privs
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", "cd /etc && echo in"])
    filt = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}  # fmt: skip
    edit_config(bundle, lambda d: (d["linux"].update(seccomp=filt),
                                   d["process"].update(noNewPrivileges=nnp, cwd="/tmp")))  # fmt: skip
    for name, argv in runtimes(rt, tmp_path)[: None if nnp else 1]:
        r = _run(argv, bundle, f"cwd-{name}")
        assert (r.returncode, r.stdout) == (0, "in\n"), (name, r.stderr)


def test_exec_applies_all_five_sets_of_its_process_as_create_does(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    # `exec --process` refused a process with inheritable or ambient sets; now they go through
    # the one function create's go through: the same sets give the same result both ways
    sets = {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"], "effective": ["CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL"], "inheritable": ["CAP_CHOWN", "CAP_KILL"],
            "ambient": ["CAP_CHOWN"]}  # fmt: skip
    want = {"CapInh": 0x21, "CapPrm": 0x1, "CapEff": 0x1, "CapBnd": 0x200021, "CapAmb": 0x1}
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "60"])
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["sh", "-c", CAP_LINES], "cwd": "/", "env": ["PATH=/bin"],
                                   "user": {"uid": 1000, "gid": 1000},
                                   "capabilities": sets}))  # fmt: skip
    for name, argv in runtimes(rt, tmp_path):
        cid = f"exec5-{name}"
        with open(tmp_path / f"{name}.out", "wb") as out:
            rc = subprocess.call([*argv, "run", "-d", "--bundle", str(bundle), cid],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60)  # fmt: skip
        assert rc == 0, (name, (tmp_path / f"{name}.out").read_text())
        try:
            r = subprocess.run([*argv, "exec", "--process", str(process), cid],
                               capture_output=True, text=True, timeout=60)  # fmt: skip
            assert r.returncode == 0, (name, r.stderr)
            got = {k: int(v, 16) for k, v in (line.split(":") for line in r.stdout.splitlines())}
            assert got == want, (name, {k: hex(v) for k, v in got.items()})
        finally:
            subprocess.run([*argv, "delete", "--force", cid], capture_output=True, timeout=60)
    # a set that cannot be applied is refused as create refuses it, naming it
    rt.run_detached(bundle, "exec5-bad", tmp_path / "bad.out")
    try:
        bad = dict(sets, ambient=["CAP_SYS_ADMIN"])
        process.write_text(json.dumps({"args": ["true"], "user": {"uid": 1000, "gid": 1000},
                                       "capabilities": bad}))  # fmt: skip
        r = rt("exec", "--process", str(process), "exec5-bad", check=False)
        assert r.returncode == 1
        assert "capabilities.ambient: CAP_SYS_ADMIN not in both the permitted and the inh" in (
            r.stderr
        )
    finally:
        rt("delete", "--force", "exec5-bad")
