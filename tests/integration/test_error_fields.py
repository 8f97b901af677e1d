"""Failures on the real kernel carry ``errno`` and ``path`` (the tree itself, and failures
that need no root, are in tests/unit/test_error_tree.py).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.cgroups import CGroup, CgroupError, remove_parent
from pycontainers.errors import SyscallError
from pycontainers.fs.overlay import OverlayError, OverlayFS

pytestmark = pytest.mark.root

PARENT = f"pycontainers-test-errors-{os.getpid()}"


def _free_pid() -> int:
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def test_a_refused_cgroup_write_keeps_errno_and_the_file() -> None:
    cg = CGroup.create("refused", parent=PARENT)
    try:
        with pytest.raises(CgroupError) as info:
            cg.add(_free_pid())  # the kernel refuses a pid that does not exist
        assert info.value.errno == errno.ESRCH
        assert info.value.path is not None
        assert info.value.path in cg.procs_paths()
    finally:
        cg.delete(kill=True)
        remove_parent(PARENT)


def test_a_missing_bind_source_names_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-dir")
    with pytest.raises(pc.SpecError) as info:
        pc.run("host", ["true"], mounts=[pc.Mount("/mnt/x", missing)], network="none")
    assert (info.value.errno, info.value.path) == (errno.ENOENT, missing)
    assert info.value.field == "Mount.source"


def test_a_failed_mount_syscall_names_its_target(tmp_path: Path) -> None:
    from pycontainers import _sys

    target = str(tmp_path / "missing-target")
    with pytest.raises(SyscallError) as info:
        _sys.mount("tmpfs", target, "tmpfs")
    assert (info.value.errno, info.value.path) == (errno.ENOENT, target)
    assert isinstance(info.value, OSError) and isinstance(info.value, pc.PyContainersError)


def test_a_missing_overlay_layer_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "layer-that-is-not-there"
    upper, work, merged = (tmp_path / n for n in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        d.mkdir()
    with pytest.raises(OverlayError) as info:
        OverlayFS.mount(merged, [missing], upper=upper, work=work)
    assert (info.value.errno, info.value.path) == (errno.ENOENT, str(missing))
    missing.write_text("a file, not a directory")
    with pytest.raises(OverlayError) as info:
        OverlayFS.mount(merged, [missing], upper=upper, work=work)
    assert (info.value.errno, info.value.path) == (errno.ENOTDIR, str(missing))
