import os
import socket

import pytest

from pycontainers.testing import ContainerFactory, Sandbox, wait_for_log


def test_a_command_in_a_sandbox(sandbox: Sandbox) -> None:
    # a throwaway container: no network, capped memory and pids, read-only host view
    result = sandbox.run("echo hello; ls /sys/class/net")
    assert result.returncode == 0
    assert result.text.split() == ["hello", "lo"]


def test_a_function_in_a_sandbox(sandbox: Sandbox) -> None:
    # a callable runs in a fresh interpreter inside the sandbox; its value comes back
    def inside() -> tuple[int, list[str]]:
        return os.getpid(), os.listdir("/sys/class/net")

    pid, links = sandbox.run(inside)
    assert links == ["lo"]
    assert pid != os.getpid()


def test_no_network_in_a_sandbox(sandbox: Sandbox) -> None:
    def connect() -> None:
        socket.create_connection(("192.0.2.1", 80), timeout=1)

    with pytest.raises(OSError):  # the exception from inside is raised here
        sandbox.run(connect)


@pytest.mark.pycontainers  # skipped, with the reason, where containers cannot run
def test_a_service(container_factory: ContainerFactory) -> None:
    # detached containers, stopped and removed after the test whatever its outcome
    server = container_factory("host", "echo ready; sleep 60", name="svc")
    assert wait_for_log(server, "ready") == "ready"
    r = server.exec(["echo", "inside"], capture_output=True)
    assert r.stdout == b"inside\n"
