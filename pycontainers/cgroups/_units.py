"""Units and conversions: Docker's byte sizes, CPU lists, and the v1 ⇄ v2 weight formulas."""

from __future__ import annotations

import math
import os
import re

from pycontainers.errors import SpecError

UNLIMITED = -1
"""The value meaning "no limit" (written as ``max`` on cgroup v2 and ``-1`` on v1)."""

CPU_SHARES_MIN, CPU_SHARES_DEFAULT, CPU_SHARES_MAX = 2, 1024, 262144
CPU_WEIGHT_MIN, CPU_WEIGHT_DEFAULT, CPU_WEIGHT_MAX = 1, 100, 10000
BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX = 10, 1000
IO_WEIGHT_MIN, IO_WEIGHT_MAX = 1, 10000

# Docker's sizes (go-units RAMInBytes): a number, then an optional unit b, k, m, g (t, p),
# case-insensitive, optionally followed by "b" or "ib" ("64m", "64MB", "64MiB", "1.5g").
# Multiples are binary, as in Docker.
_SIZE = r"^(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:i?b)?|(b))?$"  # compiled on first use
_MULTIPLIER = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(field: str, value: object, *, allow_unlimited: bool = True) -> int:
    """Return ``value`` (an int, or a string such as ``"64m"``, ``"1g"``, ``"512k"``) in bytes.

    ``-1`` and ``"max"`` mean unlimited and return :data:`UNLIMITED` when allowed.
    Raise :class:`SpecError` naming ``field`` for anything else.
    """
    if isinstance(value, bool):
        raise SpecError(field, f"expected a size in bytes, got {value!r}")
    if isinstance(value, int):
        if value == UNLIMITED and allow_unlimited:
            return UNLIMITED
        if value < 0:
            raise SpecError(field, f"must not be negative, got {value}")
        return value
    if not isinstance(value, str):
        raise SpecError(field, f"expected a size such as '64m' or a number of bytes, got {value!r}")
    text = value.strip()
    if allow_unlimited and text.lower() in ("max", "-1"):
        return UNLIMITED
    match = re.match(_SIZE, text, re.IGNORECASE)
    if match is None:
        hint = "a number of bytes, or a number with a unit b, k, m or g (e.g. '64m')"
        raise SpecError(field, f"{value!r} is not a size: use {hint}")
    number, unit, _ = match.groups()
    multiplier = _MULTIPLIER[unit.lower() if unit else None]
    if "." not in number:
        return int(number) * multiplier
    from fractions import Fraction  # exact "1.5g"; fractions loads decimal: only when needed

    return int(Fraction(number) * multiplier)


def format_bytes(value: int | None) -> str:
    """Return ``value`` as a short binary size (``"32MiB"``); ``None`` or -1 is ``"max"``."""
    if value is None or value == UNLIMITED:
        return "max"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" or size == int(size) else f"{size:.1f}{unit}"
        size /= 1024
    raise AssertionError("unreachable")


def parse_int(field: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int within ``[low, high]``; raise :class:`SpecError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        else:
            raise SpecError(field, f"expected an integer, got {value!r}")
    assert isinstance(value, int)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise SpecError(field, f"must be {bound}, got {value}")
    return value


# -- CPU lists ("0-3,5") ---------------------------------------------------------------------


def parse_cpu_list(field: str, value: object) -> frozenset[int]:
    """Parse a kernel list such as ``"0-3,5"`` (cpuset.cpus syntax) into a set of numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise SpecError(field, f"expected a list such as '0-1,3', got {value!r}")
    out: set[int] = set()
    for part in value.replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise SpecError(field, f"{value!r} is not a list such as '0-1,3'")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise SpecError(field, f"range {part!r} in {value!r} runs backwards")
        out.update(range(first, last + 1))
    if not out:
        raise SpecError(field, f"{value!r} names no CPU or memory node")
    return frozenset(out)


def format_cpu_list(numbers: frozenset[int] | set[int]) -> str:
    """Return the kernel's compact form of a set of numbers (``{0, 1, 2, 5}`` → ``"0-2,5"``)."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    ranges = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    return ",".join(ranges)


# -- weights ---------------------------------------------------------------------------------


def cpu_shares_to_weight(shares: int) -> int:
    """Convert v1 ``cpu.shares`` (2..262144) to v2 ``cpu.weight`` (1..10000).

    The formula OCI runtimes use today: crun since PR #1767 ("cgroup: change conversion from
    CPU shares to weight") and runc 1.3.2+ through opencontainers/cgroups'
    ``ConvertCPUSharesToCgroupV2Value``: a quadratic in ``l = log2(shares)`` through the
    points (2 → 1), (1024 → 100) — both defaults — and (262144 → 10000)::

        weight = ceil(10 ** ((l*l + 125*l) / 612 - 7/34))

    It replaced the linear ``1 + (shares - 2) * 9999 / 262142``, which mapped the default
    1024 shares to weight 39 instead of 100. Same float operations as the Go code, so the
    same results.
    """
    if shares <= CPU_SHARES_MIN:
        return CPU_WEIGHT_MIN
    if shares >= CPU_SHARES_MAX:
        return CPU_WEIGHT_MAX
    l = math.log2(shares)  # noqa: E741
    exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0
    return min(CPU_WEIGHT_MAX, math.ceil(10**exponent))


def cpu_weight_to_shares(weight: int) -> int:
    """Convert v2 ``cpu.weight`` to v1 ``cpu.shares``: the inverse of :func:`cpu_shares_to_weight`.

    Solves ``l*l + 125*l - 612*(log10(weight) + 7/34) = 0`` for ``l`` and returns ``2**l``
    rounded (weight 100 → 1024 shares).
    """
    if weight <= CPU_WEIGHT_MIN:
        return CPU_SHARES_MIN
    if weight >= CPU_WEIGHT_MAX:
        return CPU_SHARES_MAX
    c = 612.0 * (math.log10(weight) + 7.0 / 34.0)
    l = (-125.0 + math.sqrt(125.0 * 125.0 + 4.0 * c)) / 2.0  # noqa: E741
    return max(CPU_SHARES_MIN, min(CPU_SHARES_MAX, round(2**l)))


def blkio_weight_to_io_weight(weight: int) -> int:
    """Convert v1 ``blkio.weight`` (10..1000) to v2 ``io.weight`` (1..10000).

    runc's and crun's linear map: ``1 + (weight - 10) * 9999 / 990`` (integer division).
    """
    weight = max(BLKIO_WEIGHT_MIN, min(BLKIO_WEIGHT_MAX, weight))
    return 1 + (weight - BLKIO_WEIGHT_MIN) * 9999 // 990


def io_weight_to_blkio_weight(weight: int) -> int:
    """Convert v2 ``io.weight`` (1..10000) to v1 ``blkio.weight`` (10..1000): the inverse map."""
    weight = max(IO_WEIGHT_MIN, min(IO_WEIGHT_MAX, weight))
    return BLKIO_WEIGHT_MIN + round((weight - 1) * 990 / 9999)


# -- huge pages ------------------------------------------------------------------------------

HUGEPAGES_DIR = "/sys/kernel/mm/hugepages"


def hugepage_name(size: int) -> str:
    """The kernel's name of a huge page size in hugetlb cgroup files (``2MB``, ``1GB``, ``64KB``)."""
    if size >= 1 << 30:
        return f"{size >> 30}GB"
    if size >= 1 << 20:
        return f"{size >> 20}MB"
    return f"{size >> 10}KB"


def hugepage_sizes(root: str = HUGEPAGES_DIR) -> dict[str, int]:
    """The huge page sizes this kernel offers, by cgroup name (``{"2MB": 2097152, ...}``)."""
    sizes: dict[str, int] = {}
    try:
        entries = os.listdir(root)
    except OSError:
        return sizes
    for entry in entries:
        match = re.fullmatch(r"hugepages-(\d+)kB", entry)
        if match:
            size = int(match.group(1)) << 10
            sizes[hugepage_name(size)] = size
    return sizes
