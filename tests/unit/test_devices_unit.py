"""The device entry of a spec: validated at construction naming the field, parsed from
Docker's ``HOST[:CONTAINER[:PERMS]]``, stored only when used, and its cgroup rule."""

from __future__ import annotations

import pytest

from pycontainers.cgroups import Resources
from pycontainers.errors import SpecError
from pycontainers.oci.config import PREFIX, to_config
from pycontainers.oci.load import from_config
from pycontainers.spec import ContainerSpec, DeviceMapping, Process


def test_parse_docker_forms() -> None:
    null = DeviceMapping.parse("device", "/dev/null")
    assert null == DeviceMapping("/dev/null", "/dev/null", "c", 1, 3, "rwm")
    assert DeviceMapping.parse("device", "/dev/zero:/dev/z:wr").perms == "rw"
    assert DeviceMapping.parse("device", "/dev/zero:r").path == "/dev/zero"  # perms, no path
    assert DeviceMapping.parse("device", "/dev/zero:/dev/z").perms == "rwm"
    assert str(DeviceMapping.parse("device", "/dev/zero:/dev/z:mr").rule) == "c 1:5 rm"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": "x"}, "devices.type"),
        ({"major": -1}, "devices.major"),
        ({"minor": "3"}, "devices.minor"),
        ({"perms": "rx"}, "devices.perms"),
        ({"perms": ""}, "devices.perms"),
        ({"perms": "rr"}, "devices.perms"),
        ({"path": "dev/n"}, "devices.path"),
        ({"host_path": "/dev/../etc"}, "devices.host_path"),
    ],
)
def test_construction_names_the_field(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "path": "/dev/n", "host_path": "/dev/null", "type": "c", "major": 1, "minor": 3,
    }  # fmt: skip
    with pytest.raises(SpecError, match=f"^{field}: "):
        DeviceMapping(**{**base, **kwargs})  # type: ignore[arg-type]


def test_a_spec_with_devices_needs_its_cgroup_and_round_trips() -> None:
    with pytest.raises(SpecError, match=r"^devices: .*cgroup"):
        ContainerSpec(rootfs="/r", process=Process(args=("true",)), devices=["/dev/null"])
    spec = ContainerSpec(rootfs="/r", process=Process(args=("true",)), resources=Resources(),
                         devices=["/dev/null:/dev/n:r"])  # fmt: skip
    doc = to_config(spec)
    assert PREFIX + "devices" in doc["annotations"]
    assert from_config(doc).spec.devices == spec.devices
    plain = to_config(ContainerSpec(rootfs="/r", process=Process(args=("true",))))
    assert PREFIX + "devices" not in plain["annotations"]  # older readers never see it


def test_device_rules_give_a_device_its_own_permissions() -> None:
    """The same rules on every layout: the v1 controller and the cgroup v2 device program
    both enforce them.
    """
    from pycontainers.runtime.devrules import with_default_devices

    spec = ContainerSpec(rootfs="/r", process=Process(args=("true",)), resources=Resources(),
                         devices=["/dev/zero:/dev/z:r", "/dev/loop-control"])  # fmt: skip
    rules = [str(r) for r in with_default_devices(spec).devices_allow]
    assert "c 1:5 r" in rules and "c 1:5 rwm" not in rules and "c 10:237 rwm" in rules
    assert "c 1:3 rwm" in rules  # the other defaults stay
