"""Push and pull against the real docker-registry: round trip and run, platforms, tags,
mounts, chunked uploads, errors, the CLI and ``ensure_image``.

The registry listens on 127.0.0.1 of a private network namespace (tests/registry_fixtures.py);
every test runs inside it.
"""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.images import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_MANIFEST,
    Digest,
    ImageConfig,
    ImageStore,
)
from pycontainers.images.registry import (
    LineProgress,
    ManifestUnknown,
    NoMatchingPlatform,
    Progress,
    RegistryClient,
    RegistryNotFound,
    TerminalProgress,
    UnsupportedMediaType,
    ensure_image,
    pull,
    push,
)

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("in_registry_netns")]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> ImageStore:
    """A store with a two-layer busybox image built by the test: localhost/bb:1."""
    store = ImageStore(tmp_path_factory.mktemp("built") / "images")
    base = store.import_rootfs(busybox_rootfs, "localhost/bb:base", config=ImageConfig(cmd=("sh",)))
    extra = tmp_path_factory.mktemp("extra")
    (extra / "etc").mkdir()
    (extra / "etc" / "motd").write_text("pulled from a registry\n")
    store.commit_directory(extra, "localhost/bb:1", base=base, created_by="motd")
    return store


def _fresh(tmp_path: Path, name: str = "root") -> tuple[ImageStore, str]:
    root = tmp_path / name
    return ImageStore(root / "images"), str(root)


def test_push_pull_run(built: ImageStore, registry: object, tmp_path: Path) -> None:
    host = registry.host  # type: ignore[attr-defined]
    events: list[Progress] = []
    res = push(
        built,
        "localhost/bb:1",
        f"{host}/test/bb:1",
        tags=["latest", "v1.0"],
        progress=events.append,
    )
    img = built.get("localhost/bb:1")
    assert res.digest == img.digest
    assert set(res.uploaded) == {
        img.config_descriptor.digest,
        *(layer.digest for layer in img.layers),
    }
    assert [r.tag for r in res.references] == ["1", "latest", "v1.0"]
    assert {e.state for e in events} >= {"uploading", "done"}

    store, root = _fresh(tmp_path)
    pulled_events: list[Progress] = []
    pulled = pull(store, f"{host}/test/bb:latest", progress=pulled_events.append)
    assert pulled.digest == img.digest and pulled.id == img.id
    assert pulled.layers == img.layers
    done = [e for e in pulled_events if e.state == "done"]
    assert {e.digest for e in done} == {
        img.config_descriptor.digest,
        *(layer.digest for layer in img.layers),
    }
    assert all(e.done == e.total for e in done)
    assert not os.listdir(store.content.root / "ingest")

    r = pc.run(
        f"{host}/test/bb:latest",
        ["cat", "/etc/motd"],
        capture_output=True,
        image_root=root,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"pulled from a registry\n"

    # a second pull fetches nothing and still names the image
    again: list[Progress] = []
    pull(store, f"{host}/test/bb:v1.0", progress=again.append)
    assert {e.state for e in again} == {"exists"}
    assert store.get(f"{host}/test/bb:v1.0").digest == img.digest
    # pulled by digest too
    by_digest = pull(store, f"{host}/test/bb@{img.digest}")
    assert by_digest.digest == img.digest


def test_second_push_skips_and_mounts(built: ImageStore, registry: object) -> None:
    host = registry.host  # type: ignore[attr-defined]
    img = built.get("localhost/bb:1")
    push(built, img, f"{host}/src/bb:1")
    again = push(built, img, f"{host}/src/bb:1")
    assert not again.uploaded and len(again.skipped) == 1 + len(img.layers)
    mounted = push(built, img, f"{host}/dst/bb:1", mount_from=["src/bb"])
    assert not mounted.uploaded and len(mounted.mounted) == 1 + len(img.layers)
    with RegistryClient(host) as client:
        for layer in img.layers:
            assert client.blob_size("dst/bb", layer.digest) == layer.size


def test_chunked_upload(built: ImageStore, registry: object, tmp_path: Path) -> None:
    host = registry.host  # type: ignore[attr-defined]
    img = built.get("localhost/bb:base")
    assert img.layers[0].size > 3 * 100_000
    res = push(built, img, f"{host}/chunked/bb:1", chunk_size=100_000)
    assert len(res.uploaded) == 2
    store, _ = _fresh(tmp_path)
    assert pull(store, f"{host}/chunked/bb:1").layers == img.layers


def _fake_platform_image(
    client: RegistryClient, repo: str, arch: str, variant: str
) -> tuple[bytes, Digest]:
    """Upload a config + layer claiming ``arch`` and put its manifest by digest."""
    import gzip
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = f"{arch}\n".encode()
        info = tarfile.TarInfo("arch")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    layer = gzip.compress(raw, mtime=0)
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "variant": variant,
            "config": {"Cmd": ["cat", "/arch"]},
            "rootfs": {"type": "layers", "diff_ids": [str(Digest.from_bytes(raw))]},
        }
    ).encode()
    for blob in (layer, config):
        client.upload_blob(
            repo, Digest.from_bytes(blob), len(blob), functools.partial(io.BytesIO, blob)
        )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": {
                "mediaType": MEDIA_TYPE_CONFIG,
                "digest": str(Digest.from_bytes(config)),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": MEDIA_TYPE_LAYER_GZIP,
                    "digest": str(Digest.from_bytes(layer)),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    digest = client.put_manifest(
        repo, str(Digest.from_bytes(manifest)), manifest, MEDIA_TYPE_MANIFEST
    )
    return manifest, digest


@pytest.mark.parametrize(
    "index_type", [MEDIA_TYPE_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json"]
)
def test_multi_platform_index(
    built: ImageStore, registry: object, tmp_path: Path, index_type: str
) -> None:
    host = registry.host  # type: ignore[attr-defined]
    repo = "multi/bb"
    amd = push(built, "localhost/bb:1", f"{host}/{repo}:amd64")
    amd_bytes = built.content.read_bytes(amd.digest)
    entries = []
    with RegistryClient(host) as client:
        for arch, variant in (("arm64", "v8"), ("arm", "v7"), ("s390x", "")):
            data, digest = _fake_platform_image(client, repo, arch, variant)
            plat = {
                "architecture": arch,
                "os": "linux",
                **({"variant": variant} if variant else {}),
            }
            entries.append(
                {
                    "mediaType": MEDIA_TYPE_MANIFEST,
                    "digest": str(digest),
                    "size": len(data),
                    "platform": plat,
                }
            )
        entries.insert(
            1,
            {
                "mediaType": MEDIA_TYPE_MANIFEST,
                "digest": str(amd.digest),
                "size": len(amd_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
            },
        )
        index = json.dumps(
            {"schemaVersion": 2, "mediaType": index_type, "manifests": entries}
        ).encode()
        client.put_manifest(repo, "multi", index, index_type)

    store, root = _fresh(tmp_path)
    default = pull(store, f"{host}/{repo}:multi")
    assert default.digest == amd.digest
    assert default.platform.architecture == "amd64"
    r = pc.run(
        f"{host}/{repo}:multi",
        ["cat", "/etc/motd"],
        capture_output=True,
        image_root=root,
        timeout=30,
    )
    assert r.stdout == b"pulled from a registry\n"

    arm = pull(store, f"{host}/{repo}:multi", platform="linux/arm64/v8")
    assert (arm.platform.architecture, arm.platform.variant) == ("arm64", "v8")
    assert arm.digest == Digest.parse(str(entries[0]["digest"]))
    assert pull(store, f"{host}/{repo}:multi", platform="linux/arm64").digest == arm.digest
    assert pull(store, f"{host}/{repo}:multi", platform="linux/arm").platform.variant == "v7"
    # the name now points at the last platform pulled
    assert store.get(f"{host}/{repo}:multi").platform.architecture == "arm"
    with pytest.raises(NoMatchingPlatform, match="riscv64"):
        pull(store, f"{host}/{repo}:multi", platform="linux/riscv64")
    # docker run/create --platform: the pull picks that entry (s390x has no `cat` to run:
    # the create fails after the pull, and leaves no container)
    main = [sys.executable, "-m", "pycontainers", "--root", root]
    made = subprocess.run(
        [*main, "create", "--pull", "always", "--platform", "linux/s390x", f"{host}/{repo}:multi"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode != 0 and "cat" in made.stderr, made
    fmt = "{{.Architecture}}"
    shown = subprocess.run(
        [*main, "image", "inspect", "--format", fmt, f"{host}/{repo}:multi"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.strip() == "s390x", shown
    assert pc.Container.list() == []


def test_errors(built: ImageStore, registry: object, tmp_path: Path) -> None:
    host = registry.host  # type: ignore[attr-defined]
    store, _ = _fresh(tmp_path)
    push(built, "localhost/bb:1", f"{host}/errs/bb:1")
    with pytest.raises(ManifestUnknown):
        pull(store, f"{host}/errs/bb:nope")
    with pytest.raises(RegistryNotFound):
        pull(store, f"{host}/errs/missing:1")
    # an OCI artifact: a manifest whose config is not an image config
    with RegistryClient(host) as client:
        blob = b'{"hello": "artifact"}'
        client.upload_blob("errs/art", Digest.from_bytes(blob), len(blob), lambda: io.BytesIO(blob))
        art = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_TYPE_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.example.thing.v1+json",
                    "digest": str(Digest.from_bytes(blob)),
                    "size": len(blob),
                },
                "layers": [],
            }
        ).encode()
        client.put_manifest("errs/art", "1", art, MEDIA_TYPE_MANIFEST)
    with pytest.raises(UnsupportedMediaType, match=r"vnd\.example\.thing"):
        pull(store, f"{host}/errs/art:1")
    assert store.list() == []
    assert not list(store.content.blobs())


def test_ensure_image(built: ImageStore, registry: object, tmp_path: Path) -> None:
    host = registry.host  # type: ignore[attr-defined]
    push(built, "localhost/bb:1", f"{host}/ensure/bb:1")
    store, _ = _fresh(tmp_path)
    img = ensure_image(store, f"{host}/ensure/bb:1")
    assert store.get(f"{host}/ensure/bb:1") == img
    assert ensure_image(store, f"{host}/ensure/bb:1") == img


def test_progress_renderers() -> None:
    d = Digest.from_bytes(b"x")
    out = io.StringIO()
    bar = TerminalProgress(out, interval=0)
    bar(Progress(d, 2_000_000, 0, "downloading"))
    bar(Progress(d, 2_000_000, 1_000_000, "downloading"))
    bar(Progress(d, 2_000_000, 2_000_000, "done"))
    text = out.getvalue()
    assert "\x1b[1A" in text and "[===" in text and "1.0MB/2.0MB" in text and "Complete" in text
    out = io.StringIO()
    lines = LineProgress(out)
    for done in (0, 1000, 2000):
        lines(Progress(d, 2000, done, "downloading"))
    lines(Progress(d, 2000, 2000, "done"))
    assert out.getvalue().splitlines() == [
        f"{d.encoded[:12]}: Downloading 2.0kB",
        f"{d.encoded[:12]}: Pull complete",
    ]


def _cli(
    *args: str, root: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pycontainers.cli.registry import _main; sys.exit(_main())",
            "--root",
            root,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        input=input,
    )


def test_cli_push_pull(built: ImageStore, registry: object, tmp_path: Path) -> None:
    host = registry.host  # type: ignore[attr-defined]
    src_root = str(built.root.parent)
    r = _cli("push", "localhost/bb:1", f"{host}/cli/bb:1", "--tag", "two", root=src_root)
    assert r.returncode == 0, r.stderr
    assert "Push complete" in r.stdout and f"{host}/cli/bb:two" in r.stdout
    r = _cli("pull", f"{host}/cli/bb:two", root=str(tmp_path / "cli"))
    assert r.returncode == 0, r.stderr
    assert "Pull complete" in r.stdout and "Digest: sha256:" in r.stdout
    assert (
        ImageStore(tmp_path / "cli" / "images").get(f"{host}/cli/bb:two").digest
        == built.get("localhost/bb:1").digest
    )
    r = _cli("pull", f"{host}/cli/bb:nope", root=str(tmp_path / "cli"))
    assert r.returncode == 125 and "manifest unknown" in r.stderr
