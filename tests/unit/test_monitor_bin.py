"""monitor_path(): the built monitor is found, and a missing one is a clear error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycontainers.errors import PyContainersError
from pycontainers.runtime.monitor_bin import MONITOR_ENV, MonitorMissingError, monitor_path


def test_the_built_monitor_is_found() -> None:
    path = monitor_path()
    assert os.path.isabs(path) and os.access(path, os.X_OK)
    assert path.endswith("_bin/pycontainers-monitor")


def test_a_missing_monitor_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MONITOR_ENV, str(tmp_path / "nope"))
    with pytest.raises(MonitorMissingError, match=r"rebuild with pip install -e \.") as err:
        monitor_path()
    assert isinstance(err.value, PyContainersError)
    (tmp_path / "noexec").write_text("")
    monkeypatch.setenv(MONITOR_ENV, str(tmp_path / "noexec"))
    with pytest.raises(MonitorMissingError):
        monitor_path()
