"""Live statistics of a container or cgroup over time: samples, an inline SVG plot, and a
display that updates in place in Jupyter (IPython's ``display_id``) while it samples.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from pycontainers.display._html import esc
from pycontainers.errors import PyContainersError, SpecError

_MIB = 1024 * 1024


class _HasStats(Protocol):
    def stats(self) -> Any: ...


@attrs.frozen
class StatsSample:
    """One reading: ``t`` seconds since sampling began, memory in use and its limit (bytes,
    ``None`` where unknown or unlimited), cumulative CPU time (ns), the CPU use since the
    previous sample in percent of one CPU (``None`` for the first), and tasks.
    """

    t: float
    memory: int | None
    memory_limit: int | None
    cpu_ns: int | None
    cpu_percent: float | None
    pids: int | None


def sample(target: _HasStats, t: float, previous: StatsSample | None = None) -> StatsSample:
    """Read ``target.stats()`` once (a :class:`Container` or :class:`CGroup`) at time ``t``."""
    s = target.stats()
    cpu_ns = s.cpu.usage if s.cpu is not None else None
    percent = None
    if (
        previous is not None
        and previous.cpu_ns is not None
        and cpu_ns is not None
        and t > previous.t
    ):
        percent = max(0.0, (cpu_ns - previous.cpu_ns) / ((t - previous.t) * 1e9) * 100)
    return StatsSample(
        t=t,
        memory=s.memory.usage if s.memory is not None else None,
        memory_limit=s.memory.limit if s.memory is not None else None,
        cpu_ns=cpu_ns,
        cpu_percent=percent,
        pids=s.pids.current if s.pids is not None else None,
    )


def _polyline(points: Sequence[tuple[float, float]], color: str, dash: str = "") -> str:
    if not points:
        return ""
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    extra = f" stroke-dasharray='{dash}'" if dash else ""
    return f"<polyline fill='none' stroke='{color}' stroke-width='1.5'{extra} points='{coords}'/>"


def _panel(
    y0: float,
    title: str,
    values: Sequence[tuple[float, float]],
    top: float,
    unit: str,
    color: str,
    span: float,
    limit: float | None = None,
) -> str:
    """One plot: a frame at ``y0``, the series, an optional dashed limit line, labels."""
    left, width, height = 48.0, 400.0, 90.0
    top = top or 1.0

    def xy(t: float, v: float) -> tuple[float, float]:
        return left + width * t / span, y0 + height - height * min(v, top) / top

    parts = [
        f"<rect x='{left}' y='{y0}' width='{width}' height='{height}' fill='none' stroke='#999'/>",
        f"<text x='{left}' y='{y0 - 4}' font-size='11'>{esc(title)}</text>",
        f"<text x='{left - 4}' y='{y0 + 9}' font-size='10' text-anchor='end'>{top:.4g}</text>",
        f"<text x='{left - 4}' y='{y0 + height}' font-size='10' text-anchor='end'>0 {esc(unit)}</text>",
        _polyline([xy(t, v) for t, v in values], color),
    ]
    if limit is not None:
        parts.append(_polyline([xy(0, limit), xy(span, limit)], "#c00", "4 3"))
    return "".join(parts)


def stats_svg(samples: Sequence[StatsSample], *, title: str = "live stats") -> str:
    """An SVG plot of memory (MiB, with the limit dashed) and CPU (%) over time.

    The root element carries the figures as data attributes (``data-samples``,
    ``data-memory-max``, ``data-cpu-max``) so that tests and tools can read them back.
    """
    span = max((s.t for s in samples), default=0.0) or 1.0
    mem = [(s.t, s.memory / _MIB) for s in samples if s.memory is not None]
    cpu = [(s.t, s.cpu_percent) for s in samples if s.cpu_percent is not None]
    limits = [s.memory_limit for s in samples if s.memory_limit]
    limit = limits[-1] / _MIB if limits else None
    mem_max = max((v for _, v in mem), default=0.0)
    cpu_max = max((v for _, v in cpu), default=0.0)
    mem_top = max(mem_max, limit or 0.0) * 1.1
    cpu_top = max(cpu_max, 100.0 if cpu_max > 50 else 0.0) * 1.1 or 10.0
    last = samples[-1] if samples else None
    mem_now = f"{last.memory / _MIB:.1f} MiB" if last and last.memory is not None else "—"
    cpu_now = f"{last.cpu_percent:.0f}%" if last and last.cpu_percent is not None else "—"
    mem_title = f"memory: {mem_now} now, max {mem_max:.1f} MiB"
    if limit is not None:
        mem_title += f", limit {limit:.1f} MiB"
    cpu_title = f"cpu: {cpu_now} now, max {cpu_max:.0f}% of one CPU"
    peak = max((s.memory for s in samples if s.memory is not None), default=0)
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='460' height='260' "
        f"data-samples='{len(samples)}' data-memory-max='{peak}' data-cpu-max='{cpu_max:.1f}'>"
        f"<title>{esc(title)}</title>"
        f"<text x='48' y='14' font-size='12' font-weight='bold'>{esc(title)}</text>"
    )
    body = _panel(40, mem_title, mem, mem_top, "MiB", "#1f77b4", span, limit)
    body += _panel(155, cpu_title, cpu, cpu_top, "%", "#ff7f0e", span)
    foot = f"<text x='448' y='258' font-size='10' text-anchor='end'>{span:.1f} s</text>"
    return head + body + foot + "</svg>"


def _ipython_display() -> Any | None:
    """IPython's ``display`` when running under an IPython kernel or shell, else None."""
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return None
    from IPython.display import display

    return display


def _bundle(samples: Sequence[StatsSample], title: str) -> dict[str, str]:
    """A display bundle: the SVG plot as HTML, and a one-line summary as text."""
    last = samples[-1] if samples else None
    text = f"{title}: {len(samples)} samples"
    if last is not None and last.memory is not None:
        text += f", memory {last.memory / _MIB:.1f} MiB"
    if last is not None and last.cpu_percent is not None:
        text += f", cpu {last.cpu_percent:.0f}%"
    return {"text/html": stats_svg(samples, title=title), "text/plain": text}


def live_stats(
    target: _HasStats,
    seconds: float = 10.0,
    interval: float = 0.5,
    *,
    title: str | None = None,
    display: bool | None = None,
) -> list[StatsSample]:
    """Sample memory and CPU of a container (or cgroup) every ``interval`` s for ``seconds``.

    Under IPython (or with ``display=True``) an SVG plot is shown and updated in place after
    each sample; in plain Python nothing is shown. Sampling stops early when the container
    stops or its cgroup goes away. Returns the samples.
    """
    if not seconds > 0 or not interval > 0:
        raise SpecError("interval", f"seconds and interval must be > 0, got {seconds}, {interval}")
    show = _ipython_display() if display is not False else None
    if display and show is None:
        raise SpecError("display", "display=True needs IPython (pip install ipython)")
    name = title or f"live stats of {getattr(target, 'name', '') or target!r}"
    handle = show(_bundle([], name), raw=True, display_id=True) if show is not None else None
    samples: list[StatsSample] = []
    start = time.monotonic()
    while True:
        now = time.monotonic() - start
        try:
            samples.append(sample(target, now, samples[-1] if samples else None))
        except (PyContainersError, OSError, ValueError):
            break  # the cgroup is gone: the container stopped
        if handle is not None:
            handle.update(_bundle(samples, name), raw=True)
        if now >= seconds or getattr(target, "status", "running") not in ("running", "paused"):
            break
        time.sleep(min(interval, max(0.0, seconds - now)) or interval)
    return samples
