"""An ordinary user's session that can import pycontainers (uid 65534, the system Python)."""

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

SYSTEM_PYTHON = "/usr/bin/python3"
USER = 65534
MODULES = ("pycontainers", "attrs", "attr", "structlog", "cffi", "pycparser", "_cffi_backend")


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
