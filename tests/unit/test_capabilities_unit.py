"""Capability names and Docker's cap_add / cap_drop rules (no root needed)."""

from __future__ import annotations

import pytest

from pycontainers.errors import SpecError
from pycontainers.security import capabilities as caps
from pycontainers.spec import SecurityOptions


def test_default_set_is_dockers_fourteen() -> None:
    assert len(caps.DEFAULT_CAPABILITIES) == 14
    assert caps.to_mask(caps.DEFAULT_CAPABILITIES) == 0xA80425FB


def test_numbers_follow_the_kernel_header() -> None:
    assert caps.CAP_NUMBERS["CAP_CHOWN"] == 0
    assert caps.CAP_NUMBERS["CAP_SYS_ADMIN"] == 21
    assert caps.CAP_NUMBERS["CAP_CHECKPOINT_RESTORE"] == 40


def test_names_are_normalized() -> None:
    opts = SecurityOptions(cap_add=["net_admin", "CAP_SYS_TIME", "Sys_Nice"], cap_drop="chown")
    assert opts.cap_add == ("CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_SYS_NICE")
    assert opts.cap_drop == ("CAP_CHOWN",)


def test_add_and_drop() -> None:
    got = caps.resolve(["NET_ADMIN"], ["CHOWN", "KILL"])
    assert got == (caps.DEFAULT_CAPABILITIES | {"CAP_NET_ADMIN"}) - {"CAP_CHOWN", "CAP_KILL"}


def test_drop_all_then_add() -> None:
    assert caps.resolve(["CAP_NET_BIND_SERVICE"], ["ALL"]) == {"CAP_NET_BIND_SERVICE"}


def test_add_all_and_privileged() -> None:
    assert caps.resolve(["ALL"], []) == caps.all_capabilities()
    assert caps.resolve([], ["ALL"], privileged=True) == caps.all_capabilities()


def test_unknown_capability_names_its_field() -> None:
    with pytest.raises(SpecError) as info:
        SecurityOptions(cap_add=["CAP_FLY"])
    assert info.value.field == "cap_add"
    with pytest.raises(SpecError) as info:
        SecurityOptions(cap_drop=[3])  # type: ignore[list-item]
    assert info.value.field == "cap_drop"


def test_masked_and_readonly_paths_are_validated() -> None:
    with pytest.raises(SpecError) as info:
        SecurityOptions(masked_paths=["proc/kcore"])
    assert info.value.field == "masked_paths"
    with pytest.raises(SpecError):
        SecurityOptions(readonly_paths="/proc/sys")
