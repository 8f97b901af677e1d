"""Every tutorial's code runs: the pages include their code from docs/snippets/tutorials/
(pymdownx.snippets), and each file runs here as a user would run it, as root, with real
containers: ``*.py`` with this interpreter, ``*.sh`` with ``bash -e`` and the
``pycontainers`` command of this checkout on PATH, ``test_*.py`` under pytest with the
plugin. They run with the session's private state and data roots (tests/conftest.py), in
the session's private network namespace, and must leave no container behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from registry_fixtures import RegistryNetns, RegistryServer

pytestmark = [pytest.mark.root, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "docs" / "snippets" / "tutorials"
TIMEOUT = 240


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "pycontainers"  # the CLI of this checkout, as `pip install` makes it
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m pycontainers "$@"\n')
    shim.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    return {**os.environ, "PYTHONPATH": str(ROOT), "PATH": path, **extra}


def _run(snippet: Path, tmp_path: Path, **extra: str) -> str:
    if snippet.name.startswith("test_"):
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(snippet)]
        argv += ["--rootdir", str(tmp_path), "-c", os.devnull]
    elif snippet.suffix == ".py":
        argv = [sys.executable, str(snippet)]
    else:
        argv = ["bash", "-e", "-o", "pipefail", str(snippet)]
    proc = subprocess.run(
        argv, cwd=tmp_path, env=_env(tmp_path, **extra), capture_output=True, text=True,
        timeout=TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"{snippet.name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def _no_containers_left() -> None:
    from pycontainers import Container

    assert [c.id for c in Container.list()] == []


def _snippets(*names: str) -> list[Path]:
    return [SNIPPETS / name for name in names]


@pytest.mark.parametrize(
    "snippet",
    _snippets(
        "first_container.py",
        "first_container.sh",
        "volumes.py",
        "detached.py",
        "detached.sh",
        "test_sandbox.py",
    ),
    ids=lambda p: p.name,
)
def test_tutorial_runs(snippet: Path, tmp_path: Path) -> None:
    _run(snippet, tmp_path)
    _no_containers_left()


@pytest.mark.network
@pytest.mark.parametrize("snippet", _snippets("networks.py"), ids=lambda p: p.name)
def test_network_tutorial_runs(snippet: Path, tmp_path: Path) -> None:
    _run(snippet, tmp_path)
    _no_containers_left()


@pytest.mark.network
def test_images_tutorial_runs(
    registry: RegistryServer, registry_netns: RegistryNetns, tmp_path: Path
) -> None:
    # The registry listens on the loopback of its own network namespace: the tutorial runs
    # there (a child started from a thread inside it inherits it).
    with registry_netns.enter():
        out = _run(SNIPPETS / "images.py", tmp_path, REGISTRY=registry.host)
        _run(SNIPPETS / "images.sh", tmp_path, REGISTRY=registry.host)
    assert "pulled" in out
    _no_containers_left()


def test_every_tutorial_snippet_is_tested_and_included() -> None:
    tested = {
        "first_container.py", "first_container.sh", "volumes.py", "detached.py", "detached.sh",
        "test_sandbox.py", "networks.py", "images.py", "images.sh",
    }  # fmt: skip
    assert {p.name for p in SNIPPETS.iterdir()} == tested
    pages = "".join(p.read_text() for p in (ROOT / "docs" / "tutorials").glob("*.md"))
    for name in tested:
        assert f'--8<-- "tutorials/{name}"' in pages, name
