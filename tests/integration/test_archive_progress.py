"""``load`` and ``save`` draw per-layer bars on a terminal (a real pty, as the pull/push
test does) and print only Docker's plain lines through a pipe; the library's progress
hook reports each layer's bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_util import read_pty

from pycontainers.images import ImageStore
from pycontainers.images.registry.progress import Progress

pytestmark = pytest.mark.root


def _pc(root: Path, *args: str, tty: bool, stdin: Path | None = None) -> tuple[int, str]:
    """``pycontainers --root ROOT ARGS`` with stdout and stderr on a pty (``tty``) or pipes."""
    argv = [sys.executable, "-m", "pycontainers", "--root", str(root), *args]
    inp = open(stdin, "rb") if stdin else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        if not tty:
            r = subprocess.run(argv, capture_output=True, stdin=inp, timeout=120)
            return r.returncode, (r.stdout + r.stderr).decode(errors="replace")
        master, slave = os.openpty()
        proc = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=inp)
        os.close(slave)
        try:
            out = read_pty(master, proc)
            code = proc.wait(timeout=30)
        finally:
            os.close(master)
        return code, out.decode(errors="replace")
    finally:
        if stdin:
            inp.close()  # type: ignore[union-attr]


@pytest.fixture
def root(tmp_path: Path, busybox_rootfs: Path) -> Path:
    root = tmp_path / "data"
    ImageStore(root / "images").import_rootfs(busybox_rootfs, "localhost/prog:1")
    return root


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_bars_on_a_terminal_plain_lines_through_a_pipe(
    root: Path, tmp_path: Path, fmt: str
) -> None:
    archive = tmp_path / "a.tar"
    code, out = _pc(root, "save", "--format", fmt, "-o", str(archive), "localhost/prog:1", tty=True)
    assert code == 0, out
    assert "\x1b[2K" in out and "Saving layer" in out and "Complete" in out
    code, out = _pc(tmp_path / "b", "load", "-i", str(archive), tty=True)
    assert code == 0, out
    assert "\x1b[2K" in out and "Loading layer" in out and "Complete" in out
    assert out.rstrip().endswith("Loaded image: localhost/prog:1")
    # through pipes: no escape codes, no bars, Docker's lines only
    code, out = _pc(root, "save", "--format", fmt, "-o", str(tmp_path / "c.tar"),
                    "localhost/prog:1", tty=False)  # fmt: skip
    assert (code, out) == (0, "")
    code, out = _pc(tmp_path / "d", "load", "-i", str(archive), tty=False)
    assert (code, out) == (0, "Loaded image: localhost/prog:1\n")
    code, out = _pc(tmp_path / "b", "load", "-i", str(archive), tty=True)  # layers there
    assert code == 0 and "Already exists" in out, out


def test_the_library_hook_reports_each_layer(root: Path, tmp_path: Path) -> None:
    store = ImageStore(root / "images")
    image = store.get("localhost/prog:1")
    saved: list[Progress] = []
    store.save("localhost/prog:1", tmp_path / "a.tar", progress=saved.append)
    layer = image.layers[0]
    mine = [e for e in saved if e.digest == layer.digest]
    assert mine[0].state == "saving" and mine[-1].state == "done"
    assert mine[-1].done == mine[-1].total == layer.size
    assert [e.done for e in mine] == sorted(e.done for e in mine)
    loaded: list[Progress] = []
    ImageStore(tmp_path / "b").load(tmp_path / "a.tar", progress=loaded.append)
    assert {e.digest for e in loaded} == {layer.digest for layer in image.layers}
    assert loaded[-1].state == "done" and loaded[-1].done == layer.size
    assert all(e.state in ("loading", "done") for e in loaded)
