"""``system prune``, ``info``, ``version``, ``--version`` and ``--help`` on every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_util import cli, ok

import pycontainers as pc

pytestmark = pytest.mark.root

COMMANDS = [
    "run", "create", "start", "ps", "exec", "logs", "stop", "restart", "kill", "rm", "pause",
    "unpause", "wait", "inspect", "top", "stats", "cp", "diff", "export", "commit", "volume",
    "network", "system", "info", "version", "images", "pull", "push", "load", "save", "tag",
    "rmi", "image", "container", "login", "logout", "port", "history", "attach", "update",
]  # fmt: skip


def test_version_and_help_everywhere() -> None:
    out = ok("--version")
    assert out.startswith("pycontainers ") and out.split()[1] == pc.__version__
    assert f"Version: {pc.__version__}" in ok("version")
    assert ok("version", "--format", "{{.Version}}") == pc.__version__ + "\n"
    for command in COMMANDS:
        r = cli(command, "--help")
        assert r.returncode == 0 and "usage: pycontainers" in r.stdout, command
    for sub in ("volume create", "volume ls", "network create", "network ls", "system prune"):
        r = cli(*sub.split(), "--help")
        assert r.returncode == 0 and "usage:" in r.stdout, sub
    r = cli("no-such-command")
    assert r.returncode == 125 and "pycontainers: " in r.stderr


def test_info_counts_containers(busybox_rootfs: Path) -> None:
    ok("run", "-d", "--name", "infobox", str(busybox_rootfs), "sleep", "100")
    try:
        assert ok("info", "--format", "{{.ContainersRunning}}") == "1\n"
        text = ok("info")
        assert "Containers: 1" in text and "CgroupVersion:" in text
    finally:
        ok("rm", "-f", "infobox")


def test_system_prune(busybox_rootfs: Path) -> None:
    ok("run", "--name", "done1", str(busybox_rootfs), "true")
    ok("create", "--name", "never", str(busybox_rootfs), "true")
    ok("run", "-d", "--name", "alive", str(busybox_rootfs), "sleep", "100")
    ok("network", "create", "prunable")
    try:
        r = cli("system", "prune", input="n\n")  # asks; no means nothing happens
        assert r.returncode == 0 and "Are you sure" in r.stdout
        assert len(ok("ps", "-aq").split()) == 3
        out = ok("system", "prune", "-f")
        assert "Deleted Containers:" in out and "Deleted Networks:" in out and "prunable" in out
        assert ok("ps", "-a", "--format", "{{.Names}}").split() == ["alive"]
        assert "prunable" not in ok("network", "ls", "-q").split()
    finally:
        ok("rm", "-f", "alive")
        cli("network", "rm", "prunable")


def test_system_prune_after_a_killed_creator(busybox_rootfs: Path) -> None:
    """A creator killed by SIGKILL while its container runs: prune recovers it all."""
    script = (
        "import os, pycontainers as pc\n"
        f"c = pc.Container.create({str(busybox_rootfs)!r}, ['sleep', '1'], network='bridge')\n"
        "c.start(); print(c.id, flush=True); os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9
    cid = proc.stdout.strip()
    assert cid
    out = ok("system", "prune", "-f")
    assert cid in out  # an undetached container's creator is gone: it is garbage
    assert ok("ps", "-aq") == ""
