"""testcontainers-style use: a container's published ports (``ports``, ``get_host_port``,
``host_ip``), docker-py's ``short_id``/``image``/``reload``, and wait strategies composed
with ``all_of``/``any_of``."""

from __future__ import annotations

from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.errors import ContainerError, WaitTimeout
from pycontainers.testing.strategies import (
    HttpOk,
    LogMessage,
    PortOpen,
    all_of,
    any_of,
    wait_until,
)

pytestmark = pytest.mark.root


def test_published_ports_and_composed_waits(busybox_rootfs: Path, tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("up\n")
    script = "sleep 1; echo server starting; exec httpd -f -p 80 -h /www"
    with pc.Container.create(
        str(busybox_rootfs), ["sh", "-c", script], detach=True, ports={80: None},
        mounts=[pc.Mount("/www", str(www), read_only=True)],
    ) as c:  # fmt: skip
        c.start()
        assert c.short_id == c.id[:12] and c.image == ""
        host_port = c.get_host_port(80)
        assert c.ports == {"80/tcp": [("0.0.0.0", host_port)]} and c.host_ip == "127.0.0.1"
        with pytest.raises(ContainerError, match=r"port 81/tcp .* is not published"):
            c.get_host_port(81)
        wait_until(c, all_of(LogMessage("server starting"), PortOpen(80), HttpOk(80)), 30)
        wait_until(c, any_of(LogMessage("never printed"), HttpOk(80, "/index.html")), 10)
        with pytest.raises(WaitTimeout, match="none of 2 conditions held"):
            wait_until(c, any_of(LogMessage("never"), HttpOk(80, "/missing")), 1.5)
        other = pc.Container.load(c.id)
        try:
            other.stop(timeout=1)
        finally:
            other.close()
        c.reload()
        assert c.record.status == "stopped"


def test_strategies_are_checked() -> None:
    with pytest.raises(TypeError, match="at least one"):
        all_of()
    with pytest.raises(TypeError, match="not a wait strategy"):
        any_of("ready")  # type: ignore[arg-type]
