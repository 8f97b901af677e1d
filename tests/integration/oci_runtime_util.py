"""Helpers for the pycontainers-runtime tests: the runtime as an executable, bundles, and a
small subreaper standing in for conmon / containerd-shim."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pycontainers

REPO = Path(pycontainers.__file__).resolve().parent.parent

# A caller like conmon: a subreaper that runs `create`, then reaps the container's init
# (re-parented to it once create exits) and writes its wait status to argv[1].
SUBREAPER = r"""
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
status_file, pid_file, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
rc = subprocess.call(cmd)
if rc != 0:
    open(status_file, "w").write(f"create-failed {rc}")
    sys.exit(1)
pid = int(open(pid_file).read())
parent = [l for l in open(f"/proc/{pid}/status") if l.startswith("PPid:")][0].split()[1]
open(status_file + ".parent", "w").write(parent)
while True:
    got, status = os.waitpid(-1, 0)
    if got == pid:
        break
open(status_file, "w").write(str(status))
"""


def runtime_script(directory: Path, root: Path | None = None) -> Path:
    """An executable ``pycontainers-runtime`` running this checkout through the lean
    launcher (``python -m pycontainers.ociruntime.launcher``, as the how-to installs it;
    what podman and containerd are given as their runtime), its default ``--root`` being
    ``root``."""
    from pycontainers.ociruntime.launcher import write_launcher

    launcher = write_launcher(str(directory / "pycontainers-runtime.py"))
    path = directory / "pycontainers-runtime"
    env = f"PYCONTAINERS_RUNTIME_ROOT={root} " if root is not None else ""
    path.write_text(f'#!/bin/sh\n{env}exec {launcher} "$@"\n')
    path.chmod(0o755)
    return path


def make_bundle(path: Path, rootfs: Path, args: list[str], **process: Any) -> Path:
    """A bundle of ``runc spec``'s shape (no terminal) running ``args`` on a copy-free
    symlink-free rootfs path (``rootfs`` inside the bundle is a bind-free copy)."""
    from pycontainers.ociruntime.info import template

    path.mkdir(parents=True, exist_ok=True)
    if not (path / "rootfs").exists():
        shutil.copytree(rootfs, path / "rootfs", symlinks=True)
    doc = template()
    doc["process"].update(terminal=False, args=args, **process)
    doc["root"]["readonly"] = False
    (path / "config.json").write_text(json.dumps(doc))
    return path


class Runtime:
    """``pycontainers-runtime --root ROOT`` as subprocesses."""

    def __init__(self, exe: Path, root: Path) -> None:
        self.exe = exe
        self.root = root

    def argv(self, *args: str) -> list[str]:
        return [str(self.exe), "--root", str(self.root), *args]

    def __call__(
        self, *args: str, check: bool = True, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=60, **kw)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def run_detached(self, bundle: Path, cid: str, out: Path) -> None:
        """``run -d``: the container keeps the stdio it inherits, so give it a file."""
        with open(out, "wb") as f:
            rc = subprocess.call(self.argv("run", "-d", "--bundle", str(bundle), cid),
                                 stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=60)  # fmt: skip
        assert rc == 0, out.read_text()

    def state(self, cid: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self("state", cid).stdout)
        return out


class Caller:
    """A subreaper that created a container (as conmon does) and reaps its init."""

    def __init__(self, rt: Runtime, bundle: Path, cid: str, tmp: Path, *extra: str) -> None:
        self.status_file = tmp / f"{cid}.status"
        self.pid_file = tmp / f"{cid}.pid"
        self.out = tmp / f"{cid}.out"
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SUBREAPER, str(self.status_file), str(self.pid_file),
                 *rt.argv("create", "--bundle", str(bundle), "--pid-file", str(self.pid_file),
                          *extra, cid)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not (Path(str(self.status_file) + ".parent").exists() or self.status_file.exists()):
            assert self.proc.poll() is None or self.status_file.exists(), self.output()
            assert time.monotonic() < deadline, "create did not finish"
            time.sleep(0.02)
        if self.status_file.exists():
            self.proc.wait(10)
            raise AssertionError(f"create failed: {self.output()}")
        self.pid = int(self.pid_file.read_text())
        self.parent = int(Path(str(self.status_file) + ".parent").read_text())

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait(self, timeout: float = 30) -> int:
        """The init's wait status, as the subreaper got it."""
        self.proc.wait(timeout)
        return int(self.status_file.read_text())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def cgroup_exists(parent: str, name: str) -> bool:
    """Whether the group ``parent/name`` exists in any hierarchy."""
    base = Path("/sys/fs/cgroup")
    return any((d / parent / name).exists() for d in base.iterdir() if d.is_dir())


def edit_config(bundle: Path, change: Callable[[dict[str, Any]], object]) -> None:
    """Apply ``change`` to the bundle's config.json document in place."""
    doc = json.loads((bundle / "config.json").read_text())
    change(doc)
    (bundle / "config.json").write_text(json.dumps(doc))


def refused(rt: Runtime, bundle: Path, cid: str) -> str:
    """Create must fail, leaving no state, cgroup or process behind; its message."""
    r = rt("create", "--bundle", str(bundle), cid, check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    assert not (rt.root / cid).exists()
    assert not cgroup_exists("pycontainers-runtime", cid)
    assert rt("list", "-q").stdout == ""
    return r.stderr


RUNC = shutil.which("runc")


def runtimes(rt: Runtime, tmp_path: Path) -> list[tuple[str, list[str]]]:
    """Ours, and runc (with its own root) where it is installed: (name, argv prefix)."""
    out = [("ours", rt.argv())]
    if RUNC is not None:
        out.append(("runc", [RUNC, "--root", str(tmp_path / "runc-root")]))
    return out
