"""Docker's image and management-command spellings: ``images`` with filters and formats,
``history``, ``save``/``load`` through stdout/stdin, ``container ls``, ``image ls/rm``."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pycontainers.images import ImageConfig, ImageStore

pytestmark = pytest.mark.root

WHEN = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def pc(root: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pycontainers", "--root", str(root), *args],
                          capture_output=True, input=input, timeout=120)  # fmt: skip


def ok(root: Path, *args: str, input: bytes | None = None) -> str:
    r = pc(root, *args, input=input)
    assert r.returncode == 0, (args, r.stderr.decode())
    return r.stdout.decode()


@pytest.fixture
def root(tmp_path: Path, busybox_rootfs: Path) -> Path:
    root = tmp_path / "data"
    store = ImageStore(root / "images")
    store.import_rootfs(busybox_rootfs, "localhost/web:1",
                        config=ImageConfig(cmd=("sh",), labels=(("tier", "front"),)),
                        created=WHEN)  # fmt: skip
    store.import_rootfs(busybox_rootfs, "localhost/db:2", config=ImageConfig(cmd=("true",)),
                        created=WHEN + datetime.timedelta(days=1))  # fmt: skip
    return root


def test_images_filters_formats_and_aliases(root: Path) -> None:
    assert ok(root, "images", "--format", "{{.Repository}}:{{.Tag}}").split() == [
        "localhost/db:2", "localhost/web:1"
    ]  # fmt: skip
    assert ok(root, "images", "-f", "label=tier=front", "--format", "{{.Repository}}") == (
        "localhost/web\n"
    )
    assert ok(root, "images", "localhost/db", "--format", "{{.Tag}}") == "2\n"
    assert ok(root, "images", "-f", "before=localhost/db:2", "--format", "{{.Tag}}") == "1\n"
    assert ok(root, "image", "ls", "-f", "reference=*/web*", "-q") == ok(
        root, "images", "localhost/web:1", "-q"
    )
    rows = [json.loads(line) for line in ok(root, "images", "--format", "json").splitlines()]
    assert {r["Repository"] for r in rows} == {"localhost/web", "localhost/db"}
    r = pc(root, "images", "-f", "color=red")
    assert r.returncode == 125 and b"invalid filter" in r.stderr
    ok(root, "image", "rm", "localhost/db:2")
    assert ok(root, "images", "--format", "{{.Repository}}") == "localhost/web\n"


def test_history_shows_each_step(root: Path) -> None:
    out = ok(root, "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "localhost/web:1")
    ((image_id, created_by),) = [line.split("|") for line in out.splitlines()]
    assert image_id.startswith("sha256:") and "import_rootfs" in created_by
    assert ok(root, "image", "history", "-q", "localhost/web:1").strip() == image_id[7:19]


def test_save_to_stdout_and_load_from_stdin(root: Path, tmp_path: Path) -> None:
    r = pc(root, "save", "localhost/web:1")
    assert r.returncode == 0 and len(r.stdout) > 100_000, r.stderr
    other = tmp_path / "other"
    out = ok(other, "load", input=r.stdout)
    assert out == "Loaded image: localhost/web:1\n"
    assert ok(other, "images", "-q") == ok(root, "images", "localhost/web", "-q")
    r = pc(root, "save", "--format", "oci-dir", "localhost/web:1")
    assert r.returncode == 125 and b"needs -o DIR" in r.stderr
    assert not os.listdir(root / "images" / "tmp")  # the archive in transit is gone


def test_container_ls_is_ps(busybox_rootfs: Path) -> None:
    from cli_util import ok as cli_ok

    cid = cli_ok("create", "--network", "none", str(busybox_rootfs), "true").strip()
    try:
        assert cli_ok("container", "ls", "-aq", "--no-trunc").split() == [cid]
        assert cli_ok("container", "inspect", "-f", "{{.State.Status}}", cid) == "created\n"
    finally:
        cli_ok("container", "rm", cid)
    assert cli_ok("container", "list", "-aq") == ""
