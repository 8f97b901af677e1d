"""``ps``, ``update`` and ``events``: a container's processes, limits and statistics, all
from its cgroup.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from pycontainers.errors import OciRuntimeError

if TYPE_CHECKING:
    import argparse

    from pycontainers.cgroups import CgroupStats
    from pycontainers.runtime.container import Container


def _open(args: argparse.Namespace) -> Container:
    from pycontainers.ociruntime.store import load

    return load(args.root, args.id)


def ps(args: argparse.Namespace) -> None:
    """The container's processes: a table (UID PID PPID CMD) or a JSON list of pids."""
    c = _open(args)
    try:
        group = c.record.cgroup
        pids = sorted(group.procs()) if group is not None and c.status != "stopped" else []
    finally:
        c.close()
    if args.format == "json":
        print(json.dumps(pids))
        return
    if args.ps_args:
        raise OciRuntimeError("ps: extra ps(1) arguments are not supported; use --format json")
    rows = [("UID", "PID", "PPID", "CMD")]
    for pid in pids:
        row = _proc_row(pid)
        if row is not None:
            rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(v.rjust(w) for v, w in zip(row[:3], widths, strict=True)), row[3])


def _proc_row(pid: int) -> tuple[str, str, str, str] | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:  # exited meanwhile
        return None
    uid = fields["Uid"].split()[0]
    return uid, str(pid), fields["PPid"].strip(), cmd or f"[{fields['Name'].strip()}]"


_FLAGS = {
    "memory": "memory_max",
    "memory_reservation": "memory_low",
    "memory_swap": "memory_swap",
    "kernel_memory_tcp": "memory_kernel_tcp",
    "cpu_shares": "cpu_shares",
    "cpu_quota": "cpu_quota",
    "cpu_period": "cpu_period",
    "cpu_rt_runtime": "cpu_rt_runtime",
    "cpu_rt_period": "cpu_rt_period",
    "cpu_burst": "cpu_burst",
    "cpu_idle": "cpu_idle",
    "cpuset_cpus": "cpuset_cpus",
    "cpuset_mems": "cpuset_mems",
    "pids_limit": "pids_max",
    "blkio_weight": "blkio_weight",
}
_REFUSED = ("l3_cache_schema", "mem_bw_schema")  # Intel RDT: refused at create too


def update(args: argparse.Namespace) -> None:
    """Change the limits: ``--resources`` (a ``linux.resources`` JSON file, ``-`` for stdin)
    and/or the flags (which win); only what is given changes, on top of the stored limits,
    which then hold the result (what ``state``, a restart and a later ``update`` read).
    """
    from pycontainers.errors import CgroupError, SpecError
    from pycontainers.oci.resources import JSON_PATHS, oci_resource_fields

    for name in _REFUSED:
        if getattr(args, name) is not None:
            raise OciRuntimeError(f"--{name.replace('_', '-')} is not supported (Intel RDT)")
    if args.kernel_memory is not None:  # as runc: deprecated, and current kernels ignore it
        from pycontainers._log import get_logger

        get_logger("pycontainers.oci").warning(
            "oci.resources_ignored", path="--kernel-memory",
            reason="kernel memory limits are deprecated and ignored, as runc does",
        )  # fmt: skip
    change: dict[str, Any] = {}
    named: dict[str, str] = {}  # field -> how it was given, for errors
    if args.resources is not None:
        text = sys.stdin.read() if args.resources == "-" else _read(args.resources)
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise OciRuntimeError(f"--resources: not valid JSON: {exc}") from None
        change = oci_resource_fields(doc, "resources")
        named = {f: "resources." + JSON_PATHS.get(f, f) for f in change}
    for flag, field in _FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            change[field] = int(value) if value.lstrip("-").isdigit() else value
            named[field] = "--" + flag.replace("_", "-")
    c = _open(args)
    try:
        c.update(**change)
    except (SpecError, CgroupError) as exc:
        field, _, why = str(exc).partition(": ")
        if field in named and why:
            raise OciRuntimeError(f"update: {named[field]}: {why}") from None
        raise OciRuntimeError(f"update: {exc}") from None
    finally:
        c.close()


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as exc:
        raise OciRuntimeError(
            f"--resources: cannot read {path}: {exc.strerror}", path=path
        ) from None


def stats_doc(container_id: str, stats: CgroupStats) -> dict[str, Any]:
    """Runc's ``events --stats`` object: ``{"type": "stats", "id", "data": {...}}``."""
    data: dict[str, Any] = {}
    if stats.cpu is not None:
        data["cpu"] = {"usage": {"total": stats.cpu.usage, "user": stats.cpu.user or 0,
                                 "kernel": stats.cpu.system or 0},
                       "throttling": {"periods": stats.cpu.nr_periods or 0,
                                      "throttledPeriods": stats.cpu.nr_throttled or 0,
                                      "throttledTime": stats.cpu.throttled or 0}}  # fmt: skip
    if stats.memory is not None:
        m = stats.memory
        data["memory"] = {"usage": {"usage": m.usage, "max": m.peak or 0, "limit": m.limit or 0,
                                    "failcnt": m.failcnt or 0}}  # fmt: skip
    if stats.pids is not None:
        data["pids"] = {"current": stats.pids.current, "limit": stats.pids.max or 0}
    if stats.io is not None:
        data["blkio"] = {"ioServiceBytesRecursive": [
            {"major": int(dev.split(":")[0]), "minor": int(dev.split(":")[1]), "op": op,
             "value": value}
            for dev, s in stats.io.devices.items()
            for op, value in (("Read", s.read_bytes), ("Write", s.write_bytes))
        ]}  # fmt: skip
    return {"type": "stats", "id": container_id, "data": data}


def _interval(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for suffix in ("ms", "s", "m"):
        if text.endswith(suffix):
            try:
                value = float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                break
            if value > 0:
                return value
    raise OciRuntimeError(f"--interval: expected a duration such as 5s or 500ms, got {text!r}")


def events(args: argparse.Namespace) -> None:
    """``--stats``: one stats object. Else, until the container stops: a stats object every
    ``--interval`` and an ``oom`` event whenever the OOM killer strikes in it.
    """
    interval = _interval(args.interval)
    c = _open(args)
    try:
        group = c.record.cgroup
        if group is None:
            raise OciRuntimeError(f"container {args.id} has no cgroup")
        if args.stats:
            print(json.dumps(stats_doc(c.id, group.stats())), flush=True)
            return
        kills = group.oom_kill_count()
        next_stats = time.monotonic()
        while c.status in ("created", "running", "paused"):
            now_kills = group.oom_kill_count()
            if now_kills > kills:
                print(json.dumps({"type": "oom", "id": c.id}), flush=True)
                kills = now_kills
            if time.monotonic() >= next_stats:
                print(json.dumps(stats_doc(c.id, group.stats())), flush=True)
                next_stats += interval
            time.sleep(min(interval, 0.25))
    except BrokenPipeError:
        os._exit(0)  # the reader went away
    finally:
        c.close()


__all__ = ["events", "ps", "stats_doc", "update"]
