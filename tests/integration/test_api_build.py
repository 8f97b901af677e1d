"""``POST /build`` through the daemon: the docker CLI's classic builder (DOCKER_BUILDKIT=0)
and docker-py's ``images.build`` sending a tar context; tags, build args, labels, target,
``-f`` outside the context, ``-q``, the JSON stream, failures (nothing left behind) and bad
parameters (400 before any work).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import IMAGE, Daemon, docker, ensure_busybox_image, start_daemon
from test_api_docker_cli import raw

pytestmark = [pytest.mark.root, pytest.mark.network]

DOCKERFILE = """\
    FROM busybox:latest AS base
    ARG GREETING=hello
    RUN echo "$GREETING from run" > /greeting
    COPY data.txt /data.txt

    FROM base AS final
    LABEL stage=final
    CMD ["sh", "-c", "cat /greeting /data.txt"]

    FROM base AS other
    RUN echo other > /other
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Iterator[Daemon]:
    ensure_busybox_image(busybox_rootfs)
    yield from start_daemon(tmp_path_factory.mktemp("api-build"))


@pytest.fixture(autouse=True)
def clean(daemon: Daemon) -> Iterator[None]:
    yield
    from api_util import remove_everything

    remove_everything(daemon)
    images = docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    built = [i for i in images if i.startswith("localhost/built")]
    if built:
        docker(daemon, "rmi", "-f", *built)


def make_context(tmp_path: Path, dockerfile: str = DOCKERFILE, **files: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    (ctx / "data.txt").write_text("data from the context\n")
    for name, text in files.items():
        (ctx / name).write_text(text)
    return ctx


def leftovers() -> list[str]:
    tmp = Path(os.environ["PYCONTAINERS_ROOT"], "build", "tmp")
    return sorted(os.listdir(tmp)) if tmp.is_dir() else []


def classic(d: Daemon, *args: str, check: bool = True) -> tuple[int, str, str]:
    env = {"DOCKER_BUILDKIT": "0"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        r = docker(d, *args, check=check, timeout=300)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return r.returncode, r.stdout, r.stderr


def test_docker_cli_classic_build_tags_args_labels_target(daemon: Daemon, tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    code, out, err = classic(
        daemon, "build", "-t", "localhost/built:one", "-t", "localhost/built:two",
        "--build-arg", "GREETING=hi", "--label", "team=core", "--target", "final",
        str(ctx),
    )  # fmt: skip
    assert code == 0, err
    assert "Successfully built" in out and "Successfully tagged localhost/built:one" in out
    assert "RUN echo" in out  # the builder's progress came through as stream lines
    run = docker(daemon, "run", "--rm", "localhost/built:two")
    assert run.stdout == "hi from run\ndata from the context\n"
    doc = json.loads(docker(daemon, "image", "inspect", "localhost/built:one").stdout)[0]
    assert doc["Config"]["Labels"] == {"stage": "final", "team": "core"}
    two = json.loads(docker(daemon, "image", "inspect", "localhost/built:two").stdout)[0]
    assert two["Id"] == doc["Id"]
    listing = docker(daemon, "run", "--rm", "localhost/built:one", "ls", "/").stdout.split()
    assert "greeting" in listing and "other" not in listing  # --target final: no stage other
    # -q prints the image ID only; a second build of the same context hits the cache
    code, out, _ = classic(daemon, "build", "-q", "--build-arg", "GREETING=hi",
                           "--label", "team=core", "--target", "final", str(ctx))  # fmt: skip
    assert code == 0 and out.strip() == doc["Id"]
    assert leftovers() == []


def test_docker_cli_dockerfile_outside_the_context_and_failures(
    daemon: Daemon, tmp_path: Path
) -> None:
    ctx = make_context(tmp_path)
    outside = tmp_path / "Other.dockerfile"
    outside.write_text('FROM busybox:latest\nCOPY data.txt /d\nCMD ["cat", "/d"]\n')
    code, _, err = classic(daemon, "build", "-t", "localhost/built:f", "-f", str(outside), str(ctx))
    assert code == 0, err
    assert docker(daemon, "run", "--rm", "localhost/built:f").stdout == "data from the context\n"
    # a failing RUN: the CLI exits non-zero with the builder's message; nothing is left
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo partial; exit 3\n")
    before = docker(daemon, "images", "-q").stdout.split()
    code, out, err = classic(daemon, "build", "-t", "localhost/built:bad", str(ctx), check=False)
    assert code != 0
    assert "exit" in err.lower() and "3" in err, (out, err)
    assert "partial" in out
    assert docker(daemon, "images", "-q").stdout.split() == before
    assert docker(daemon, "ps", "-aq").stdout.split() == []
    assert leftovers() == []
    # a base image that does not exist (offline: the pull fails) is an error, not a hang
    (ctx / "Dockerfile").write_text("FROM localhost:1/no/such:image\n")
    code, _, err = classic(daemon, "build", str(ctx), check=False)
    assert code != 0 and "no/such" in err
    assert leftovers() == []


def test_docker_cli_default_builder(daemon: Daemon, tmp_path: Path) -> None:
    """With no DOCKER_BUILDKIT, this CLI (no buildx plugin installed) and a daemon whose
    ping says ``Builder-Version: 1`` use the classic protocol."""
    ctx = make_context(tmp_path)
    r = docker(daemon, "build", "-t", "localhost/built:auto", "--target", "final", str(ctx),
               timeout=300)  # fmt: skip
    assert "Successfully tagged localhost/built:auto" in r.stdout
    # asking for BuildKit explicitly: the CLI wants its buildx plugin, or our daemon refuses
    os.environ["DOCKER_BUILDKIT"] = "1"
    try:
        r = docker(daemon, "build", str(ctx), check=False)
    finally:
        del os.environ["DOCKER_BUILDKIT"]
    assert r.returncode != 0
    assert "buildx" in r.stderr or "DOCKER_BUILDKIT=0" in r.stderr


def tar_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_docker_py_images_build_fileobj_and_path(daemon: Daemon, tmp_path: Path) -> None:
    docker_py = pytest.importorskip("docker")
    client = docker_py.DockerClient(base_url=daemon.url)
    try:
        body = tar_of(
            {"Dockerfile": 'FROM busybox:latest\nARG V\nRUN echo "v=$V" > /v\nCMD ["cat", "/v"]\n'}
        )
        image, logs = client.images.build(
            fileobj=io.BytesIO(body), custom_context=True, encoding="gzip",
            tag="localhost/built:py", buildargs={"V": "7"},
        )  # fmt: skip
        lines = list(logs)
        assert any("aux" in line and line["aux"]["ID"] == image.id for line in lines)
        assert any("Successfully built" in line.get("stream", "") for line in lines)
        assert "localhost/built:py" in image.tags
        assert client.containers.run(image.id, remove=True) == b"v=7\n"
        ctx = make_context(tmp_path)
        image2, _ = client.images.build(
            path=str(ctx), tag="localhost/built:path", target="final", labels={"x": "y"}
        )
        assert image2.labels == {"stage": "final", "x": "y"}
        assert client.containers.run(image2.id, remove=True).startswith(b"hello from run")
        with pytest.raises(docker_py.errors.BuildError) as info:
            client.images.build(fileobj=io.BytesIO(tar_of({"Dockerfile": "FROM busybox:latest\n"
                                                           "NOPE x\n"})), custom_context=True,
                                encoding="gzip")  # fmt: skip
        assert "NOPE" in str(info.value) or "unknown instruction" in str(info.value).lower()
    finally:
        client.close()
    assert leftovers() == []


def test_bad_parameters_are_400_before_any_work(daemon: Daemon) -> None:
    body = tar_of({"Dockerfile": "FROM busybox:latest\n"})
    ct = "Content-Type: application/x-tar\r\n"
    cases = {
        "platform=windows/amd64": "platform",
        "version=2": "DOCKER_BUILDKIT=0",
        "buildargs=[1]": "buildargs",
        "labels=notjson": "labels",
        "memory=1000000": "memory",
        "networkmode=none": "networkmode",
        "t=Bad%20Tag": "invalid tag",
        "nocache=maybe": "nocache",
    }
    for query, word in cases.items():
        status, out = raw(daemon, "POST", f"/build?{query}", body, ct)
        assert status == 400, (query, out)
        assert word in json.loads(out)["message"], (query, out)
    # a Dockerfile named outside the context: an error line in the stream (status 200)
    q = urllib.parse.urlencode({"dockerfile": "../../../../etc/passwd"})
    status, out = raw(daemon, "POST", f"/build?{q}", body, ct)
    assert status == 200
    last = json.loads(out.strip().splitlines()[-1])
    assert "outside the build context" in last["error"]
    assert last["errorDetail"]["message"] == last["error"]
    # a body that is not a tar
    status, out = raw(daemon, "POST", "/build", b"this is not a tar archive" * 40, ct)
    assert status == 200 and "error" in json.loads(out.strip().splitlines()[-1])
    assert leftovers() == []
    assert docker(daemon, "image", "inspect", IMAGE).returncode == 0
