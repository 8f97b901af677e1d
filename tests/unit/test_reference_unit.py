"""Image references: Docker's normalization, registry detection, the grammar's limits."""

from __future__ import annotations

import pytest

from pycontainers.errors import PyContainersError, SpecError
from pycontainers.images import Digest, Reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "full", "familiar", "registry", "path", "tag"),
    [
        (
            "busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
            "docker.io",
            "library/busybox",
            "latest",
        ),
        (
            "busybox:1.36",
            "docker.io/library/busybox:1.36",
            "busybox:1.36",
            "docker.io",
            "library/busybox",
            "1.36",
        ),
        (
            "library/busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
            "docker.io",
            "library/busybox",
            "latest",
        ),
        (
            "docker.io/busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
            "docker.io",
            "library/busybox",
            "latest",
        ),
        (
            "index.docker.io/library/busybox:x",
            "docker.io/library/busybox:x",
            "busybox:x",
            "docker.io",
            "library/busybox",
            "x",
        ),
        ("user/app:v1", "docker.io/user/app:v1", "user/app:v1", "docker.io", "user/app", "v1"),
        (
            "registry:5000/a/b:tag",
            "registry:5000/a/b:tag",
            "registry:5000/a/b:tag",
            "registry:5000",
            "a/b",
            "tag",
        ),
        (
            "localhost/app",
            "localhost/app:latest",
            "localhost/app:latest",
            "localhost",
            "app",
            "latest",
        ),
        (
            "localhost:5000/app:1",
            "localhost:5000/app:1",
            "localhost:5000/app:1",
            "localhost:5000",
            "app",
            "1",
        ),
        (
            "ghcr.io/o/r/x:main_2",
            "ghcr.io/o/r/x:main_2",
            "ghcr.io/o/r/x:main_2",
            "ghcr.io",
            "o/r/x",
            "main_2",
        ),
        (
            "127.0.0.1:5000/busybox",
            "127.0.0.1:5000/busybox:latest",
            "127.0.0.1:5000/busybox:latest",
            "127.0.0.1:5000",
            "busybox",
            "latest",
        ),
        (
            "a-b/c__d/e.f",
            "docker.io/a-b/c__d/e.f:latest",
            "a-b/c__d/e.f:latest",
            "docker.io",
            "a-b/c__d/e.f",
            "latest",
        ),
        (
            "foo/bar:Tag.With-Caps_1",
            "docker.io/foo/bar:Tag.With-Caps_1",
            "foo/bar:Tag.With-Caps_1",
            "docker.io",
            "foo/bar",
            "Tag.With-Caps_1",
        ),
    ],
)
def test_parse(text: str, full: str, familiar: str, registry: str, path: str, tag: str) -> None:
    ref = Reference.parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar
    assert (ref.registry, ref.path, ref.tag, ref.digest) == (registry, path, tag, None)
    assert Reference.parse(full) == ref  # normalization is idempotent
    assert Reference.parse(ref.familiar) == ref


def test_digest_references() -> None:
    ref = Reference.parse(f"busybox@{D}")
    assert ref.tag == "" and ref.digest == Digest.parse(D)
    assert str(ref) == f"docker.io/library/busybox@{D}"
    assert ref.familiar == f"busybox@{D}"
    both = Reference.parse(f"registry:5000/a:v1@{D}")
    assert (both.registry, both.path, both.tag) == ("registry:5000", "a", "v1")
    assert str(both) == f"registry:5000/a:v1@{D}"


def test_helpers() -> None:
    ref = Reference.parse("registry:5000/a/b:tag")
    assert ref.repository == "registry:5000/a/b"
    assert str(ref.with_tag("v2")) == "registry:5000/a/b:v2"
    assert str(ref.with_digest(D)) == f"registry:5000/a/b@{D}"
    assert Reference.parse(ref) is ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        " busybox",
        "Busybox",
        "user/App",
        "busybox:",
        "busybox:-tag",
        "busybox:" + "t" * 129,
        "busybox@sha256:abc",
        "busybox@md5:" + "a" * 32,
        ":tag",
        "a//b",
        "a/b/",
        "-a/b",
        "a--/b",
        "a..b",
        "bad_host:port/x",
        "host:99999999999999999999x/a",
        "a" * 256,
        "@" + D,
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(SpecError) as info:
        Reference.parse(text)
    assert info.value.field == "reference"
    assert isinstance(info.value, PyContainersError)


def test_uppercase_message() -> None:
    with pytest.raises(SpecError, match="lowercase"):
        Reference.parse("MyImage")


def test_not_a_string() -> None:
    with pytest.raises(SpecError):
        Reference.parse(42)  # type: ignore[arg-type]
