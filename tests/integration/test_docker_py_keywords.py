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
