"""docker-py's keyword names are accepted where they mean the same as ours; a wrong name
gets the nearest right one."""

from __future__ import annotations

import pytest

from pycontainers.errors import SpecError
from pycontainers.runtime.options import docker_py_spellings, restart_of
from pycontainers.runtime.resolve import SpecInputs, resolve_spec


def test_spellings_translate() -> None:
    out = docker_py_spellings(
        {"environment": {"A": "1"}, "working_dir": "/srv",
         "ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"name": "nproc", "soft": 9}]}
    )  # fmt: skip
    assert out == {"env": {"A": "1"}, "cwd": "/srv",
                   "rlimits": {"nofile": (1024, 2048), "nproc": (9, 9)}}  # fmt: skip
    spec = resolve_spec("/rootfs", ["true"], out, SpecInputs())  # type: ignore[arg-type]
    assert spec.process.cwd == "/srv" and ("A", "1") in spec.process.env
    assert ("nofile", 1024, 2048) in spec.process.rlimits


def test_both_spellings_or_bad_values_are_refused() -> None:
    with pytest.raises(SpecError, match="give env= or docker-py's environment=, not both"):
        docker_py_spellings({"env": {}, "environment": {}})
    assert docker_py_spellings({"devices": ["/dev/null"]}) == {"devices": ["/dev/null"]}
    with pytest.raises(SpecError, match="ulimits"):
        docker_py_spellings({"ulimits": [{"Soft": 1}]})


def test_restart_policy() -> None:
    assert restart_of({"Name": "on-failure", "MaximumRetryCount": 3}) == "on-failure:3"
    assert restart_of({"Name": "always"}) == "always"
    assert restart_of({"Name": ""}) == "no"
    with pytest.raises(SpecError, match="restart_policy"):
        restart_of("always")
