"""User-namespace id mappings: ``userns="auto"`` takes the subordinate id ranges that
/etc/subuid and /etc/subgid give a user (``pycontainers`` by default), as Docker's
``userns-remap`` takes those of ``dockremap``.
"""

from __future__ import annotations

import attrs

from pycontainers.errors import SpecError
from pycontainers.spec import IdMapping

DEFAULT_REMAP_USER = "pycontainers"


@attrs.frozen
class SubIdRange:
    """``count`` ids starting at ``start`` that ``user`` may map."""

    user: str
    start: int
    count: int


def read_ranges(path: str, user: str) -> list[SubIdRange]:
    """The ranges of ``user`` in a subuid/subgid file (``name:start:count`` lines)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] == user and parts[1].isdigit() and parts[2].isdigit():
            out.append(SubIdRange(user, int(parts[1]), int(parts[2])))
    return out


def auto_mappings(
    user: str = DEFAULT_REMAP_USER, subuid: str = "/etc/subuid", subgid: str = "/etc/subgid"
) -> tuple[tuple[IdMapping, ...], tuple[IdMapping, ...]]:
    """(uid mappings, gid mappings) putting container root at the start of ``user``'s first
    subordinate ranges; a clear SpecError names the fix when there are none.
    """
    maps = []
    for path, kind in ((subuid, "subuid"), (subgid, "subgid")):
        ranges = read_ranges(path, user)
        if not ranges:
            raise SpecError(
                "userns",
                f"userns='auto' needs a range for {user!r} in {path}; add one with "
                f"'usermod --add-{kind}s 100000-165535 {user}' (after 'useradd -r {user}'), "
                "or pass uid_mappings and gid_mappings",
            )
        first = ranges[0]
        maps.append((IdMapping(0, first.start, min(first.count, 65536)),))
    return maps[0], maps[1]
