"""``pull``/``push`` draw progress bars on a terminal (redrawn in place) and print Docker's
plain lines otherwise, through the CLI against a local registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_util import read_pty

from pycontainers.images import ImageStore

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("in_registry_netns")]


def _cli(root: str, *args: str, tty: bool) -> tuple[int, str]:
    """Run the registry commands with stdout on a pseudo-terminal (``tty``) or a pipe."""
    argv = [sys.executable, "-c",
            "import sys; from pycontainers.cli.registry import _main; sys.exit(_main())",
            "--root", root, *args]  # fmt: skip
    if not tty:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout + r.stderr
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    try:
        out = read_pty(master, proc)
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
    return code, out.decode(errors="replace")


def test_bars_on_a_terminal_lines_otherwise(
    busybox_rootfs: Path, registry: object, tmp_path: Path
) -> None:
    host = registry.host  # type: ignore[attr-defined]
    src = tmp_path / "src"
    ImageStore(src / "images").import_rootfs(busybox_rootfs, "localhost/prog:1")
    code, out = _cli(str(src), "push", "localhost/prog:1", f"{host}/prog/bb:1", tty=True)
    assert code == 0, out
    assert "\x1b[2K" in out and "Complete" in out  # lines redrawn in place
    code, out = _cli(str(tmp_path / "a"), "pull", f"{host}/prog/bb:1", tty=True)
    assert code == 0, out
    assert "\x1b[2K" in out and "Complete" in out
    code, out = _cli(str(tmp_path / "b"), "pull", f"{host}/prog/bb:1", tty=False)
    assert code == 0, out
    assert "\x1b[" not in out and "Pull complete" in out and "Digest: sha256:" in out
