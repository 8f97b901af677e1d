"""Registry pull and push through the daemon: the docker CLI (``docker push``/``pull``) and
docker-py (``images.push``/``pull``) against Debian's ``docker-registry`` on the loopback of
the session's registry namespace, with Docker's JSON progress lines.

The daemon runs in that namespace too (it is where the registry's 127.0.0.1 is); the images
it pulls are run with ``--network none`` there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import IMAGE, Daemon, docker, ensure_busybox_image, start_daemon
from registry_fixtures import RegistryNetns, RegistryServer

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture
def daemon(
    tmp_path_factory: pytest.TempPathFactory,
    busybox_rootfs: Path,
    registry: RegistryServer,
    registry_netns: RegistryNetns,
) -> Iterator[Daemon]:
    ensure_busybox_image(busybox_rootfs)
    with registry_netns.enter():  # the daemon process starts in the registry's namespace
        gen = start_daemon(tmp_path_factory.mktemp("api-registry"))
        d = next(gen)
    yield d
    for _ in gen:
        pass


def test_docker_cli_push_and_pull(daemon: Daemon, registry: RegistryServer) -> None:
    ref = f"{registry.host}/api/busybox:cli"
    docker(daemon, "tag", IMAGE, ref)
    pushed = docker(daemon, "push", ref)
    assert "digest: sha256:" in pushed.stdout, pushed.stdout
    local_id = docker(daemon, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
    docker(daemon, "rmi", ref)
    assert docker(daemon, "image", "inspect", ref, check=False).returncode != 0
    pulled = docker(daemon, "pull", ref)
    assert f"Status: Downloaded newer image for {ref}" in pulled.stdout, pulled.stdout
    assert docker(daemon, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() == local_id
    run = docker(daemon, "run", "--rm", "--network", "none", ref, "echo", "pulled")
    assert run.stdout == "pulled\n"
    missing = docker(daemon, "pull", f"{registry.host}/api/no-such:1", check=False)
    assert missing.returncode != 0 and "no-such" in missing.stderr
    docker(daemon, "rmi", ref)


def test_docker_py_push_and_pull_progress_lines(daemon: Daemon, registry: RegistryServer) -> None:
    docker_py = pytest.importorskip("docker")
    client = docker_py.DockerClient(base_url=daemon.url)
    repo = f"{registry.host}/api/pybox"
    try:
        client.images.get(IMAGE).tag(repo, "py")
        lines = list(client.images.push(repo, tag="py", stream=True, decode=True))
        assert all(isinstance(line, dict) for line in lines)
        assert not [line for line in lines if "error" in line], lines
        assert any(line.get("status") == "Pushing" and "progressDetail" in line for line in lines)
        assert any(line.get("status") == "Pushed" for line in lines), lines
        aux = [line["aux"] for line in lines if "aux" in line]
        assert aux and aux[0]["Tag"] == "py" and aux[0]["Digest"].startswith("sha256:")
        client.images.remove(f"{repo}:py")
        raw = client.api.pull(repo, tag="py", stream=True, decode=True)
        events = list(raw)
        assert events[0]["status"].startswith("Pulling from api/pybox")
        layers = [e for e in events if "progressDetail" in e]  # blobs kept by rmi: no download
        assert layers and all(e["id"] and e["status"] in ("Downloading", "Already exists",
                                                          "Pull complete") for e in layers)  # fmt: skip
        assert events[-1]["status"] == f"Status: Downloaded newer image for {repo}:py"
        image = client.images.get(f"{repo}:py")
        assert f"{repo}:py" in image.tags
        with pytest.raises(docker_py.errors.NotFound):
            client.images.pull(f"{registry.host}/api/absent", tag="1")
        client.images.remove(f"{repo}:py")
    finally:
        client.close()
