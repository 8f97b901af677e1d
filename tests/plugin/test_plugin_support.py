"""The host-support decision behind the skip markers (no root needed)."""

from __future__ import annotations

import pytest

from pycontainers.testing.support import decide


def never() -> str | None:
    raise AssertionError("the probe must not run")


def test_root_with_namespaces_can_run() -> None:
    assert (
        decide(platform="linux", euid=0, missing_namespaces=[], userns_problem=None, probe=never)
        is None
    )


def test_reasons() -> None:
    assert "this is darwin" in str(
        decide(platform="darwin", euid=0, missing_namespaces=[], userns_problem=None, probe=never)
    )
    assert decide(
        platform="linux", euid=0, missing_namespaces=["pid"], userns_problem=None, probe=never
    ) == ("the kernel lacks namespaces: pid")
    reason = decide(
        platform="linux",
        euid=1000,
        missing_namespaces=[],
        userns_problem="user.max_user_namespaces = 0",
        probe=never,
    )
    assert (
        reason == "not root (uid 1000) and no usable user namespaces: user.max_user_namespaces = 0"
    )


@pytest.mark.parametrize(
    ("probe_result", "expected"), [(None, None), ("EPERM", "failed to start: EPERM")]
)
def test_rootless_probe(probe_result: str | None, expected: str | None) -> None:
    reason = decide(
        platform="linux",
        euid=1000,
        missing_namespaces=[],
        userns_problem=None,
        probe=lambda: probe_result,
    )
    assert reason == expected or (
        expected is not None and reason is not None and reason.endswith(expected)
    )
