"""Rootless: an ordinary host user (uid 65534 here) runs containers.

The user cannot reach this interpreter (it lives under /root), so the test runs the
system's Python 3.11 with copies of the package and its dependencies in a directory the
user can read."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.userns]

SYSTEM_PYTHON = "/usr/bin/python3"
USER = 65534
MODULES = ("pycontainers", "attrs", "attr", "structlog", "cffi", "pycparser", "_cffi_backend")

PROBE = r"""
import os, sys, pycontainers as pc
rootfs = sys.argv[1]
print("euid", os.geteuid())
r = pc.run(rootfs, ["sh", "-c", "id -u; cat /proc/self/uid_map; hostname; echo w > /tmp/f && cat /tmp/f"],
           hostname="rootless", capture_output=True, timeout=60)
print("run", r.returncode, r.stdout.decode().split(), r.stderr.decode().strip())
with pc.Container.create(rootfs, ["sleep", "30"]) as c:
    c.start()
    r = c.exec(["sh", "-c", "ps -o pid,comm | wc -l"], capture_output=True, timeout=60)
    print("exec", r.returncode, r.stdout.decode().strip())
try:
    pc.run(rootfs, ["true"], memory="64m")
except pc.SpecError as e:
    print("limits", e.field)
"""


@pytest.fixture
def user_env(rootfs_factory: Callable[[Path], Path]) -> Iterator[tuple[Path, dict[str, str]]]:
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} is missing: no interpreter an ordinary user can run")
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    if version != str(sys.version_info[:2]):
        pytest.skip(
            f"{SYSTEM_PYTHON} is {version}, the native shim was built for {sys.version_info[:2]}"
        )
    base = Path(tempfile.mkdtemp(prefix="pycontainers-rootless-"))
    try:
        lib = base / "lib"
        lib.mkdir()
        for name in MODULES:
            mod = importlib.import_module(name)
            src = Path(mod.__file__ or "")
            if src.name == "__init__.py":
                shutil.copytree(
                    src.parent, lib / name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(src, lib / src.name)
        rootfs = rootfs_factory(base / "rootfs")
        for path in (base, *base.rglob("*")):
            os.chown(path, USER, USER, follow_symlinks=False)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "PYTHONPATH": str(lib),
               "XDG_RUNTIME_DIR": str(base / "run")}  # fmt: skip
        (base / "run").mkdir(mode=0o700)
        os.chown(base / "run", USER, USER)
        yield rootfs, env
    finally:
        shutil.rmtree(base)


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
    assert lines.get("exec") == "0 5", r.stdout + r.stderr  # header, sleep, sh, ps, wc
    assert lines["limits"] == "resources"
