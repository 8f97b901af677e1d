"""Wait strategies against real containers (and a local HTTP server): each succeeds when
its condition comes true, and fails with a message naming what it waited for and the last
thing it saw."""

from __future__ import annotations

import http.server
import os
import re
import socket
import tempfile
import threading
from collections.abc import Iterator

import pytest

from pycontainers.runtime.detach import HealthCheck
from pycontainers.testing import (
    ContainerFactory,
    TestEngine,
    WaitTimeout,
    wait_for_health,
    wait_for_http,
    wait_for_log,
    wait_for_port,
)

pytestmark = pytest.mark.root


@pytest.fixture
def factory() -> Iterator[ContainerFactory]:
    engine = TestEngine("waits", os.environ["PYCONTAINERS_STATE"], os.environ["PYCONTAINERS_ROOT"])
    f = ContainerFactory(engine)
    try:
        yield f
    finally:
        f.cleanup()


def test_wait_for_log(factory: ContainerFactory) -> None:
    c = factory("host", "sleep 0.3; echo starting; echo 'ready on port 80' >&2; sleep 300")
    assert wait_for_log(c, r"ready on port \d+", timeout=20) == "ready on port 80"
    with pytest.raises(WaitTimeout) as info:
        wait_for_log(c, "never printed", timeout=0.5)
    message = str(info.value)
    assert "'never printed' within 0.5 s" in message and "it is running" in message
    assert "    starting" in message  # the last lines seen


def test_wait_for_log_ends_when_the_container_exits(factory: ContainerFactory) -> None:
    c = factory("host", "echo bye; exit 3")
    with pytest.raises(WaitTimeout, match=r"stopped with exit code 3;.*\n    bye"):
        wait_for_log(c, "hello", timeout=60)


def test_wait_for_port_in_the_containers_netns(factory: ContainerFactory) -> None:
    server = "import socket,time; time.sleep(0.3); s=socket.socket(); s.bind(('127.0.0.1', 8080)); s.listen(); time.sleep(300)"
    c = factory("host", ["python3", "-c", server])  # network "none": reachable only inside
    assert wait_for_port(c, 8080, timeout=20) == "127.0.0.1"
    with pytest.raises(WaitTimeout) as info:
        wait_for_port(c, 8081, timeout=0.5)
    assert re.search(
        r"port 8081 of container \w{12} \(127\.0\.0\.1 in its netns\)", str(info.value)
    )
    assert "ConnectionRefusedError" in str(info.value)


def test_wait_for_port_on_a_host() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(WaitTimeout, match=rf"127\.0\.0\.1:{port} did not accept.*Refused"):
            wait_for_port("127.0.0.1", port, timeout=0.3)
        s.listen()
        assert wait_for_port("127.0.0.1", port, timeout=5) == "127.0.0.1"


@pytest.fixture
def http_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, "ok.txt"), "w") as f:
            f.write("fine")

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=root, **kwargs)  # type: ignore[arg-type]

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def test_wait_for_http(http_server: str) -> None:
    assert wait_for_http(f"{http_server}/ok.txt", timeout=5) == b"fine"
    assert wait_for_http(f"{http_server}/missing", status=404, timeout=5)
    with pytest.raises(
        WaitTimeout, match=r"/missing did not answer with status 200 .*last answer: status 404"
    ):
        wait_for_http(f"{http_server}/missing", timeout=0.5)


def test_wait_for_health(factory: ContainerFactory) -> None:
    check = HealthCheck(test="test -f /tmp/ok", interval="100ms", timeout="2s", retries=1000)
    c = factory("host", "sleep 0.5; touch /tmp/ok; sleep 300", healthcheck=check)
    wait_for_health(c, timeout=30)
    assert c.health == "healthy"
    bad = factory(
        "host",
        "sleep 300",
        healthcheck=HealthCheck(test="echo not yet; false", interval="100ms", retries=1),
    )
    with pytest.raises(WaitTimeout) as info:
        wait_for_health(bad, timeout=1.5)
    message = str(info.value)
    assert "was not healthy within 1.5 s: health unhealthy" in message
    assert "last check exited 1 with output 'not yet" in message
    plain = factory("host", "sleep 300")
    with pytest.raises(WaitTimeout, match="no health reported"):
        wait_for_health(plain, timeout=0.3)
