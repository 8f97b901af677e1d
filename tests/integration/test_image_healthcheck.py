"""The image's HEALTHCHECK is what :meth:`Container.create` runs by default (the CLI's
run/create and the API get it from there); an explicit check, ``healthcheck=None`` or
``"none"`` (``--no-healthcheck``) overrides it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_util import cli, ok, until

import pycontainers as pc
from pycontainers.images import default_store
from pycontainers.supervision import HealthCheck

pytestmark = pytest.mark.root

REF = "localhost/hc-image:1"


@pytest.fixture
def image(busybox_rootfs: Path, tmp_path: Path) -> Iterator[str]:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(busybox_rootfs), arcname=".")
    buf.seek(0)
    check = {"Test": ["CMD-SHELL", "test -f /tmp/hc-image-ok"], "Interval": 200_000_000,
             "Timeout": 5_000_000_000, "Retries": 1}  # fmt: skip
    store = default_store()
    store.import_tar(buf, REF, config={"Cmd": ["sleep", "1000"], "Healthcheck": check})
    yield REF
    store.remove(REF)


def test_from_image_reads_docker_durations() -> None:
    check = HealthCheck.from_image({"Healthcheck": {"Test": ["CMD", "true", "x"],
                                                    "Interval": 1_500_000_000, "Retries": 2}})  # fmt: skip
    assert check == HealthCheck(test=("true", "x"), interval="1500ms", retries=2)
    assert HealthCheck.from_image({"Healthcheck": {"Test": ["NONE"]}}) is None
    assert HealthCheck.from_image({}) is None and HealthCheck.from_image(None) is None


def test_container_create_runs_the_image_healthcheck(image: str) -> None:
    c = pc.Container.create(image, detach=True, network="none")
    try:
        c.start()
        until(lambda: c.health == "unhealthy")  # no /tmp/hc-image-ok yet
        c.exec(["touch", "/tmp/hc-image-ok"])
        until(lambda: c.health == "healthy")
    finally:
        c.delete()
    for off in (None, "none"):
        c = pc.Container.create(image, detach=True, network="none", healthcheck=off)
        try:
            c.start()
            assert c.health is None and "Health" not in c.inspect()["State"]
        finally:
            c.delete()
    own = HealthCheck(test="true", interval="200ms")
    c = pc.Container.create(image, detach=True, network="none", healthcheck=own)
    try:
        c.start()
        until(lambda: c.health == "healthy")  # its own check, not the image's failing one
    finally:
        c.delete()
    with pytest.raises(pc.SpecError, match="healthcheck"):
        pc.Container.create(image, detach=True, healthcheck="sometimes")
    done = pc.run(image, ["echo", "attached"], capture_output=True)  # no monitor: no check
    assert done.stdout == b"attached\n"


def test_cli_run_uses_it_and_no_healthcheck_disables_it(image: str) -> None:
    cid = ok("run", "-d", "--network", "none", image).strip()
    off = ok("run", "-d", "--network", "none", "--no-healthcheck", image).strip()
    try:
        until(lambda: json.loads(ok("inspect", cid))[0]["State"].get("Health", {}).get("Status")
              == "unhealthy")  # fmt: skip
        assert "Health" not in json.loads(ok("inspect", off))[0]["State"]
        r = cli("exec", cid, "touch", "/tmp/hc-image-ok")
        assert r.returncode == 0
        until(lambda: json.loads(ok("inspect", cid))[0]["State"]["Health"]["Status"] == "healthy")
    finally:
        ok("rm", "-f", cid, off)
