"""Rootless: an ordinary host user (uid 65534 here) runs containers.

The user cannot reach this interpreter (it lives under /root), so the test runs the
system's Python 3.11 with copies of the package and its dependencies in a directory the
user can read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from entry_matrix import DOCKER_CAPS, parse_probe
from userenv import SYSTEM_PYTHON, USER, user_env

import pycontainers as pc

pytestmark = [pytest.mark.root, pytest.mark.userns]
__all__ = ["user_env"]  # the fixture, imported for the tests below

PROBE = r"""
import os, sys, pycontainers as pc
rootfs = sys.argv[1]
print("euid", os.geteuid())
r = pc.run(rootfs, ["sh", "-c", "id -u; cat /proc/self/uid_map; hostname; echo w > /tmp/f && cat /tmp/f"],
           hostname="rootless", capture_output=True, timeout=60)
print("run", r.returncode, r.stdout.decode().split(), r.stderr.decode().strip())
with pc.Container.create(rootfs, ["sleep", "30"]) as c:
    c.start()
    r = c.exec(["sh", "-c", "ps -o pid,comm > /tmp/ps; wc -l < /tmp/ps"], capture_output=True,
               timeout=60)
    print("exec", r.returncode, r.stdout.decode().strip())
try:
    pc.run(rootfs, ["true"], memory="64m")
except pc.SpecError as e:
    print("limits", e.field)
"""


def test_an_ordinary_user_runs_and_execs_into_containers(
    user_env: tuple[Path, dict[str, str]],
) -> None:
    rootfs, env = user_env
    r = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups",
                        SYSTEM_PYTHON, "-c", PROBE, str(rootfs)],
                       env=env, capture_output=True, text=True, timeout=120, cwd=env["HOME"])  # fmt: skip
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert lines.get("euid") == str(USER), r.stdout + r.stderr
    # root inside, mapped to the user's own uid outside
    assert lines["run"] == f"0 ['0', '0', '{USER}', '1', 'rootless', 'w'] ", r.stdout + r.stderr
    # header, sleep, sh, ps (wc runs after ps: in a pipe, ps could read /proc before wc is
    # forked, and the count was 4 instead of 5 on a loaded machine)
    assert lines.get("exec") == "0 4", r.stdout + r.stderr
    assert lines["limits"] == "resources"


ROOTLESS_MATRIX = r"""
import json, sys, tempfile
from pathlib import Path
import pycontainers as pc
import entry_matrix as m
rootfs, marks = sys.argv[1], Path(sys.argv[2])
def make(args, **kw):
    kw["mounts"] = [pc.Mount("/tmp", type="tmpfs", options=("mode=1777",)), *kw["mounts"]]
    return pc.Container.create(rootfs, args, **kw)
out = m.everywhere(make, m.PROBE, marks, other_user=False)
with pc.Container.create(rootfs, ["sleep", "30"]) as c:
    c.start()
    try:
        c.exec(["true"], user="1000")
        other = "ran"
    except pc.ContainerError as exc:
        other = f"{type(exc).__name__}: {exc}"
print(json.dumps({"outputs": out, "mismatches": m.mismatches(out), "other_user": other}))
"""


def test_rootless_every_entry_point_matches_the_first_process(
    user_env: tuple[Path, dict[str, str]],
) -> None:
    """The rootless column of the entry-point matrix (tests/security/test_entry_points.py):
    an ordinary user's containers, entered every way that user has."""
    rootfs, env = user_env
    lib = Path(env["PYTHONPATH"])
    shutil.copy2(Path(__file__).with_name("entry_matrix.py"), lib / "entry_matrix.py")
    marks = rootfs.parent / "marks"
    marks.mkdir()
    os.chown(marks, USER, USER)
    r = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups",
                        SYSTEM_PYTHON, "-c", ROOTLESS_MATRIX, str(rootfs), str(marks)],
                       env=env, capture_output=True, text=True, timeout=300, cwd=env["HOME"])  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    outputs = result["outputs"]
    assert len(outputs) == 10, sorted(outputs)
    first = parse_probe(outputs["first process"][1])
    assert (first["uid_map"], first["Seccomp"], first["CapBnd"]) == (
        f"0 {USER} 1",
        "2",
        f"{DOCKER_CAPS:016x}",
    ), first
    assert result["mismatches"] == []
    # uid 1000 is not mapped in a namespace that maps only the user: a clear refusal
    assert result["other_user"].startswith("ContainerStartError"), result["other_user"]


def test_another_users_cli_cannot_enter_roots_container(
    user_env: tuple[Path, dict[str, str]], busybox_rootfs: Path, state_root: Path
) -> None:
    """An ordinary user's CLI pointed at root's containers gets a clear refusal; nothing runs."""
    _, env = user_env
    marks = Path(tempfile.mkdtemp(prefix="pycontainers-marks-"))
    marks.chmod(0o777)
    try:
        with pc.Container.create(str(busybox_rootfs), ["sleep", "60"], name="roots",
                                 mounts=[pc.Mount("/marks", str(marks))]) as c:  # fmt: skip
            c.start()
            for root in (state_root, Path(c.state_dir).parent):
                r = subprocess.run(
                    ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups",
                     SYSTEM_PYTHON, "-m", "pycontainers", "exec", c.id, "touch", "/marks/ran"],
                    env={**env, "PYCONTAINERS_STATE": str(root)}, capture_output=True,
                    text=True, timeout=120, cwd=env["HOME"],
                )  # fmt: skip
                assert r.returncode == 125, r.stdout + r.stderr
                assert "Traceback" not in r.stderr and r.stderr.startswith("pycontainers: "), (
                    r.stderr
                )
        assert list(marks.iterdir()) == []
    finally:
        shutil.rmtree(marks)
