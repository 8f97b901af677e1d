"""The notebooks in ``notebooks/`` run top to bottom in a real kernel, without error, and their
outputs hold real values measured on this machine (inodes, bytes, percentages, replies).

Each notebook runs in a fresh ``python3`` kernel (ipykernel) started by nbclient. The kernel
is a child of this session, so it is in the session's private network namespace too; the
networking notebook also makes its own. Committed notebooks carry no outputs: they are made
here, on the machine that runs the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.network]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT = 120
FIRST_NS_INODE = 0xEFFFFFFB  # the kernel numbers namespace inodes from here up (proc_inum)


# Run by a child interpreter: the kernel client's zmq sockets and threads stay out of the
# test session (whose leak check counts fds, and whose main thread must stay alone).
_RUNNER = """
import sys, nbclient, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
client = nbclient.NotebookClient(nb, timeout=int(sys.argv[4]), kernel_name="python3",
                                 allow_errors=True, resources={"metadata": {"path": sys.argv[3]}})
client.execute()
nbformat.write(nb, sys.argv[2])
"""


def _execute(name: str, cwd: Path) -> tuple[list[Any], str]:
    """Run the notebook; return its cells and all its text, stream, HTML and error output."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    src = NOTEBOOKS / name
    for cell in nbformat.read(src, as_version=4).cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{name} is committed with outputs: clear them"
    done = cwd / name
    args = [sys.executable, "-c", _RUNNER, str(src), str(done), str(cwd), str(CELL_TIMEOUT)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=4 * CELL_TIMEOUT)
    assert r.returncode == 0, f"running {name} failed:\n{r.stderr[-3000:]}"
    nb = nbformat.read(done, as_version=4)
    parts: list[str] = []
    try:
        for cell in nb.cells:
            for out in cell.get("outputs", ()):
                parts.append(out.get("text", ""))
                data = out.get("data", {})
                parts += [data.get("text/plain", ""), data.get("text/html", "")]
        for cell in nb.cells:
            for out in cell.get("outputs", ()):
                assert out.output_type != "error", (
                    f"{name}: {out.get('ename')}: {out.get('evalue')}"
                )
                assert out.get("name") != "stderr" or "Traceback" not in out.text, out.text
        text = "\n".join(parts)
    finally:
        work = re.search(r"work dir: (\S+)", "\n".join(parts))
        left = _remove_leftovers(work[1]) if work else []
    assert work, "the first cell prints its work dir"
    assert not left, f"{name} left behind: {left}"
    return list(nb.cells), text


def _remove_leftovers(work: str) -> list[str]:
    """Unmount and remove what a notebook that stopped half-way left under ``work``."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[4].startswith(work + "/")]
    from pycontainers import _sys

    for target in sorted(mounts, reverse=True):
        _sys.umount2(target, _sys.MNT_DETACH)
    left = [*mounts, *([work] if os.path.exists(work) else [])]
    shutil.rmtree(work, ignore_errors=True)
    return left


def _int(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    assert m, f"no {pattern!r} in the outputs:\n{text[:3000]}"
    return int(m[1])


def test_01_namespaces(tmp_path: Path) -> None:
    _, text = _execute("01_namespaces.ipynb", tmp_path)
    for kind in ("uts", "net"):
        new = _int(rf"new {kind} namespace inode: (\d+)", text)
        ours = _int(rf"new {kind} namespace inode: \d+, this process's: (\d+)", text)
        assert new != ours and min(new, ours) >= FIRST_NS_INODE
    theirs = _int(r"container net inode: (\d+)", text)
    host = _int(r"container net inode: \d+, host net inode: (\d+)", text)
    assert theirs != host >= FIRST_NS_INODE
    # the comparison table shows the same inodes, not shared
    assert f"<td>net</td><td>{theirs}</td><td>{host}</td><td>no</td>" in text
    assert "hostname inside: inside-the-notebook" in text
    assert "'inside-the-notebook'" in text  # run_in's result
    assert re.search(r"<td>owner user ns</td><td>user:\[\d{10}\]</td>", text)
    assert "shared with the host" in text  # the container's view compares with pid 1
    assert "links inside the new netns: ['lo']" in text


def test_02_cgroups(tmp_path: Path) -> None:
    _, text = _execute("02_cgroups.ipynb", tmp_path)
    assert "processes in the group: [" in text and "<td>limit memory_max</td><td>32MiB</td>" in text
    mean = _int(r"cpu use while spinning: mean (\d+)%", text)
    assert 20 <= mean <= 75, f"cpus=0.5 should hold a busy loop near 50% of one CPU, got {mean}%"
    peak = _int(r"peak memory seen: (\d+) bytes", text)
    assert 8 * 2**20 < peak <= 48 * 2**20, peak
    assert "OOM killed: True" in text
    assert _int(r"OOM kills: (\d+)", text) >= 1
    # the live plot's last update carries its figures
    samples = [int(n) for n in re.findall(r"data-samples='(\d+)'", text)]
    assert samples and max(samples) >= 5
    assert max(int(n) for n in re.findall(r"data-memory-max='(\d+)'", text)) > 8 * 2**20
    assert "OOM killed" in text and "exit code 137" in text


def test_03_images_and_layers(tmp_path: Path) -> None:
    _, text = _execute("03_images_and_layers.ipynb", tmp_path)
    assert "upper/etc/motd is a character device: True 0/0  <- the whiteout" in text
    assert "lower/etc/motd still there: True" in text
    assert "merged/etc/motd visible:    False" in text
    assert "etc/.wh.motd" in text and "'hello.txt'" in text
    assert "layers: 1 -> 2" in text
    assert "written in the upper layer" in text and "No such file" in text
    assert "hello from /root" in text
    assert len(set(re.findall(r"sha256:[0-9a-f]{64}", text))) >= 4  # two images, two configs


def test_04_first_container(tmp_path: Path) -> None:
    _, text = _execute("04_first_container.ipynb", tmp_path)
    assert "hello from first" in text
    assert "after create: created" in text and "after start:  running pid" in text, text
    assert re.search(r"stdout tick \d+", text)
    assert "sh -c i=0" in text  # ps inside the container
    assert "after stop: stopped" in text and "after delete: deleted" in text
    assert "127.0.0.1:8080 → 80/tcp" in text  # the container's view shows the published port
    assert "200 OK" in text and "hello from the container" in text
