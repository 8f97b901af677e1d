"""Output helpers of the CLI: Docker's ``--format`` templates (a small subset of Go's),
tables, durations and sizes.

A template is text with ``{{.Field}}`` (dotted paths into a dict: ``{{.State.Status}}``),
``{{json .Field}}`` or ``{{json .}}``; ``table TEMPLATE`` prints a header of the field names
first, with tab-separated columns aligned; ``json`` prints each object on one line.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pycontainers.errors import SpecError

_ACTION = re.compile(r"\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}")


def _lookup(obj: Any, path: str) -> Any:
    value = obj
    for part in [p for p in path.split(".") if p]:
        if not isinstance(value, Mapping) or part not in value:
            raise SpecError("format", f"template: no field {part!r} in .{path}")
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    if isinstance(value, (dict, list)):
        if isinstance(value, dict):
            return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in value.items()) + "]"
        return "[" + " ".join(_text(v) for v in value) + "]"
    return str(value)


def check_template(template: str) -> None:
    """Raise SpecError on ``{{ ... }}`` actions this subset does not understand."""
    rest = _ACTION.sub("", template)
    if "{{" in rest or "}}" in rest:
        raise SpecError(
            "format", f"unsupported template {template!r}: use {{{{.Field}}}} or {{{{json .}}}}"
        )


def render(template: str, obj: Mapping[str, Any]) -> str:
    """Fill ``template`` from ``obj`` (backslash-t and backslash-n are expanded)."""
    check_template(template)

    def action(m: re.Match[str]) -> str:
        value = _lookup(obj, m.group(2))
        return json.dumps(value) if m.group(1) else _text(value)

    return _ACTION.sub(action, template.replace("\\t", "\t").replace("\\n", "\n"))


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows (the first is the header) as columns separated by three spaces."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def print_formatted(
    objects: Sequence[Mapping[str, Any]], fmt: str, default_columns: Sequence[str]
) -> None:
    """Print ``objects`` by ``fmt``: '' (the default table), 'table', 'table TEMPLATE',
    'json', or a template (one line per object).
    """
    if fmt == "json":
        for obj in objects:
            print(json.dumps(obj))
        return
    if fmt in ("", "table"):
        fmt = "table " + "\t".join(f"{{{{.{c}}}}}" for c in default_columns)
    if fmt.startswith("table"):
        template = fmt[5:].strip() or "\t".join(f"{{{{.{c}}}}}" for c in default_columns)
        check_template(template)
        header = _ACTION.sub(lambda m: _header(m.group(2)), template.replace("\\t", "\t"))
        rows = [header.split("\t")] + [render(template, o).split("\t") for o in objects]
        print(table(rows))
        return
    for obj in objects:
        print(render(fmt, obj))


_HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "RunningFor": "CREATED"}


def print_inspected(
    names: Sequence[str], lookup: Callable[[str], Mapping[str, Any]], template: str | None
) -> int:
    """``X inspect``: each name's document through ``template`` or as one JSON list;
    names that fail are reported on stderr and make the status 125.
    """
    import sys

    from pycontainers.errors import PyContainersError

    status = 0
    found = []
    for name in names:
        try:
            found.append(lookup(name))
        except PyContainersError as exc:
            print(f"pycontainers: {exc}", file=sys.stderr)
            status = 125
    if template:
        for info in found:
            print(render(template, info))
    else:
        json.dump(found, sys.stdout, indent=4)
        print()
    return status


def _header(path: str) -> str:
    name = path.rsplit(".", 1)[-1]
    if name in _HEADERS:
        return _HEADERS[name]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).upper()


def ago(t: float, now: float | None = None) -> str:
    """``5 seconds``, ``About a minute``, ``3 minutes``, ``2 hours``, ``4 days`` (Docker's)."""
    delta = max(0.0, (now if now is not None else time.time()) - t)
    if delta < 1:
        return "Less than a second"
    if delta < 60:
        n = int(delta)
        return f"{n} second{'s' if n != 1 else ''}"
    for unit, size, one in (("day", 86400, "a day"), ("hour", 3600, "an hour"),
                            ("minute", 60, "a minute")):  # fmt: skip
        if delta >= size:
            n = int(delta // size)
            return f"About {one}" if n == 1 else f"{n} {unit}s"
    return "Less than a second"


def human_size(n: float) -> str:
    """Bytes as Docker prints them: 1.5MiB, 512KiB, 20B."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n:.4g}GiB"


def parse_duration(value: str, field: str) -> float:
    """A Go-style duration (``10``, ``1.5s``, ``500ms``, ``2m``, ``1h``) in seconds."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?", value.strip())
    if not m:
        raise SpecError(field, f"expected a duration such as 10s or 2m, got {value!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def parse_time_arg(value: str, field: str) -> float | str:
    """``--since``/``--until``: a relative duration (``10m`` ago), a Unix time, or RFC 3339."""
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?(ms|s|m|h)", value.strip()):
        return time.time() - parse_duration(value, field)
    try:
        return float(value)
    except ValueError:
        pass
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", value):
        raise SpecError(field, f"expected 10m, a Unix time or 2024-01-02T15:04:05Z, got {value!r}")
    return value if value.endswith("Z") else value + "Z"


__all__ = [
    "ago",
    "check_template",
    "human_size",
    "parse_duration",
    "parse_time_arg",
    "print_formatted",
    "render",
    "table",
]
