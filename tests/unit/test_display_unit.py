"""The notebook views without the kernel: escaping, table shapes, the SVG plot, sampling."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from pycontainers.cgroups import CgroupStats, CpuStats, MemoryStats, PidsStats
from pycontainers.display import StatsSample, live_stats, render_text, stats_svg
from pycontainers.display._html import fields, table
from pycontainers.errors import SpecError
from pycontainers.namespaces import Namespace, NamespaceKind, NamespaceSet


def fake(kind: str, inode: int, pid: int | None = None) -> Namespace:
    return Namespace(NamespaceKind(kind), 4, inode, path=None, pid=pid)


def test_tables_escape_every_cell_and_caption() -> None:
    out = table(["<h>"], [["<script>&'\""]], caption="<c>")
    assert out == (
        "<table><caption>&lt;c&gt;</caption><tr><th>&lt;h&gt;</th></tr>"
        "<tr><td>&lt;script&gt;&amp;&#x27;&quot;</td></tr></table>"
    )
    kv = fields([("a<", "<b>"), ("raw", "<i>ok</i>")], caption="x", raw=frozenset({"raw"}))
    assert "&lt;b&gt;" in kv and "<i>ok</i>" in kv and "a&lt;" in kv
    ElementTree.fromstring(kv)  # well-formed


def test_namespace_views_of_handles_without_a_file() -> None:
    ns = fake("net", 4026532000, pid=42)
    html = ns._repr_html_()
    ElementTree.fromstring(html)
    assert "<td>inode</td><td>4026532000</td>" in html and "<td>pid</td><td>42</td>" in html
    assert "<td>owner user ns</td><td>—</td>" in html  # nothing to open: not guessed
    s = NamespaceSet([ns, fake("uts", 7)], pid=42)
    assert "<td>uts</td><td>7</td><td>—</td>" in s._repr_html_()
    text = render_text(s.compare(NamespaceSet([fake("net", 1), fake("uts", 7)], pid=1)))
    assert "net  4026532000 1 -" in text and "uts  7 7 shared" in text


def _sample(t: float, mem: int, cpu: float | None) -> StatsSample:
    return StatsSample(t=t, memory=mem, memory_limit=64 << 20, cpu_ns=0, cpu_percent=cpu, pids=1)


def test_svg_plot_is_well_formed_and_carries_its_figures() -> None:
    samples = [_sample(0.0, 1 << 20, None), _sample(0.5, 30 << 20, 40.0), _sample(1.0, 20 << 20, 5)]
    svg = stats_svg(samples, title="<demo> & co")
    root = ElementTree.fromstring(svg)
    assert root.get("data-samples") == "3"
    assert root.get("data-memory-max") == str(30 << 20)
    assert root.get("data-cpu-max") == "40.0"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "<demo> & co" in texts  # escaped in the source, intact once parsed
    assert "memory: 20.0 MiB now, max 30.0 MiB, limit 64.0 MiB" in texts
    assert "cpu: 5% now, max 40% of one CPU" in texts
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 3  # memory, its limit, cpu
    assert len(lines[0].get("points", "").split()) == 3
    ElementTree.fromstring(stats_svg([]))  # an empty plot (before the first sample) too


class _Counter:
    """A stats source: 1 MiB and 10 ms of CPU more per reading, then it stops."""

    def __init__(self, readings: int) -> None:
        self.n = 0
        self.readings = readings
        self.status = "running"

    def stats(self) -> CgroupStats:
        self.n += 1
        if self.n >= self.readings:
            self.status = "stopped"
        return CgroupStats(
            memory=MemoryStats(self.n << 20, None, 32 << 20, 0, 0, 0),
            cpu=CpuStats(self.n * 10_000_000, None, None, None, None, None),
            pids=PidsStats(1, 16),
        )


def test_live_stats_without_ipython_returns_samples_until_the_target_stops() -> None:
    source = _Counter(readings=4)
    samples = live_stats(source, seconds=30, interval=0.01)
    assert [s.memory for s in samples] == [1 << 20, 2 << 20, 3 << 20, 4 << 20]
    assert samples[0].cpu_percent is None
    assert all(s.cpu_percent is not None and s.cpu_percent > 0 for s in samples[1:])
    assert all(s.memory_limit == 32 << 20 and s.pids == 1 for s in samples)
    assert [s.t for s in samples] == sorted(s.t for s in samples)


def test_live_stats_rejects_bad_arguments() -> None:
    with pytest.raises(SpecError):
        live_stats(_Counter(1), seconds=0)
    with pytest.raises(SpecError):
        live_stats(_Counter(1), interval=-1)


def test_render_text_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError, match="no view for int"):
        render_text(3)
    assert re.match(r"Namespace net:\[5\]\n  kind", render_text(fake("net", 5)))
