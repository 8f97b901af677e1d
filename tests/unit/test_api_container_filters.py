"""The daemon's container list filters: several ``label`` filters must all match (as
Docker; docker-compose v1 numbers a service's containers by such a query)."""

from __future__ import annotations

from typing import Any

from pycontainers.api.inspect import matches


def _row(labels: dict[str, str], state: str = "running") -> dict[str, Any]:
    return {"Labels": labels, "State": state, "_info": {}}


def test_label_filters_are_all_required() -> None:
    web = _row({"project": "p", "service": "web"})
    client = _row({"project": "p", "service": "client"})
    want = {"label": ["project=p", "service=client"]}
    assert not matches(web, want)
    assert matches(client, want)
    assert matches(client, {"label": ["project", "service"]})  # a key without a value
    assert not matches(client, {"label": ["project=q"]})


def test_other_filter_values_are_alternatives() -> None:
    row = _row({"a": "1"}, state="exited")
    assert matches(row, {"status": ["running", "exited"], "label": ["a=1"]})
    assert not matches(row, {"status": ["running", "paused"]})
