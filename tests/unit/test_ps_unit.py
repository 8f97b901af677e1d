"""``ps`` reads the times it shows without strptime; the result equals the full parser's."""

from __future__ import annotations

import pytest

from pycontainers.cli.ps import _epoch
from pycontainers.runtime.logs import parse_time


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-06T08:23:11.123456789Z",
        "2026-12-06T08:23:11Z",
        "2026-12-06T08:23:11.5Z",
        "1999-02-28T23:59:59.000001Z",
        "2026-12-06T08:23:11.123Z",
    ],
)
def test_epoch_equals_the_full_parser(value: str) -> None:
    assert _epoch(value) == pytest.approx(parse_time(value).timestamp(), abs=1e-6)


def test_an_unusual_spelling_goes_to_the_full_parser() -> None:
    with pytest.raises(ValueError):
        _epoch("2026-12-06 08:23:11")
    with pytest.raises(ValueError):
        _epoch("2026-13-06T08:23:11Z")  # month 13: the full parser says why
