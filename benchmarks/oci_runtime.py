#!/usr/bin/env python3
"""OCI runtime latency: pycontainers-runtime vs runc (vs crun where installed).

Two tables, every sample a whole sequence of processes timed with ``time.perf_counter``:

- **direct**: ``create`` + ``start`` + wait for ``/bin/true`` to exit + ``delete`` of the
  same bundle (and, timed apart, a ``state`` after ``create``: a second table gives each
  command's median per runtime, the per-process cost a shim pays) (a busybox rootfs, ``runc spec``'s config without a terminal), each command a
  separate process, as a shim drives them. This process is a subreaper, so the container's
  init is re-parented to it once ``create`` exits and it reaps the init, as conmon and
  containerd-shim do.
- **exec**: ``exec`` of ``/bin/true`` (foreground) into a running container, each runtime
  into its own.
- **podman**: ``podman run --rm --network none`` of ``/bin/true`` with ``--runtime`` ours,
  runc (and crun).

Ours runs twice: as installed (``create`` takes the warm start; the benchmark first creates
until one says it ran warm, so the server is up) and with ``PYCONTAINERS_WARM=0`` (cold: a
fresh interpreter per ``create``), both through the same launcher.

Contenders are interleaved round-robin (one sample each per round, the first rotating).
Everything lives in one temporary directory, removed at exit; the benchmark runs in a
private network namespace.

Usage (as root; never while the test suite runs)::

    flock /tmp/pc-tests.lock python3 benchmarks/oci_runtime.py [--runs 20] [--warmup 2]
        [--skip-podman] [--json out.json]

``--json`` writes the rows (medians, p10/p90, ratios, every sample) and the targets in the
shape ``cli_latency.py`` writes, which ``report.py`` renders.

Targets (issue 17): direct ours <= 0.3x runc; under podman ours <= 1x podman with runc.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import busybox_rootfs, host_mounts

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PODMAN_ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000


def make_bundle(path: Path, rootfs: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from pycontainers.ociruntime.info import template

    path.mkdir(parents=True)
    doc = template()
    doc["process"].update(terminal=False, args=["/bin/true"])
    doc["ociVersion"] = "1.0.2"  # what runc spec writes; crun 1.8 refuses newer
    doc["root"] = {"path": str(rootfs), "readonly": True}
    (path / "config.json").write_text(json.dumps(doc))
    return path


def our_runtime(tmp: Path, cold: bool = False) -> Path:
    """The runtime as the how-to installs it: the lean launcher (``python -m
    pycontainers.ociruntime.launcher``: ``python -I -S``, the package's path written in),
    behind a shell line that sets its default ``--root`` (podman 4's ``delete`` omits it)
    and its warm start's socket directory (``tmp/warm``); ``cold``: ``PYCONTAINERS_WARM=0``.
    """
    sys.path.insert(0, str(REPO))
    from pycontainers.ociruntime.launcher import write_launcher

    launcher = tmp / "pycontainers-runtime.py"
    if not launcher.exists():
        write_launcher(str(launcher))
    (tmp / "warm").mkdir(mode=0o700, exist_ok=True)
    name = "pycontainers-runtime-cold" if cold else "pycontainers-runtime"
    exe = tmp / name
    env = f"PYCONTAINERS_RUNTIME_ROOT={tmp / (name + '-root')} PYCONTAINERS_WARM_DIR={tmp / 'warm'}"
    exe.write_text(
        f'#!/bin/sh\n{env}{" PYCONTAINERS_WARM=0" if cold else ""} exec {launcher} "$@"\n'
    )
    exe.chmod(0o755)
    return exe


def until_warm(exe: str, root: Path, bundle: Path) -> None:
    """Create (and delete) until ``create`` says it ran warm: the first starts the server."""
    env = dict(os.environ, PYCONTAINERS_LAUNCH_DEBUG="1")
    said = root.parent / "until-warm.err"
    for n in range(100):
        cid = f"warmup-{n}"
        with open(said, "wb") as err:  # (the created container holds its stdio: no pipe)
            subprocess.call([exe, "--root", str(root), "create", "--bundle", str(bundle), cid],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                            env=env)  # fmt: skip
        subprocess.run([exe, "--root", str(root), "delete", "-f", cid], capture_output=True)
        if "pycontainers-runtime-front: warm " in said.read_text():
            return
        time.sleep(0.1)
    print("pycontainers-runtime: create never ran warm here; measured as it is")


def stop_warm(tmp: Path) -> None:
    """Stop the warm start servers of this run (their pids are in the locks' files)."""
    import signal

    for lock in (tmp / "warm").glob("*.lock"):
        try:
            os.kill(int(lock.read_text().split()[0]), signal.SIGTERM)
        except (ValueError, IndexError, OSError):
            pass


class Unavailable(Exception):
    """A contender cannot run here; the message says why."""


def available(contenders: dict[str, Callable[[int], float]]) -> dict[str, Callable[[int], float]]:
    """The contenders whose first sample works (the others reported with the reason)."""
    out = {}
    for name, once in contenders.items():
        try:
            once(0)
        except (Unavailable, subprocess.CalledProcessError) as exc:
            print(f"{name}: unavailable here ({exc})")
            continue
        out[name] = once
    return out


COMMANDS = ("create", "state", "start", "delete")


def direct(
    exe: str, root: Path, bundle: Path, per_command: dict[str, list[float]] | None = None
) -> Callable[[int], float]:
    """create + start + reap + delete, each a process; returns the seconds taken. A ``state``
    between create and start (as a shim asks) is timed on its own, outside the total; with
    ``per_command``, each command's seconds are appended there (by name) too.
    """

    def once(n: int) -> float:
        cid = f"bench-{os.getpid()}-{n}"
        pid_file = root.parent / f"{cid}.pid"
        base = [exe, "--root", str(root)]
        took: dict[str, float] = {}
        t0 = time.perf_counter()
        with open(root.parent / "create.err", "wb") as err:
            rc = subprocess.call([*base, "create", "--bundle", str(bundle), "--pid-file",
                                  str(pid_file), cid], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        if rc != 0:
            raise Unavailable((root.parent / "create.err").read_text().strip()[-200:])
        t1 = time.perf_counter()
        subprocess.run([*base, "state", cid], check=True, stdout=subprocess.DEVNULL)
        t2 = time.perf_counter()
        pid = int(pid_file.read_text())
        subprocess.run([*base, "start", cid], check=True)
        t3 = time.perf_counter()
        _, status = os.waitpid(pid, 0)  # we are the subreaper: the init is ours to reap
        t4 = time.perf_counter()
        subprocess.run([*base, "delete", cid], check=True)
        t5 = time.perf_counter()
        took = {"create": t1 - t0, "state": t2 - t1, "start": t3 - t2, "delete": t5 - t4}
        if status != 0:
            raise RuntimeError(f"{exe}: /bin/true exited with wait status {status}")
        pid_file.unlink()
        if per_command is not None:
            for name, seconds in took.items():
                per_command.setdefault(name, []).append(seconds)
        return t5 - t0 - took["state"]

    return once


def command_table(
    per_command: dict[str, dict[str, list[float]]], base: str
) -> dict[str, dict[str, object]]:
    """Print each command's median per runtime (and its ratio to ``base``); the rows."""
    print("\nper command, median ms (each a process; state: between create and start)")
    names = list(per_command)
    print(f"{'command':<10}" + "".join(f"{n:>22}" for n in names) + f"{'ours/' + base:>16}")
    rows: dict[str, dict[str, object]] = {}
    for command in COMMANDS:
        medians = {n: statistics.median(per_command[n][command]) * 1e3 for n in names}
        ours = medians.get("pycontainers-runtime")
        ref = medians.get(base)
        ratio = ours / ref if ours is not None and ref else None
        shown = f"{ratio:>15.2f}x" if ratio is not None else f"{'n/a':>16}"
        print(f"{command:<10}" + "".join(f"{medians[n]:>22.2f}" for n in names) + shown)
        for n in names:
            values = per_command[n][command]
            ordered = sorted(values)
            p10 = ordered[round(0.1 * (len(values) - 1))]
            p90 = ordered[round(0.9 * (len(values) - 1))]
            rows[f"{command} ({n})"] = {"median_ms": medians[n], "p10_ms": p10 * 1e3,
                                        "p90_ms": p90 * 1e3, "n": len(values),
                                        "ratio": medians[n] / ref if ref and n != base else None,
                                        "vs": base if n != base else None,
                                        "samples_s": values}  # fmt: skip
    return rows


def exec_into(exe: str, root: Path, bundle: Path, cid: str) -> Callable[[int], float]:
    """``exec`` of ``/bin/true`` (foreground: it waits for the exit) into the running
    container ``cid`` (made on the first call: ``run -d`` of a ``sleep``); the seconds."""
    made: list[bool] = []

    def once(n: int) -> float:
        base = [exe, "--root", str(root)]
        if not made:
            sleeper = bundle.parent / "sleeper"
            if not sleeper.exists():
                sleeper.mkdir()
                doc = json.loads((bundle / "config.json").read_text())
                doc["process"]["args"] = ["/bin/sleep", "3600"]
                (sleeper / "config.json").write_text(json.dumps(doc))
            subprocess.run([*base, "run", "-d", "--bundle", str(sleeper), cid], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
            made.append(True)
        t0 = time.perf_counter()
        rc = subprocess.call([*base, "exec", cid, "/bin/true"], stdin=subprocess.DEVNULL)
        took = time.perf_counter() - t0
        if rc != 0:
            raise Unavailable(f"exec exited {rc}")
        return took

    return once


def _pm_dir(name: str) -> str:
    """A short directory name per runtime (podman refuses a runroot over 50 characters)."""
    return "pm-" + name.replace("pycontainers-runtime", "ours")


def podman(runtime: str, tmp: Path, rootfs: Path, name: str) -> Callable[[int], float]:
    pmdir = tmp / _pm_dir(name)
    base = ["podman", "--root", str(pmdir / "root"), "--runroot",
            str(pmdir / "run"), "--runtime", runtime, "--cgroup-manager",
            "cgroupfs", "--storage-driver", "vfs", "--events-backend", "none"]  # fmt: skip

    def once(n: int) -> float:
        t0 = time.perf_counter()
        r = subprocess.run([*base, "run", "--rm", *PODMAN_ULIMITS, "--network", "none",
                            "--rootfs", str(rootfs), "/bin/true"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            raise Unavailable(r.stderr.strip()[-200:])
        return time.perf_counter() - t0

    return once


def measure(
    contenders: dict[str, Callable[[int], float]],
    runs: int,
    warmup: int,
    per_command: dict[str, dict[str, list[float]]] | None = None,
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    n = 0
    for r in range(warmup + runs):
        if r == warmup:  # the warm-up rounds' per-command times do not count
            for commands in (per_command or {}).values():
                commands.clear()
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            n += 1
            took = contenders[name](n)
            if r >= warmup:
                samples[name].append(took)
    return samples


def table(title: str, samples: dict[str, list[float]], base: str) -> dict[str, dict[str, object]]:
    """Print one table; its rows as ``cli_latency.py`` writes them (with every sample)."""
    print(f"\n{title}")
    print(f"{'contender':<34}{'median ms':>10}{'p90 ms':>9}{'vs ' + base:>14}")
    rows: dict[str, dict[str, object]] = {}
    ref = statistics.median(samples[base])
    for name, values in samples.items():
        ordered = sorted(values)
        med = statistics.median(values)
        p10, p90 = ordered[round(0.1 * (len(values) - 1))], ordered[round(0.9 * (len(values) - 1))]
        print(f"{name:<34}{med * 1e3:>10.1f}{p90 * 1e3:>9.1f}{med / ref:>13.2f}x")
        rows[name] = {"median_ms": med * 1e3, "p10_ms": p10 * 1e3, "p90_ms": p90 * 1e3,
                      "n": len(values), "ratio": med / ref if name != base else None,
                      "vs": base if name != base else None, "samples_s": values}  # fmt: skip
    return rows


def targets(rows: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """The issue's targets: each ratio, its limit and PASS/FAIL (n/a without the row)."""
    out: dict[str, dict[str, object]] = {}
    for label, row, limit in (
        ("direct pycontainers-runtime <= 0.3x runc", "direct pycontainers-runtime", 0.3),
        ("under podman <= 1x runc", "podman run --rm (pycontainers-runtime)", 1.0),
    ):
        ratio = rows.get(row, {}).get("ratio")
        verdict = "n/a" if not isinstance(ratio, float) else "PASS" if ratio <= limit else "FAIL"
        out[label] = {"ratio": ratio, "max": limit, "verdict": verdict}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--skip-podman", action="store_true")
    p.add_argument("--json", default=None, help="also write the rows as JSON")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        sys.exit(f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}")
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    mounts = host_mounts()
    tmp = Path(tempfile.mkdtemp(prefix="pcoci-"))
    try:
        rootfs = busybox_rootfs(tmp / "rootfs")
        bundle = make_bundle(tmp / "bundle", rootfs)
        ours = str(our_runtime(tmp))
        runtimes = {"pycontainers-runtime": ours,
                    "pycontainers-runtime-cold": str(our_runtime(tmp, cold=True))}  # fmt: skip
        until_warm(ours, tmp / "pycontainers-runtime-root", bundle)
        for name in ("runc", "crun"):
            found = shutil.which(name)
            if found:
                runtimes[name] = found
            else:
                print(f"{name}: unavailable (not installed)")
        per_command: dict[str, dict[str, list[float]]] = {k: {} for k in runtimes}
        contenders = available(
            {f"direct {k}": direct(v, tmp / f"{k}-root", bundle, per_command[k])
             for k, v in runtimes.items()}
        )  # fmt: skip
        for k in per_command:
            per_command[k].clear()  # the availability probes and warm-up rounds do not count
        rows = table("create+start+wait+delete of /bin/true (each a process)",
                     measure(contenders, args.runs, args.warmup, per_command), "direct runc")  # fmt: skip
        per_command = {k: v for k, v in per_command.items() if f"direct {k}" in contenders}
        if "runc" in per_command:
            rows |= command_table(per_command, "runc")
        ex = available(
            {f"exec {k}": exec_into(v, tmp / f"{k}-root", bundle, "exec-target")
             for k, v in runtimes.items()}
        )  # fmt: skip
        rows |= table("exec /bin/true into a running container (foreground)",
                      measure(ex, args.runs, args.warmup), "exec runc")  # fmt: skip
        if not args.skip_podman and shutil.which("podman"):
            pm = available(
                {f"podman run --rm ({k})": podman(v, tmp, rootfs, k) for k, v in runtimes.items()}
            )
            time.sleep(2)  # conmon's context is another: the first run started its server
            rows |= table("podman run --rm --network none /bin/true",
                          measure(pm, args.runs, args.warmup), "podman run --rm (runc)")  # fmt: skip
        verdicts = targets(rows)
        print("\ntargets (issue 17):")
        for label, v in verdicts.items():
            shown = f"{v['ratio']:.2f}x" if isinstance(v["ratio"], float) else "n/a"
            print(f"  {label:<44}{shown:>8}  {v['verdict']}")
        if args.json:
            results = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": args.runs,
                       "warmup": args.warmup, "rows": rows, "targets": verdicts}  # fmt: skip
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
            print(f"wrote {args.json}")
    finally:
        stop_warm(tmp)
        for name in ("runc-root", "crun-root", "pycontainers-runtime-root",
                     "pycontainers-runtime-cold-root"):  # fmt: skip
            root = tmp / name
            if root.is_dir():
                for cid in os.listdir(root):
                    exe = ours if name.startswith("pycontainers") else name.split("-")[0]
                    subprocess.run(
                        [exe, "--root", str(root), "delete", "-f", cid], capture_output=True
                    )
        for name in ("runc", "crun", "pycontainers-runtime", "pycontainers-runtime-cold"):
            pmdir = tmp / _pm_dir(name)
            if pmdir.is_dir():
                subprocess.run(["podman", "--root", str(pmdir / "root"), "--runroot", str(pmdir / "run"),
                                "--storage-driver", "vfs", "rm", "-f", "--all"], capture_output=True)  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)
    left = sorted(host_mounts() - mounts)
    if left:
        sys.exit("mounts left behind by this run:\n  " + "\n  ".join(left))


if __name__ == "__main__":
    main()
