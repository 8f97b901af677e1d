"""Registry client pieces that need no registry: config.json, challenges, platforms,
insecure rules, media types."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pycontainers.errors import PyContainersError, SpecError
from pycontainers.images import Platform
from pycontainers.images.registry import (
    NoMatchingPlatform,
    Unauthorized,
    UnsupportedMediaType,
    is_insecure,
    load_credentials,
    logout,
    parse_platform,
)
from pycontainers.images.registry._http import backoff_delay, endpoint_host
from pycontainers.images.registry.auth import (
    DOCKER_HUB_KEY,
    Challenge,
    Credentials,
    docker_config_path,
    store_credentials,
)
from pycontainers.images.registry.manifests import media_type_of, parse_manifest, select_platform


def test_errors_are_pycontainers_errors() -> None:
    assert issubclass(Unauthorized, PyContainersError)
    assert issubclass(NoMatchingPlatform, LookupError)


def test_config_roundtrip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "d" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps({"auths": {"other:5000": {"auth": "eDp5"}}, "psFormat": "x"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg.parent))
    assert docker_config_path() == cfg
    store_credentials("docker.io", Credentials("me", "pa:ss"))
    store_credentials("reg.example:5000", Credentials("u", "p"))
    data = json.loads(cfg.read_text())
    assert data["psFormat"] == "x"
    assert base64.b64decode(data["auths"][DOCKER_HUB_KEY]["auth"]) == b"me:pa:ss"
    assert cfg.stat().st_mode & 0o777 == 0o600
    assert load_credentials("docker.io") == Credentials("me", "pa:ss")
    assert load_credentials("index.docker.io") == Credentials("me", "pa:ss")
    assert load_credentials("reg.example:5000") == Credentials("u", "p")
    assert load_credentials("other:5000") == Credentials("x", "y")
    assert load_credentials("nowhere") is None
    assert "pa:ss" not in repr(load_credentials("docker.io"))
    assert logout("docker.io") and not logout("docker.io")
    assert set(json.loads(cfg.read_text())["auths"]) == {"other:5000", "reg.example:5000"}
    # the https:// form docker writes for some registries
    cfg.write_text(json.dumps({"auths": {"https://reg.example:5000/v1/": {"auth": "YTpi"}}}))
    assert load_credentials("reg.example:5000") == Credentials("a", "b")


def test_challenge_parse() -> None:
    c = Challenge.parse(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push",error="insufficient_scope"'
    )
    assert c.scheme == "bearer"
    assert c.get("realm") == "https://auth.example/token"
    assert c.get("scope") == "repository:a/b:pull,push"
    assert c.get("error") == "insufficient_scope"
    assert Challenge.parse('Basic realm="x y"').get("realm") == "x y"


def test_insecure_rules() -> None:
    assert is_insecure("127.0.0.1:5000")
    assert is_insecure("localhost:5000")
    assert is_insecure("[::1]:5000")
    assert not is_insecure("registry.example:5000")
    assert is_insecure("registry.example:5000", ["registry.example:5000"])
    assert is_insecure("registry.example:5000", ["registry.example"])
    assert is_insecure("10.1.2.3:5000", ["10.0.0.0/8"])
    assert not is_insecure("11.1.2.3:5000", ["10.0.0.0/8"])
    assert endpoint_host("docker.io") == "registry-1.docker.io"
    assert endpoint_host("ghcr.io") == "ghcr.io"
    assert all(0 < backoff_delay(n, 0.25) <= 10 for n in range(20))


def test_platforms() -> None:
    assert parse_platform("linux/arm64/v8") == Platform("arm64", "linux", variant="v8")
    assert parse_platform("linux/x86_64") == Platform("amd64", "linux")
    with pytest.raises(SpecError):
        parse_platform("linux")
    index = {
        "manifests": [
            _entry("1", "amd64"),
            _entry("2", "arm64"),  # no variant: means v8
            _entry("3", "arm", "v6"),
            _entry("4", "arm", "v7"),
        ]
    }
    assert select_platform(index, parse_platform("linux/amd64")).digest.encoded == "1" * 64
    assert select_platform(index, parse_platform("linux/arm64/v8")).digest.encoded == "2" * 64
    assert select_platform(index, parse_platform("linux/arm")).digest.encoded == "4" * 64
    assert select_platform(index, parse_platform("linux/arm/v6")).digest.encoded == "3" * 64
    with pytest.raises(NoMatchingPlatform, match="linux/amd64, linux/arm64"):
        select_platform(index, parse_platform("linux/s390x"))


def _entry(n: str, arch: str, variant: str = "") -> dict[str, object]:
    plat = {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}
    return {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + n * 64,
        "size": 1,
        "platform": plat,
    }


def test_media_types() -> None:
    with pytest.raises(UnsupportedMediaType, match="schema 1"):
        media_type_of(json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(), "")
    media, _ = media_type_of(json.dumps({"schemaVersion": 2, "manifests": []}).encode(), "")
    assert media == "application/vnd.oci.image.index.v1+json"
    with pytest.raises(UnsupportedMediaType):
        media_type_of(b"not json", "application/json")
    bad_layer = {
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "a" * 64,
            "size": 1,
        },
        "layers": [{"mediaType": "application/x-helm", "digest": "sha256:" + "b" * 64, "size": 1}],
    }
    with pytest.raises(UnsupportedMediaType, match="x-helm"):
        parse_manifest(bad_layer, "application/vnd.oci.image.manifest.v1+json")
