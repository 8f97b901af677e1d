"""``pycontainers check`` diagnoses this host for real."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pycontainers.check import MISSING, OK, WARN, check_host

pytestmark = pytest.mark.root


def test_every_check_reports_and_this_host_can_run_containers() -> None:
    findings = {f.name: f for f in check_host()}
    assert all(f.status in (OK, WARN, MISSING) for f in findings.values())
    assert all(f.fix for f in findings.values() if f.status != OK and f.name != "container")
    for essential in ("namespaces", "openat2", "seccomp", "cgroups", "container"):
        assert findings[essential].status == OK, findings[essential]


def test_cli_check_exits_zero_here() -> None:
    r = subprocess.run([sys.executable, "-m", "pycontainers", "check"], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "container" in r.stdout and "cgroups" in r.stdout
