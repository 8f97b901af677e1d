"""The runtime's quick path (``ociruntime.quick``: state/start/kill/delete from the state
files, no engine imports) agrees with the engine's commands on the same real containers,
and declines every case it does not cover, so the engine handles those."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from oci_runtime_util import Caller, Runtime, cgroup_exists, make_bundle, runtime_script

from pycontainers.ociruntime import quick
from pycontainers.ociruntime.store import load, read_oci, state_doc
from pycontainers.runtime import state as st

pytestmark = pytest.mark.root


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(runtime_script(tmp_path), tmp_path / "root")


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path) -> Path:
    return make_bundle(tmp_path / "bundle", busybox_rootfs, ["sh", "-c", "exec sleep 60"])


def _engine_doc(root: Path, cid: str) -> dict[str, object]:
    c = load(str(root), cid)
    try:
        return state_doc(c)
    finally:
        c.close()


def test_quick_state_start_kill_agree_with_the_engine(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    caller = Caller(rt, bundle, "q1", tmp_path)
    try:
        root = str(rt.root)
        for expected in ("created", "running", "stopped"):
            if expected == "running":
                assert quick.start(root, "q1")
                assert not (rt.root / "q1" / "start.fifo").exists()
                # what the quick start wrote is a state file the engine reads
                engine_state = st.read_state(str(rt.root / "q1"))
                assert engine_state.status == "running" and engine_state.started > 0
                assert engine_state.pid == caller.pid
            if expected == "stopped":
                assert quick.kill(root, "q1", "KILL")
                status = caller.wait()
                assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            doc = quick.state_document(root, "q1")
            assert doc == _engine_doc(rt.root, "q1")
            assert doc["status"] == expected
            # and the command line gives the same document
            assert json.loads(rt("state", "q1").stdout) == doc
        # not the plain case: the quick path declines, the engine words the error
        assert not quick.start(root, "q1") and not quick.kill(root, "q1", "TERM")
        again = rt("start", "q1", check=False)
        assert again.returncode == 1 and "not created" in again.stderr
        oci = read_oci(str(rt.root / "q1"))
        dirs = oci["cgroup_dirs"]
        assert dirs and all(os.path.isdir(d) for d in dirs)
        assert quick.delete(root, "q1")
        assert not (rt.root / "q1").exists()
        assert not any(os.path.isdir(d) for d in dirs)
        assert not cgroup_exists("pycontainers-runtime", "q1")
    finally:
        caller.close()
        rt("delete", "--force", "q1", check=False)


def test_quick_delete_of_a_created_container_kills_it_and_leaves_nothing(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    caller = Caller(rt, bundle, "q2", tmp_path)
    try:
        rt("delete", "q2")  # created: its waiting process is killed, as runc does
        status = caller.wait()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        assert not (rt.root / "q2").exists()
        assert not cgroup_exists("pycontainers-runtime", "q2")
    finally:
        caller.close()
        rt("delete", "--force", "q2", check=False)


def test_quick_path_declines_running_paused_and_hooked_containers(
    rt: Runtime, bundle: Path, tmp_path: Path, busybox_rootfs: Path
) -> None:
    caller = Caller(rt, bundle, "q3", tmp_path)
    try:
        root = str(rt.root)
        rt("start", "q3")
        assert not quick.delete(root, "q3")  # running: refused by the engine without -f
        refused = rt("delete", "q3", check=False)
        assert refused.returncode == 1 and "running" in refused.stderr
        rt("pause", "q3")
        assert quick.state_document(root, "q3")["status"] == "paused"
        assert quick.state_document(root, "q3") == _engine_doc(rt.root, "q3")
        assert not quick.delete(root, "q3")
        rt("delete", "--force", "q3")  # the engine thaws and kills it
        caller.wait()
        assert not (rt.root / "q3").exists() and not cgroup_exists("pycontainers-runtime", "q3")
    finally:
        caller.close()
        rt("delete", "--force", "q3", check=False)
    record = tmp_path / "poststop.out"
    hooked = make_bundle(tmp_path / "hooked", busybox_rootfs, ["true"])
    doc = json.loads((hooked / "config.json").read_text())
    doc["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {record}"]}]}
    (hooked / "config.json").write_text(json.dumps(doc))
    caller = Caller(rt, hooked, "q4", tmp_path)
    try:
        rt("start", "q4")
        caller.wait()
        assert not quick.delete(str(rt.root), "q4")  # its poststop hook: the engine runs it
        rt("delete", "q4")
        assert json.loads(record.read_text())["id"] == "q4"
        assert not (rt.root / "q4").exists()
    finally:
        caller.close()
        rt("delete", "--force", "q4", check=False)


def test_quick_command_lines_and_missing_containers(rt: Runtime) -> None:
    rt.root.mkdir()
    for args, words in ((("state", "nope"), "does not exist"),
                        (("kill", "nope", "KILL"), "does not exist"),
                        (("kill", "nope", "NOSUCHSIG"), "unknown signal"),
                        (("start", "nope"), "does not exist"),
                        (("delete", "nope"), "does not exist"),
                        (("state", "../x"), "invalid container id")):  # fmt: skip
        r = rt(*args, check=False)
        assert r.returncode == 1 and words in r.stderr, (args, r.stderr)
    assert rt("delete", "--force", "nope").returncode == 0
    r = subprocess.run([str(rt.exe), "--root", str(rt.root), "list", "-q"],
                       capture_output=True, text=True, check=True)  # fmt: skip
    assert r.stdout == ""


def test_a_failure_of_the_quick_path_is_reported_as_the_engines_are(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    """A quick delete that cannot remove a group: one message and status 1, no traceback
    (the C front end hands such a case to Python, which answers)."""
    caller = Caller(rt, bundle, "qfail", tmp_path)
    oci_path = rt.root / "qfail" / "oci.json"
    original = oci_path.read_text()
    try:
        rt("start", "qfail")
        rt("kill", "qfail", "KILL")
        caller.wait()
        stuck = tmp_path / "stuck"  # not a cgroup: rmdir fails with ENOTEMPTY
        stuck.mkdir()
        (stuck / "file").write_text("x")
        doc = json.loads(original)
        doc["cgroup_dirs"].append(str(stuck))
        oci_path.write_text(json.dumps(doc))
        log = tmp_path / "log.json"
        r = rt("--log", str(log), "--log-format", "json", "delete", "qfail", check=False)
        assert r.returncode == 1, r
        assert "cannot remove the container's cgroup" in r.stderr and str(stuck) in r.stderr
        assert "Traceback" not in r.stderr
        assert "cannot remove the container's cgroup" in json.loads(log.read_text())["msg"]
        assert (rt.root / "qfail").is_dir()  # the state stays: delete can be tried again
    finally:
        if (rt.root / "qfail").is_dir():
            oci_path.write_text(original)
        caller.close()
        rt("delete", "--force", "qfail", check=False)
