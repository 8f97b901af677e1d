"""OCI interop: the config.json we write runs under runc unchanged, and configs runc writes
load and run here (pycontainers.oci)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.oci import OciConfigError, from_config, read_config, to_config
from pycontainers.runtime.run import make_spec

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
