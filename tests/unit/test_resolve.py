"""The resolve step is pure: fixed keywords and inputs give one spec, with no machine access.

These run as any user: every input from the machine (euid, an image's config and layers,
another container's netns, subordinate ids) is given, so nothing is read from the host."""

from __future__ import annotations

import pytest

from pycontainers.errors import SpecError
from pycontainers.images.config import ImageConfig
from pycontainers.runtime.resolve import ImageInputs, SpecInputs, resolve_spec
from pycontainers.spec import IdMapping, OverlayRootfs

IMAGE = ImageInputs(
    reference="docker.io/library/web:1",
    lowers=("/data/snap/a", "/data/snap/b"),
    config=ImageConfig(
        env=("PATH=/usr/bin:/bin", "MODE=prod"),
        cmd=("serve",),
        entrypoint=("/bin/web",),
        working_dir="/srv",
        user="www",
        stop_signal="SIGQUIT",
    ),
)
MAPS = ((IdMapping(0, 100000, 65536),), (IdMapping(0, 100000, 65536),))


def test_an_image_gives_its_defaults_and_keywords_win() -> None:
    spec = resolve_spec(
        "web:1", ["--port", "80"], {"env": {"MODE": "dev"}, "memory": "64m"},
        SpecInputs(image=IMAGE),
    )  # fmt: skip
    assert spec.rootfs == OverlayRootfs(("/data/snap/a", "/data/snap/b"))
    assert spec.image == "docker.io/library/web:1"
    assert spec.process.args == ("/bin/web", "--port", "80")  # entrypoint + our args
    assert dict(spec.process.env) == {"PATH": "/usr/bin:/bin", "MODE": "dev"}
    assert spec.process.user is not None and spec.process.user.name == "www"
    assert (spec.process.cwd, spec.stop_signal) == ("/srv", "SIGQUIT")
    assert spec.resources is not None and spec.resources.memory_max == 64 * 1024 * 1024


def test_the_same_inputs_give_the_same_spec() -> None:
    options = {"hostname": "box", "ports": ["8080:80"], "cap_drop": ["NET_RAW"]}
    first = resolve_spec("web:1", None, options, SpecInputs(image=IMAGE))  # type: ignore[arg-type]
    again = resolve_spec("web:1", None, options, SpecInputs(image=IMAGE))  # type: ignore[arg-type]
    assert first == again and first.network is not None  # ports: the bridge by default


def test_rootless_and_auto_userns_take_the_gathered_mappings() -> None:
    rootless = resolve_spec("/rootfs", ["true"], {}, SpecInputs(euid=1000, rootless_mappings=MAPS))
    assert "user" in rootless.namespaces and rootless.uid_mappings == MAPS[0]
    with pytest.raises(SpecError, match="resources"):
        resolve_spec(
            "/rootfs", ["true"], {"memory": "64m"}, SpecInputs(euid=1000, rootless_mappings=MAPS)
        )
    auto = resolve_spec("/rootfs", ["true"], {"userns": "auto"}, SpecInputs(auto_mappings=MAPS))
    assert "user" in auto.namespaces and auto.gid_mappings == MAPS[1]


def test_another_containers_network_namespace_comes_from_the_inputs() -> None:
    spec = resolve_spec(
        "/rootfs", ["true"], {"network": "container:web"}, SpecInputs(netns="/proc/42/ns/net")
    )
    assert spec.netns == "/proc/42/ns/net" and "net" not in spec.namespaces


@pytest.mark.parametrize(
    ("rootfs", "options", "field"),
    [
        ("web:1", {}, "rootfs"),  # an image that was not gathered
        ("/rootfs", {"network": "container:web"}, "network"),
        ("/rootfs", {"userns": "auto"}, "userns"),
        ("/rootfs", {"network": "none", "ports": ["80"]}, "ports"),
        ("/rootfs", {"hostnme": "x"}, "hostnme"),
    ],
)
def test_missing_inputs_and_bad_keywords_name_the_field(
    rootfs: str, options: dict[str, object], field: str
) -> None:
    with pytest.raises(SpecError) as err:
        resolve_spec(rootfs, ["true"], options, SpecInputs())  # type: ignore[arg-type]
    assert err.value.field == field


def test_the_images_volumes_become_anonymous_volumes_unless_mounted() -> None:
    import attrs

    from pycontainers.spec import Mount

    image = IMAGE._replace(config=attrs.evolve(IMAGE.config, volumes=("/cache", "/data")))
    mine = Mount("/cache/", source="/srv/cache")  # the user's mount covers the image's /cache
    spec = resolve_spec("web:1", None, {"mounts": [mine]}, SpecInputs(image=image))
    assert spec.mounts == (mine, Mount("/data", type="volume"))
    plain = resolve_spec("/rootfs", ["true"], {}, SpecInputs())
    assert plain.mounts == ()  # a directory rootfs has no image config
