"""``Bandwidth``: a container's bandwidth limits as data, and tc-style rate and size parsing.

Plain values with their validators (no netlink): the specs use them, :mod:`.tc` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from pycontainers.errors import SpecError

MIN_RATE = 8_000
"""The lowest accepted limit, in bits per second (8 kbit/s, 1 kB/s)."""

MAX_RATE = (2**32 - 1) * 8
"""The highest accepted limit, in bits per second (~34.3 gbit/s: tbf's 32-bit byte rate)."""

MIN_BURST = 16 * 1024
"""The smallest automatic burst in bytes: about 11 full-size frames, so TCP keeps flowing."""

_MAX_BUFFER_SECONDS = 250.0  # tbf stores burst/rate in 64 ns ticks in a u32 (~274 s)

_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*$")

# Bits per second per unit, following tc(8) (case-insensitive, like tc): "bit" or a bare
# number are bits/s; kbit/mbit/gbit/tbit are decimal multiples, kibit... binary ones;
# "bps" is BYTES per second (kbps, mbps, ... kibps, ...), as in tc. The single letters
# k/m/g/t (and ki/mi/gi/ti) are bits/s too, like Kubernetes' bandwidth annotations ("1M").
_RATE_UNITS: dict[str, int] = {"": 1, "bit": 1, "bps": 8}
for _i, (_d, _b) in enumerate((("k", "ki"), ("m", "mi"), ("g", "gi"), ("t", "ti")), start=1):
    _RATE_UNITS[_d] = _RATE_UNITS[_d + "bit"] = 1000**_i
    _RATE_UNITS[_b] = _RATE_UNITS[_b + "bit"] = 1024**_i
    _RATE_UNITS[_d + "bps"] = 8 * 1000**_i
    _RATE_UNITS[_b + "bps"] = 8 * 1024**_i

# Bytes per unit, following tc(8)'s sizes: b, k/kb, m/mb, g/gb (binary), kbit/mbit/gbit.
_SIZE_UNITS: dict[str, float] = {"": 1, "b": 1}
for _i, _u in enumerate("kmg", start=1):
    _SIZE_UNITS[_u] = _SIZE_UNITS[_u + "b"] = 1024**_i
    _SIZE_UNITS[_u + "bit"] = 1024**_i / 8


def _number(value: str | int, field: str, what: str) -> tuple[float, str]:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SpecError(field, f"expected a {what} (int or string), got {value!r}")
    if isinstance(value, int):
        return float(value), ""
    m = _NUMBER.match(value)
    if m is None:
        raise SpecError(field, f"{value!r} is not a {what}")
    return float(m.group(1)), m.group(2).lower()


def parse_rate(value: str | int, field: str = "rate") -> int:
    """Return the rate ``value`` in bits per second (an int is bits/s already).

    Units follow tc(8), case-insensitively: ``bit`` (or none), ``kbit``, ``mbit``, ``gbit``,
    ``tbit`` (decimal) and ``kibit``... (binary) are bits/s; ``bps``, ``kbps``, ``mbps``...
    are **bytes**/s, as in tc. ``k``, ``m``, ``g``, ``t`` alone mean kbit, mbit... (bits/s,
    like Kubernetes' ``1M``). Docker-style ``kb``/``mb``/``gb`` are refused as ambiguous.
    Raises SpecError naming ``field`` for anything else, zero or a negative value.
    """
    number, unit = _number(value, field, "rate")
    scale = _RATE_UNITS.get(unit)
    if scale is None:
        hint = (
            f"; use {unit[0]}bit (bits/s) or {unit[0]}bps (bytes/s)" if unit[:1] in "kmgt" else ""
        )
        raise SpecError(field, f"{value!r}: unknown rate unit {unit!r}{hint}")
    bits = round(number * scale)
    if bits <= 0:
        raise SpecError(field, f"{value!r}: a rate must be positive (use None for no limit)")
    return bits


def parse_size(value: str | int, field: str = "burst") -> int:
    """Return the size ``value`` in bytes; units as tc(8): b, k/kb, m/mb, g/gb (x1024), kbit..."""
    number, unit = _number(value, field, "size")
    scale = _SIZE_UNITS.get(unit)
    if scale is None:
        raise SpecError(field, f"{value!r}: unknown size unit {unit!r} (b, kb, mb, gb)")
    size = round(number * scale)
    if size <= 0:
        raise SpecError(field, f"{value!r}: a size must be positive")
    return size


def _format_rate(bits: int) -> str:
    for unit, scale in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bits >= scale:
            return f"{bits / scale:g}{unit}"
    return f"{bits}bit"


def _limit(value: str | int | None, field: str) -> int | None:
    if value is None:
        return None
    bits = parse_rate(value, field)
    if not MIN_RATE <= bits <= MAX_RATE:
        raise SpecError(
            field,
            f"{value!r} is out of range ({_format_rate(MIN_RATE)} to {_format_rate(MAX_RATE)})",
        )
    return bits


def _egress(value: str | int | None) -> int | None:
    return _limit(value, "egress")


def _ingress(value: str | int | None) -> int | None:
    return _limit(value, "ingress")


def _burst(value: str | int | None) -> int | None:
    if value is None:
        return None
    size = parse_size(value, "burst")
    if size < 2048:
        raise SpecError("burst", f"{value!r} is below 2kb: one full-size frame could never pass")
    return size


@attrs.frozen
class Bandwidth:
    """Bandwidth limits of one container, in bits per second (``None``: unlimited).

    ``egress`` limits what the container sends, ``ingress`` what it receives. Both take
    ints (bits/s) or tc-style strings (``"1mbit"``, ``"500kbit"``, ``"2mbps"`` = 2 MB/s;
    see :func:`parse_rate`), from 8 kbit/s to ~34 gbit/s. ``burst`` (bytes, or ``"32kb"``)
    is how much may pass at line rate after idle time; by default
    ``max(16 KiB, 5 ms of the rate)``, capped at 4 MiB, and never below the link MTU.
    """

    egress: int | None = attrs.field(default=None, converter=_egress)
    ingress: int | None = attrs.field(default=None, converter=_ingress)
    burst: int | None = attrs.field(default=None, converter=_burst)

    def __attrs_post_init__(self) -> None:
        for rate in (self.egress, self.ingress):
            if (
                self.burst is not None
                and rate is not None
                and self.burst * 8 / rate > _MAX_BUFFER_SECONDS
            ):
                raise SpecError(
                    "burst",
                    f"{self.burst} bytes take over {_MAX_BUFFER_SECONDS:g}s at "
                    f"{_format_rate(rate)}; use a smaller burst",
                )

    @classmethod
    def parse(cls, value: Bandwidth | str | int | Mapping[str, str | int | None]) -> Bandwidth:
        """Make a Bandwidth from a mapping, a rate for both directions, or a spec string.

        Accepted: a Bandwidth (returned as is); ``{"egress": "1mbit", "ingress": ...}``;
        ``"1mbit"`` or ``1_000_000`` (the same limit both ways); ``"egress=1mbit,ingress=10mbit"``
        (keys ``egress``, ``ingress``, ``burst``; the CLI form).
        """
        if isinstance(value, Bandwidth):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"egress", "ingress", "burst"}
            if unknown:
                raise SpecError("bandwidth", f"unknown keys {sorted(unknown)}")
            return cls(**value)
        if isinstance(value, str) and "=" in value:
            fields: dict[str, str] = {}
            for part in value.split(","):
                key, sep, item = part.partition("=")
                key = key.strip().lower()
                if not sep or key not in ("egress", "ingress", "burst") or key in fields:
                    raise SpecError(
                        "bandwidth",
                        f"{value!r}: expected egress=RATE,ingress=RATE[,burst=SIZE]",
                    )
                fields[key] = item.strip()
            return cls(**fields)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return cls(egress=value, ingress=value)
        raise SpecError("bandwidth", f"expected a rate, a mapping or a Bandwidth, got {value!r}")

    def __str__(self) -> str:
        parts = [
            f"{key}={_format_rate(rate)}"
            for key, rate in (("egress", self.egress), ("ingress", self.ingress))
            if rate is not None
        ]
        return ",".join(parts) or "unlimited"


__all__ = ["MAX_RATE", "MIN_BURST", "MIN_RATE", "Bandwidth", "parse_rate", "parse_size"]
