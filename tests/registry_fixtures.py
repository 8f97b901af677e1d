"""A real registry for the tests: Debian's ``docker-registry`` on 127.0.0.1 in a private netns.

``pytest_plugins = ["registry_fixtures"]`` in tests/conftest.py makes the fixtures below
available. The registry listens only on the loopback of a network namespace the session
creates; tests that talk to it use the ``in_registry_netns`` fixture, which moves the test's
thread (and the threads and processes it starts) into that namespace for the test.

:class:`RegistryServer` works without pytest too (the pull benchmark uses it).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def lo_up() -> None:
    """Bring ``lo`` up in the calling thread's network namespace."""
    import importlib

    with importlib.import_module("pyroute2").IPRoute() as ipr:
        index = ipr.link_lookup(ifname="lo")[0]
        ipr.link("set", index=index, state="up")


class RegistryNetns:
    """A persisted network namespace with ``lo`` up; ``enter()`` moves the calling thread in."""

    def __init__(self, path: Path) -> None:
        from pycontainers.namespaces import Namespace

        self.ns = Namespace.create("net", path)
        with self.ns.enter():
            lo_up()

    def enter(self) -> contextlib.AbstractContextManager[Any]:
        """Context manager: the calling thread in the namespace."""
        return self.ns.enter()

    def remove(self) -> None:
        """Unpersist the namespace."""
        self.ns.remove()


def free_port() -> int:
    """A free TCP port on 127.0.0.1 of the calling thread's network namespace."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_htpasswd(path: Path, users: Mapping[str, str]) -> Path:
    """Write an htpasswd file with bcrypt hashes (the only kind the registry accepts)."""
    import bcrypt

    lines = [
        f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"
        for user, pw in users.items()
    ]
    path.write_text("".join(lines))
    return path


class RegistryServer:
    """One ``docker-registry serve`` process with filesystem storage under ``root``.

    ``auth`` is the registry config's ``auth`` section (``{"htpasswd": {...}}`` or
    ``{"token": {...}}``) or ``None`` for an open registry. Start it with the calling
    thread inside the namespace it should listen in.
    """

    def __init__(self, root: Path, auth: Mapping[str, Any] | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(root / "data")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }
        if auth:
            config["auth"] = dict(auth)
        self.config_path = root / "config.yml"
        self.config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        self.log_path = root / "registry.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_for_port(self.port)
        except OSError:
            self.stop()
            raise RuntimeError(f"docker-registry did not start: {self.log()}") from None

    def stop(self) -> None:
        """Stop the registry and reap it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        """What the registry wrote."""
        return self.log_path.read_text(errors="replace")


def _need_registry() -> None:
    if not os.path.exists(REGISTRY_BINARY):
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    if os.geteuid() != 0:
        pytest.skip("needs root: the registry runs in a private network namespace")


@pytest.fixture(scope="session")
def registry_netns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryNetns]:
    """The session's private network namespace for registries and their clients."""
    _need_registry()
    ns = RegistryNetns(tmp_path_factory.mktemp("registry-ns") / "net")
    yield ns
    ns.remove()


@pytest.fixture
def in_registry_netns(registry_netns: RegistryNetns) -> Iterator[RegistryNetns]:
    """Run the test (and what it starts) inside the registry namespace."""
    with registry_netns.enter():
        yield registry_netns


@pytest.fixture(scope="session")
def registry(
    registry_netns: RegistryNetns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """An open registry (no auth) at ``registry.host`` inside the registry namespace."""
    with registry_netns.enter():
        server = RegistryServer(tmp_path_factory.mktemp("registry"))
    yield server
    server.stop()


HTPASSWD_USERS = {"alice": "wonderland", "bob": "builder"}


@pytest.fixture(scope="session")
def htpasswd_registry(
    registry_netns: RegistryNetns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """A registry behind htpasswd basic auth; users and passwords in ``HTPASSWD_USERS``."""
    root = tmp_path_factory.mktemp("registry-htpasswd")
    htpasswd = make_htpasswd(root / "htpasswd", HTPASSWD_USERS)
    with registry_netns.enter():
        server = RegistryServer(
            root / "srv", auth={"htpasswd": {"realm": "pycontainers-test", "path": str(htpasswd)}}
        )
    yield server
    server.stop()
