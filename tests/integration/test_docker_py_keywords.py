"""A docker-py user's keywords work on a real container: environment=, working_dir=,
ulimits=, restart_policy=, shm_size=; a misspelt one names the nearest keyword."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pycontainers as pc
from pycontainers.errors import SpecError

pytestmark = pytest.mark.root


def test_docker_py_keywords_reach_the_container(busybox_rootfs: Path) -> None:
    # docker-py's spellings are for callers migrating from it; a type checker holds typed
    # callers to ours (env, cwd, rlimits, restart), hence the ignore
    docker_py: dict[str, Any] = {
        "environment": {"GREETING": "hi"},
        "working_dir": "/tmp",
        "ulimits": [{"Name": "nofile", "Soft": 512, "Hard": 1024}],
        "restart_policy": {"Name": "on-failure", "MaximumRetryCount": 1},
    }
    with pc.Container.create(
        str(busybox_rootfs),
        ["sh", "-c", "echo $GREETING; pwd; ulimit -n; df -k /dev/shm | tail -1; exit 3"],
        detach=True,
        shm_size="32m",
        **docker_py,
    ) as c:
        c.start()
        assert c.wait(timeout=60) == 3
        out = b"".join(e.data for e in c.logs()).decode().split()
        assert out[:3] == ["hi", "/tmp", "512"] and "32768" in out
        assert c.inspect()["HostConfig"]["RestartPolicy"] == {
            "Name": "on-failure",
            "MaximumRetryCount": 1,
        }


def test_a_misspelt_keyword_names_the_nearest(busybox_rootfs: Path) -> None:
    with pytest.raises(SpecError, match="did you mean 'hostname'"):
        pc.Container.create(str(busybox_rootfs), ["true"], hostnme="x")  # type: ignore[call-arg]


@pytest.mark.parametrize("detach", [False, True], ids=["attached", "detached"])
def test_wait_reads_as_an_int_and_as_docker_py_dict(busybox_rootfs: Path, detach: bool) -> None:
    """docker-py's ``c.wait()["StatusCode"]`` and our ``c.wait() == 3`` both hold."""
    with pc.Container.create(
        str(busybox_rootfs), ["sh", "-c", "exit 3"], detach=detach, network="none"
    ) as c:
        c.start()
        status = c.wait(timeout=30)
    assert isinstance(status, int) and status == 3 and status + 1 == 4
    assert status["StatusCode"] == 3 and status.get("Error") is None
    assert dict(status) == {"StatusCode": 3, "Error": None}
    assert status == {"StatusCode": 3, "Error": None} and status != {"StatusCode": 0}
    assert {3: "ok"}[status] == "ok"  # hashes as the int
    assert str(status) == "3" and f"{status}" == "3" and repr(status) == "3"
    with pytest.raises(KeyError):
        status["Other"]


class _LogConfig:
    """Shaped as docker.types.LogConfig: ``.type`` and ``.config``."""

    def __init__(self, type: str, config: dict[str, str]) -> None:
        self.type, self.config = type, config


def test_log_config_maps_to_the_log_driver(busybox_rootfs: Path) -> None:
    docker_py: dict[str, Any] = {
        "log_config": {"type": "json-file", "config": {"max-size": "1k", "max-file": "2"}}
    }
    script = "i=0; while [ $i -lt 100 ]; do echo line-$i-padding-padding; i=$((i+1)); done"
    with pc.Container.create(str(busybox_rootfs), ["sh", "-c", script], detach=True,
                             network="none", **docker_py) as c:  # fmt: skip
        opts = c.detach_options()
        assert opts is not None and (opts.log_driver, opts.log_max_size, opts.log_max_files) == (
            "json-file", 1024, 2,
        )  # fmt: skip
        c.start()
        assert c.wait(timeout=60) == 0
        lines = b"".join(e.data for e in c.logs()).decode().split()
        assert lines and lines[-1] == "line-99-padding-padding" and len(lines) < 100  # rotated
    none: dict[str, Any] = {"log_config": _LogConfig("none", {})}
    with pc.Container.create(str(busybox_rootfs), ["echo", "hi"], detach=True,
                             network="none", **none) as c:  # fmt: skip
        c.start()
        assert c.wait(timeout=60) == 0
        assert c.inspect()["HostConfig"]["LogConfig"]["Type"] == "none"
        with pytest.raises(pc.ContainerError, match="does not support reading"):
            c.logs()


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"type": "syslog"}, "log_config.type"),
        ({"type": "json-file", "config": {"labels": "a"}}, "log_config.config.labels"),
        ({"type": "json-file", "config": {"max-file": "0"}}, "log_config.config.max-file"),
        ({"type": "none", "config": {"max-size": "1m"}}, "log_config.config.max-size"),
        ({"type": "json-file", "conf": {}}, "log_config.conf"),
    ],
)
def test_bad_log_config_names_the_field(busybox_rootfs: Path, value: object, field: str) -> None:
    kw: dict[str, Any] = {"log_config": value}
    with pytest.raises(SpecError, match=f"^{field}: "):
        pc.Container.create(str(busybox_rootfs), ["true"], detach=True, **kw)
    assert pc.Container.list() == []
