"""Run every benchmark in benchmarks/ and write the site's benchmark page.

    flock /tmp/pc-tests.lock python3 benchmarks/report.py            # the full runs (long)
    flock /tmp/pc-tests.lock python3 benchmarks/report.py --quick    # smallest counts
    python3 benchmarks/report.py --only start_latency,pull --quick

Each benchmark script runs as its own process with ``--json FILE``; its printed table is
kept verbatim and its JSON becomes a Markdown table (figures, peers, ratios) and a PNG plot
of every sample (distributions, not just medians). The page (``docs/benchmarks.md``) also
records the machine and the date. A benchmark that fails is reported as failed, with its
output, and the others still run. Needs root (as the benchmarks do) and matplotlib (the
``docs`` extra), imported only to draw.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAGE = ROOT / "docs" / "benchmarks.md"
IMAGES = ROOT / "docs" / "img" / "benchmarks"
Table = tuple[list[str], list[list[str]]]
Samples = dict[str, list[float]]


def _f(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ratio(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


# -- one function per benchmark: its JSON -> (table, samples to plot, unit) -------------------


def start_latency(data: dict[str, Any]) -> tuple[Table, Samples, str]:
    rows, samples = [], {}
    for name, e in data["contenders"].items():
        if not isinstance(e, dict) or "available" not in e:
            continue
        if not e["available"]:
            rows.append([name, "unavailable", "", "", "", e.get("reason", "")[:120]])
            continue
        rows.append([name, _f(e["median_ms"], 3), _f(e["p10_ms"], 3), _f(e["p90_ms"], 3),
                     str(e["n"]), _ratio(e.get("vs_runc"))])  # fmt: skip
        samples[name] = [ns / 1e6 for ns in e["samples_ns"]]
    for peer, value in (data.get("pycontainers_ratios") or {}).items():
        if peer != "vs_runc":
            rows.append([f"pycontainers {peer.replace('_', ' ')}", "", "", "", "", _ratio(value)])
    head = ["contender", "median ms", "p10 ms", "p90 ms", "n", "vs runc"]
    return (head, rows), samples, "ms"


def unpack(data: dict[str, Any]) -> tuple[Table, Samples, str]:
    rows, samples = [], {}
    for name, e in data["contenders"].items():
        if not isinstance(e, dict) or "available" not in e:
            continue
        if not e["available"]:
            rows.append([name, "unavailable", "", "", "", e.get("reason", "")[:120]])
            continue
        rows.append([name, _f(e["median_s"]), f"{_f(e['min_s'])}-{_f(e['max_s'])}",
                     _f(e["mb_per_s"], 1), _f(e["median_s"] + e["sync_after_median_s"]),
                     _ratio(e.get("vs_umoci"))])  # fmt: skip
        samples[name] = [ns / 1e9 for ns in e["samples_ns"]]
    head = ["contender", "median s", "min-max s", "MB/s", "+sync s", "vs umoci"]
    return (head, rows), samples, "s"


def rows_table(data: dict[str, Any]) -> tuple[Table, Samples, str]:
    """The ``rows`` (and ``targets``) JSON that cli_latency, build, oci_runtime and
    engine_api write: one line per row, then one per target with its verdict.
    """
    rows, samples = [], {}
    for name, e in data.get("rows", {}).items():
        if not e.get("available", True):
            rows.append([name, "unavailable", "", "", "", e.get("reason", "")[:120]])
            continue
        ratio = f"{_ratio(e['ratio'])} {e['vs']}" if e.get("ratio") is not None else ""
        rows.append([name, _f(e["median_ms"], 1), _f(e["p10_ms"], 1), _f(e["p90_ms"], 1),
                     str(e["n"]), ratio])  # fmt: skip
        samples[name] = [s * 1000 for s in e["samples_s"]]
    for label, t in (data.get("targets") or {}).items():
        rows.append(
            [f"target: {label}", "", "", "", "", f"{_ratio(t.get('ratio'))} {t['verdict']}"]
        )
    head = ["row", "median ms", "p10 ms", "p90 ms", "n", "ratio"]
    return (head, rows), samples, "ms"


def monitor_rss(data: dict[str, Any]) -> tuple[Table, Samples, str]:
    rows, samples = [], {}
    for e in data.get("rows", []):
        if not e.get("measured"):
            rows.append([e["name"], "not measured", "", "", e.get("note", "")[:120]])
            continue
        rows.append([e["name"], str(e["count"]), f"{e['rss_median_kb']:.0f}",
                     f"{e['rss_sum_kb'] / 1024:.1f}", f"{e['pss_sum_kb'] / 1024:.1f}"])  # fmt: skip
        if e.get("rss_kb"):
            samples[e["name"]] = [float(v) for v in e["rss_kb"]]
    rows.append(["conmon / pycontainers-monitor", "", _ratio(data.get("ratio")), "", ""])
    head = ["monitor", "count", "VmRSS median kB", "VmRSS sum MB", "Pss sum MB"]
    return (head, rows), samples, "kB"


def pull(data: dict[str, Any]) -> tuple[Table, Samples, str]:
    med, size = data["median_s"], data["size_bytes"]
    rows = [
        [who, _f(t, 3), f"{size / t / 1e6:.0f}", str(len(data["samples_s"][who])),
         _ratio(t / med["skopeo"]) if med.get("skopeo") else "n/a"]
        for who, t in med.items()
    ]  # fmt: skip
    head = ["puller", "median s", "MB/s", "n", "vs skopeo"]
    return (head, rows), dict(data["samples_s"]), "s"


def health_cpu(data: dict[str, Any]) -> tuple[Table, Samples, str]:
    head = ["checks", "interval ms", "monitor + children CPU s", "ms per check"]
    rows = [[str(data["checks"]), str(data["interval_ms"]), _f(data["cpu_s"], 3),
             _f(data["per_check_ms"])]]  # fmt: skip
    return (head, rows), {}, ""


def device_group(data: dict[str, Any]) -> tuple[Table, Samples, str]:
    import statistics

    samples = {name: list(values) for name, values in data["samples_ms"].items()}
    base = statistics.median(samples["no group"]) if samples.get("no group") else None
    rows = []
    for name, values in samples.items():
        deciles = statistics.quantiles(values, n=10) if len(values) > 1 else values * 2
        median = statistics.median(values)
        rows.append([name, _f(median, 3), _f(deciles[0], 3), _f(deciles[-1], 3),
                     str(len(values)), _ratio(median / base if base else None)])  # fmt: skip
    head = ["mode", "median ms", "p10 ms", "p90 ms", "n", "vs no group"]
    return (head, rows), samples, "ms"


def cgroup_join(data: list[dict[str, Any]]) -> tuple[Table, Samples, str]:
    """cgroup_join's rows (medians only): each against the first (a cold write of cgroup2)."""
    base = data[0]["median_ms"] if data else None
    rows = [[e["row"], _f(e["median_ms"]), _f(e["p10_ms"]), _f(e["p90_ms"]),
             _ratio(e["median_ms"] / base if base else None)] for e in data]  # fmt: skip
    head = ["row", "median ms", "p10 ms", "p90 ms", f"vs {data[0]['row']}" if data else "ratio"]
    return (head, rows), {}, "ms"


def network_phases(data: dict[str, Any]) -> tuple[Table, Samples, str]:
    """network_phases' samples (a dict of phase -> seconds per sample, per tree): the median
    of each phase, and every sample's total to plot.
    """
    import statistics

    trees = list(data)
    phases: list[str] = []
    for samples in data.values():
        for sample in samples:
            phases += [k for k in sample if k not in phases]
    rows = []
    for phase in phases:
        cells = []
        for tree in trees:
            got = [s[phase] * 1e3 for s in data[tree] if phase in s]
            cells.append(_f(statistics.median(got)) if got else "")
        rows.append([phase, *cells])
    total = "imports + prepare + connect + disconnect"  # network_phases.TOTAL
    totals = {t: [s[total] * 1e3 for s in data[t] if total in s] for t in trees}
    return (["phase (median ms)", *trees], rows), totals, "ms"


Parser = Callable[[Any], tuple[Table, Samples, str]]

# name: (title, what it compares, full-run arguments, quick arguments, parser)
BENCHMARKS: dict[str, tuple[str, str, list[str], list[str], Parser]] = {
    "start_latency": (
        "Start latency",
        "`/bin/true` in new pid/mnt/uts/ipc/net namespaces: pycontainers in-process vs runc, "
        "bwrap, unshare and a C floor",
        [], ["--runs", "5", "--warmup", "1"], start_latency,
    ),
    "device_group": (
        "Device group of a run",
        "`pc.run('/bin/true')` with its device group from the per-process pool, a fresh group "
        "per run, and no group",
        [], ["--runs", "5", "--warmup", "1"], device_group,
    ),
    "cgroup_join": (
        "Joining a cgroup",
        "a spawn of `/bin/true` into a group: cgroup.procs written or cloned into "
        "(`CLONE_INTO_CGROUP`), cold or with the rwsem primed",
        [], ["--runs", "5"], cgroup_join,
    ),
    "network_phases": (
        "Network phases",
        "where a bridge-network run's time goes (a fresh interpreter per sample)",
        [], ["--runs", "3", "--warmup", "1"], network_phases,
    ),
    "unpack": (
        "Layer unpack",
        "one large tar+gzip layer: pycontainers' snapshot and flatten vs `umoci unpack`",
        [], ["--runs", "1", "--size-mb", "20"], unpack,
    ),
    "pull": (
        "Registry pull",
        "a multi-layer image from a local `docker-registry`: pycontainers vs `skopeo copy`",
        [], ["--runs", "2", "--size-mb", "10", "--layers", "2"], pull,
    ),
    "monitor_rss": (
        "Monitor memory",
        "memory of `pycontainers-monitor` vs podman's conmon, per container",
        [], ["--count", "5"], monitor_rss,
    ),
    "health_cpu": (
        "Health-check CPU",
        "CPU the monitor and its children spend per health check",
        [], ["--checks", "5", "--warmup", "1"], health_cpu,
    ),
    "cli_latency": (
        "CLI latency",
        "the `pycontainers` command vs podman with runc: run, run -d, rm, ps",
        [], ["--runs", "2", "--warmup", "0", "--many", "3"], rows_table,
    ),
    "build": (
        "Dockerfile builds",
        "`pycontainers build` vs `buildah bud`: cold, warm, one COPY changed",
        [], ["--runs", "1"], rows_table,
    ),
    "oci_runtime": (
        "OCI runtime",
        "`pycontainers-runtime` vs runc (and crun): create+start+wait+delete, and under "
        "`podman run --rm`",
        [], ["--runs", "2", "--warmup", "1"], rows_table,
    ),
    "engine_api": (
        "Engine API",
        "the docker CLI against `pycontainers serve` vs `podman system service`: run --rm, "
        "ps, and ps above the docker CLI's own floor (a canned responder)",
        [], ["--runs", "2", "--warmup", "1"], rows_table,
    ),
}  # fmt: skip


# -- running -----------------------------------------------------------------------------------


def _version(argv: Sequence[str]) -> str:
    exe = shutil.which(argv[0])
    if exe is None:
        return "not installed"
    try:
        out = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return ((out.stdout or out.stderr).strip().splitlines() or ["unknown"])[0]


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except OSError:
        mem_kb = 0
    cgroup = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else (
        "hybrid" if os.path.isdir("/sys/fs/cgroup/unified") else "v1"
    )  # fmt: skip
    return {
        "kernel": platform.release(),
        "cpu": f"{cpu} x {os.cpu_count()}",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "cgroups": cgroup,
        "python": platform.python_version(),
        "runc": _version(["runc", "--version"]),
        "bwrap": _version(["bwrap", "--version"]),
        "umoci": _version(["umoci", "--version"]),
        "skopeo": _version(["skopeo", "--version"]),
        "podman": _version(["podman", "--version"]),
        "conmon": _version(["conmon", "--version"]),
        "buildah": _version(["buildah", "--version"]),
        "docker CLI": _version(["docker", "--version"]),
    }


def run_one(name: str, quick: bool, work: Path) -> dict[str, Any]:
    """Run one benchmark script; its JSON, printed output, time and status."""
    _, _, full, small, _ = BENCHMARKS[name]
    out = work / f"{name}.json"
    argv = [
        sys.executable,
        str(HERE / f"{name}.py"),
        *(small if quick else full),
        "--json",
        str(out),
    ]
    print(f"[report] {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    result: dict[str, Any] = {
        "name": name,
        "argv": ["python3", f"benchmarks/{name}.py", *argv[2:-2]],
        "seconds": time.monotonic() - t0,
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "returncode": proc.returncode,
        "data": None,
    }
    if proc.returncode == 0 and out.exists():
        result["data"] = json.loads(out.read_text())
    return result


# -- the page ----------------------------------------------------------------------------------


def plot(name: str, title: str, samples: Samples, unit: str, images: Path) -> Path | None:
    """A PNG of every sample per contender: a box plot with the samples drawn over it."""
    samples = {k: v for k, v in samples.items() if v}
    if not samples:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(samples)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(names) + 1.6))
    ax.boxplot(
        [samples[n] for n in names], orientation="horizontal", tick_labels=names, showfliers=False
    )
    for i, n in enumerate(names, 1):
        ys = [i + (j % 7 - 3) * 0.03 for j in range(len(samples[n]))]
        ax.scatter(samples[n], ys, s=9, alpha=0.6)
    values = [v for vs in samples.values() for v in vs]
    if min(values) > 0 and max(values) / min(values) > 30:
        ax.set_xscale("log")
    ax.set_xlabel(unit)
    ax.set_title(f"{title}: every sample")
    ax.invert_yaxis()
    fig.tight_layout()
    images.mkdir(parents=True, exist_ok=True)
    path = images / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def page(
    results: list[dict[str, Any]], host: dict[str, str], quick: bool, when: str, out_path: Path
) -> str:
    """The Markdown of docs/benchmarks.md."""
    out = [
        "# Benchmarks",
        "",
        "Generated by `python3 benchmarks/report.py`"
        + (" `--quick` (the smallest run counts: indicative only)" if quick else "")
        + f" on {when}. Every contender ran on the same machine in the same run, interleaved "
        "where the script does so; ratios compare medians. Each script's method is in "
        "`benchmarks/README.md`.",
        "",
        "## Machine",
        "",
        _table(["", ""], [[k, v] for k, v in host.items()]),
        "",
    ]
    for r in results:
        title, what, _, _, parse = BENCHMARKS[r["name"]]
        out += [f"## {title}", "", f"{what}. `{' '.join(r['argv'])}`, {r['seconds']:.0f} s.", ""]
        if r["data"] is None:
            out += [f"**Failed** (exit status {r['returncode']}):", "", "```text",
                    (r["stdout"] + r["stderr"]).strip()[-3000:], "```", ""]  # fmt: skip
            continue
        (head, rows), samples, unit = parse(r["data"])
        out += [_table(head, rows), ""]
        png = plot(
            r["name"], title, samples, unit, out_path.parent / IMAGES.relative_to(PAGE.parent)
        )
        if png is not None:
            out += [
                f"![{title}: distribution of every sample]({png.relative_to(out_path.parent)})",
                "",
            ]
        out += ['??? note "The script\'s own output"', "", "    ```text"]
        out += [f"    {line}".rstrip() for line in r["stdout"].strip().splitlines()]
        out += ["    ```", ""]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the smallest run counts")
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    p.add_argument("--out", type=Path, default=PAGE, help="the page to write")
    args = p.parse_args(argv)
    names = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = set(names) - set(BENCHMARKS)
        if unknown:
            p.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    missing = sorted({f.stem for f in HERE.glob("*.py")} - set(BENCHMARKS) - {"report"})
    if missing:
        print(f"[report] not in the report yet: {', '.join(missing)}", file=sys.stderr)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="pc-report-") as work:
        results = [run_one(name, args.quick, Path(work)) for name in names]
    args.out.write_text(page(results, machine(), args.quick, when, args.out) + "\n")
    print(f"[report] wrote {args.out}", file=sys.stderr)
    return 1 if any(r["data"] is None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
