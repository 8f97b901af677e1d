"""pycontainers-runtime on bundles: bad ones refused with the JSON path and nothing left
behind, a ``runc spec`` bundle (with hooks) observably the same under runc and ours, and
the inspection commands (ps, update, events)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from oci_runtime_util import (
    Caller,
    Runtime,
    edit_config,
    make_bundle,
    refused,
    runtime_script,
)

pytestmark = pytest.mark.root

RUNC = shutil.which("runc")


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(runtime_script(tmp_path), tmp_path / "root")


def test_bad_bundles_are_refused_naming_the_json_path(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    config = bundle / "config.json"
    good = config.read_text()
    config.unlink()
    assert "config.json does not exist" in refused(rt, bundle, "missing")
    config.write_text(good[:-20])
    assert "$: " in refused(rt, bundle, "truncated") and "not valid JSON" in refused(
        rt, bundle, "t2"
    )
    cases: list[tuple[Callable[[dict[str, Any]], object], str]] = [
        (lambda d: d["process"].update(args="sh"), "process.args"),
        (lambda d: d["linux"]["namespaces"].append({"type": "bogus"}), "linux.namespaces[5].type: unknown namespace type 'bogus'"),
        (lambda d: d["linux"]["resources"].update(memory={"limit": "lots"}), "linux.resources.memory.limit"),
        (lambda d: d["linux"].update(intelRdt={"closID": "x"}), "linux.intelRdt: Intel RDT is not supported"),
        (lambda d: d["linux"].update(sysctl={"kernel.panic": "1"}), "sysctls.kernel.panic: not a namespaced sysctl"),
        (lambda d: d["process"].update(apparmorProfile="x"), "process.apparmorProfile"),
        (lambda d: d.update(hooks={"prestart": [{"path": "relative"}]}), "hooks.prestart[0].path"),
        (lambda d: d["linux"].update(cgroupsPath="system.slice:x:y"), "linux.cgroupsPath: 'system.slice:x:y' is a systemd slice path"),
        (lambda d: d["mounts"].append({"destination": "/m", "type": "bind", "source": "/tmp", "options": ["rbind", "rbogus"]}), "mounts[7]: Mount.options: unknown option 'rbogus'"),
        (lambda d: d["linux"]["namespaces"].append({"type": "mount", "path": "/proc/1/ns/mnt"}), "join.mnt: joining a mnt namespace excludes it from namespaces"),
    ]  # fmt: skip
    for i, (change, expected) in enumerate(cases):
        config.write_text(good)
        edit_config(bundle, change)
        assert expected in refused(rt, bundle, f"bad{i}")


def test_a_rootfs_outside_the_bundle_through_a_symlink_isrefused(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "rootfs").symlink_to(busybox_rootfs)
    make_bundle(bundle, busybox_rootfs, ["true"])
    err = refused(rt, bundle, "escape")
    assert "root.path: 'rootfs' resolves to" in err and "outside the bundle" in err
    edit_config(bundle, lambda d: d["root"].update(path=str(busybox_rootfs)))  # named: allowed
    r = rt("run", "--bundle", str(bundle), "named", stdin=subprocess.DEVNULL)
    assert r.returncode == 0


def test_a_failed_start_and_a_taken_id_leave_nothing(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["/no/such/program"])
    assert "/no/such/program" in refused(rt, bundle, "noexec")
    ok = make_bundle(tmp_path / "ok", busybox_rootfs, ["sleep", "30"])
    caller = Caller(rt, ok, "taken", tmp_path)
    try:
        r = rt("create", "--bundle", str(ok), "taken", check=False, stdin=subprocess.DEVNULL)
        assert r.returncode == 1 and "already exists" in r.stderr
        assert rt.state("taken")["status"] == "created"  # the first one is untouched
        rt("start", "taken")
        stopped = rt("start", "taken", check=False)
        assert stopped.returncode == 1 and "running, not created" in stopped.stderr
    finally:
        rt("delete", "--force", "taken")
        caller.close()


HOOK = "cat > {dir}/{kind}.json; echo {kind} >> {dir}/order"
PROBE = ("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|NoNewPrivs|Seccomp)' /proc/self/status; "
         "hostname; id; ulimit -n; touch /x 2>&1; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
         "ls /dev | grep -v core | tr '\\n' ' '; echo; cat /proc/self/mountinfo | cut -d' ' -f5 "
         "| grep -vE '^/(sys/fs/cgroup/unified|dev/(null|zero|full|tty|random|urandom))' | sort | tr '\\n' ' '")  # fmt: skip


def _runc_spec_bundle(path: Path, rootfs: Path, hooks_dir: Path) -> Path:
    path.mkdir()
    subprocess.run([RUNC or "runc", "spec", "--bundle", str(path)], check=True)
    shutil.copytree(rootfs, path / "rootfs", symlinks=True)

    def hook(kind: str) -> dict[str, Any]:
        return {"path": "/bin/sh", "args": ["sh", "-c", HOOK.format(dir=hooks_dir, kind=kind)]}

    def change(d: dict[str, Any]) -> None:
        d["process"].update(terminal=False, args=["sh", "-c", PROBE])
        d["hooks"] = {k: [hook(k)] for k in ("prestart", "createRuntime", "poststart", "poststop")}

    edit_config(path, change)
    return path


@pytest.mark.skipif(RUNC is None, reason="runc is not installed (apt-get install runc)")
def test_a_runc_spec_bundle_runs_the_same_under_runc_and_ours(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    results = {}
    for name in ("runc", "ours"):
        hooks = tmp_path / f"hooks-{name}"
        hooks.mkdir()
        bundle = _runc_spec_bundle(tmp_path / f"bundle-{name}", busybox_rootfs, hooks)
        argv = ([RUNC, "--root", str(tmp_path / "runc-root")] if name == "runc"
                else rt.argv())  # fmt: skip
        r = subprocess.run([*argv, "run", "--bundle", str(bundle), "same"], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
        assert r.returncode == 0, (name, r.stderr)
        states = {k: json.loads((hooks / f"{k}.json").read_text())
                  for k in ("prestart", "createRuntime", "poststart", "poststop")}  # fmt: skip
        results[name] = (r.stdout, (hooks / "order").read_text(), states, bundle)
    assert results["ours"][0] == results["runc"][0]
    assert (
        results["ours"][1] == results["runc"][1] == "prestart\ncreateRuntime\npoststart\npoststop\n"
    )
    for kind in ("prestart", "createRuntime", "poststart", "poststop"):
        ours, theirs = results["ours"][2][kind], results["runc"][2][kind]
        assert ours["id"] == theirs["id"], kind
        if kind == "poststart":  # runc 1.1 reads its state before it marks the start done
            assert (ours["status"], theirs["status"]) == ("running", "created")
        elif kind in ("prestart", "createRuntime"):  # runtime-spec 1.2: "creating" is step 2
            # only (making the environment), these run after it (runc 1.1: "creating")
            assert (ours["status"], theirs["status"]) == ("created", "creating"), kind
        else:
            assert ours["status"] == theirs["status"], kind
        assert ours["bundle"] == str(results["ours"][3]) and theirs["bundle"] == str(
            results["runc"][3]
        )
        assert (ours.get("pid", 0) > 0) == (theirs.get("pid", 0) > 0), kind
    assert not (rt.root / "same").exists()


def test_failing_hooks_fail_create_but_only_warn_after_start(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    edit_config(bundle, lambda d: d.update(hooks={"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]}))  # fmt: skip
    err = refused(rt, bundle, "hookfail")
    assert "hooks.createRuntime[0] (/bin/sh): exited with status 3: nope" in err
    edit_config(bundle, lambda d: d.update(hooks={"prestart": [
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 10"], "timeout": 1}]}))  # fmt: skip
    assert "hooks.prestart[0] (/bin/sh): timed out after 1 s" in refused(rt, bundle, "slow")
    edit_config(bundle, lambda d: d.update(hooks={"poststart": [{"path": "/bin/false"}],
                                            "poststop": [{"path": "/bin/false"}]}))  # fmt: skip
    r = rt("run", "--bundle", str(bundle), "warned", stdin=subprocess.DEVNULL)
    assert "warning: hooks.poststart[0]" in r.stderr and "warning: hooks.poststop[0]" in r.stderr
    assert not (rt.root / "warned").exists()


def test_ps_update_events(rt: Runtime, busybox_rootfs: Path, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", "sleep 100 & exec sleep 101"])
    rt.run_detached(bundle, "insp", tmp_path / "out")
    try:
        pids = json.loads(rt("ps", "--format", "json", "insp").stdout)
        assert len(pids) == 2 and rt.state("insp")["pid"] in pids
        table = rt("ps", "insp").stdout.splitlines()
        assert table[0].split() == ["UID", "PID", "PPID", "CMD"] and len(table) == 3
        assert {line.split(None, 3)[3] for line in table[1:]} == {"sleep 100", "sleep 101"}
        resources = tmp_path / "res.json"
        resources.write_text(
            json.dumps({"memory": {"limit": 96 * 1024 * 1024}, "pids": {"limit": 50}})
        )
        rt("update", "--resources", str(resources), "--pids-limit", "40", "insp")
        group = Path("/sys/fs/cgroup")
        assert (
            int((group / "memory/pycontainers-runtime/insp/memory.limit_in_bytes").read_text())
            == 96 << 20
        )
        assert (group / "pids/pycontainers-runtime/insp/pids.max").read_text().strip() == "40"
        bad = rt("update", "--mem-bw-schema", "MB:0=20", "insp", check=False)
        assert bad.returncode == 1 and "not supported" in bad.stderr
        stats = json.loads(rt("events", "--stats", "insp").stdout)
        assert stats["type"] == "stats" and stats["id"] == "insp"
        assert (
            stats["data"]["pids"]["current"] == 2
            and stats["data"]["memory"]["usage"]["limit"] == 96 << 20
        )
        stream = subprocess.Popen(rt.argv("events", "--interval", "100ms", "insp"),
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert stream.stdout is not None
        first = json.loads(stream.stdout.readline())
        second = json.loads(stream.stdout.readline())
        assert first["type"] == second["type"] == "stats"
        rt("kill", "insp", "KILL")
        assert stream.wait(20) == 0  # ends once the container stopped
    finally:
        rt("delete", "--force", "insp")
    assert os.listdir(rt.root) in ([], [".names.lock"])


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="the host has no /dev/fuse")
def test_linux_devices_are_nodes_under_the_device_cgroup(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    probe = (
        "ls -l /dev/fuse | cut -c1; (exec 3<>/dev/fuse && echo opened) 2>/dev/null || echo denied"
    )
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", probe])
    fuse = {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}
    edit_config(bundle, lambda d: d["linux"].update(devices=[fuse]))
    denied = rt("run", "--bundle", str(bundle), "dev1", stdin=subprocess.DEVNULL)
    assert denied.stdout.split() == ["c", "denied"]  # the node, but no device-cgroup rule
    allow = {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}
    edit_config(bundle, lambda d: d["linux"]["resources"]["devices"].append(allow))
    allowed = rt("run", "--bundle", str(bundle), "dev2", stdin=subprocess.DEVNULL)
    assert allowed.stdout.split() == ["c", "opened"]
    # a number the host's node does not have: that node is made (runtime-spec: MUST be
    # available), and the cgroup, allowing 10:229 only, still denies it
    edit_config(bundle, lambda d: d["linux"].update(devices=[dict(fuse, minor=230)]))
    other = rt("run", "--bundle", str(bundle), "dev3", stdin=subprocess.DEVNULL)
    assert other.stdout.split() == ["c", "denied"]


def test_a_pods_containers_join_its_sandbox_namespaces_by_path(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """As a Kubernetes pod (through containerd): the app container joins the sandbox's
    network, ipc, uts and pid namespaces by path; exec lands in them too."""
    sandbox = make_bundle(tmp_path / "sb", busybox_rootfs, ["sh", "-c", "exec sleep 100"])
    edit_config(sandbox, lambda d: d.update(hostname="podhost"))
    rt.run_detached(sandbox, "sandbox", tmp_path / "sb.out")
    try:
        pid = rt.state("sandbox")["pid"]
        app = make_bundle(tmp_path / "app", busybox_rootfs,
                          ["sh", "-c", "hostname; ps -o comm | sort | tr '\\n' ' '; exec sleep 100"])  # fmt: skip

        def join(d: dict[str, Any]) -> None:
            d["linux"]["namespaces"] = [{"type": "mount"}] + [
                {"type": t, "path": f"/proc/{pid}/ns/{n}"}
                for t, n in (("network", "net"), ("ipc", "ipc"), ("uts", "uts"), ("pid", "pid"))
            ]
            d.pop("hostname")

        edit_config(app, join)
        rt.run_detached(app, "app", tmp_path / "app.out")
        deadline = time.monotonic() + 20
        while "sleep" not in (tmp_path / "app.out").read_text():
            assert time.monotonic() < deadline, (tmp_path / "app.out").read_text()
            time.sleep(0.05)
        words = (tmp_path / "app.out").read_text().split()
        assert words[0] == "podhost" and "sleep" in words and "ps" in words
        # its /proc is the pod's pid namespace (mounted from inside it), not the host's: a
        # handful of the pod's processes, none of the host's (this pytest, its python3).
        # "exe": busybox sh runs a pipeline's applets (tr) by execve("/proc/self/exe",
        # ["tr", ...]), so one shows as "exe" until busybox renames itself (PR_SET_NAME)
        # just after; a ps that reads /proc in that window sees it. Not a runtime process.
        assert set(words[1:]) <= {"COMMAND", "sh", "sleep", "ps", "sort", "tr", "exe"}, words
        assert len(words) < 12, words
        assert os.readlink(f"/proc/{rt.state('app')['pid']}/ns/uts") == os.readlink(
            f"/proc/{pid}/ns/uts"
        )
        seen = rt("exec", "app", "sh", "-c", "hostname; ps -o pid,comm").stdout.split()
        assert seen[0] == "podhost" and seen[1:3] == ["PID", "COMMAND"]
        assert seen[3:5] == ["1", "sleep"]  # the sandbox's init, pid 1 of the shared namespace
    finally:
        rt("delete", "--force", "app", check=False)
        rt("delete", "--force", "sandbox")
