"""The entry-point matrix without pytest: run a probe through every way into one container.

Shared by ``test_entry_points.py`` (as root) and the rootless column in ``test_rootless.py``,
where an ordinary user's session imports this file with the system Python.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pycontainers as pc

STATUS_FIELDS = (
    "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
    "Seccomp", "Seccomp_filters",
)  # fmt: skip
DOCKER_CAPS = 0xA80425FB
NS_KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")

PROBE = (
    "grep -E '^(" + "|".join(STATUS_FIELDS) + "):' /proc/self/status; "
    'echo "uid_map $(cat /proc/self/uid_map | tr -s " \\n" " ")"; '
    'echo "gid_map $(cat /proc/self/gid_map | tr -s " \\n" " ")"; '
    'echo "cgroup $(sort /proc/self/cgroup | tr "\\n" " ")"; '
    f'for n in {" ".join(NS_KINDS)}; do echo "ns_$n $(readlink /proc/self/ns/$n)"; done'
)
"""Shell that prints ``key value`` lines describing the process that runs it."""


def parse_probe(text: str) -> dict[str, str]:
    """``key value`` lines (a pty's \\r included) -> a dict; fails on an empty probe."""
    out = {}
    for line in text.replace("\r", "").splitlines():
        words = line.split()
        if words:
            out[words[0].rstrip(":")] = " ".join(words[1:])
    assert set(STATUS_FIELDS) <= set(out), f"incomplete probe output: {text!r}"
    return out


def as_user(probe: dict[str, str]) -> dict[str, str]:
    """What a probe of user 1000 looks like: that uid, no permitted or effective capability
    (its groups come from the rootfs's /etc files, so they are not compared)."""
    out = {**probe, "Uid": "1000 1000 1000 1000", "CapPrm": "0" * 16, "CapEff": "0" * 16}
    for key in ("Gid", "Groups"):
        out.pop(key, None)
    return out


def cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI as a whole process, as a user would."""
    kw.setdefault("timeout", 60)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "pycontainers", *args], capture_output=True, **kw)


def wait_for(path: str, timeout: float = 30.0) -> str:
    """The text of ``path`` once it exists (written with a rename: never half a file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            time.sleep(0.05)
    raise AssertionError(f"{path} did not appear in {timeout} s")


def written(name: str, script: str) -> str:
    """Shell that writes the output of ``script`` to /tmp/NAME atomically."""
    return f"({script}) > /tmp/{name}.tmp 2>&1; mv /tmp/{name}.tmp /tmp/{name}"


def restart_main(script: str) -> str:
    """The container's command: run ``script`` into /tmp/main (/tmp/main2 after a restart,
    told apart by a mark on a bind mount that outlives the run), then sleep."""
    return (
        f"if [ -e /marks/once ]; then {written('main2', script)}; "
        f"else touch /marks/once; {written('main', script)}; fi; exec sleep 300"
    )


def everywhere(
    make: Callable[..., pc.Container],
    script: str,
    marks: Path,
    *,
    other_user: bool = True,
    **config: Any,
) -> dict[str, tuple[str, str]]:
    """Run ``script`` through every entry point of one detached container made by ``make``.

    ``marks`` is bound at /marks (a file there tells a restart from the first run; the
    monitor's pid is written to /marks/monitor). Returns {entry point: (user, output)},
    where user is "root" or "1000" (``exec -u``; left out without ``other_user``, for a
    user namespace that maps only root).
    """
    name = f"entry-{os.urandom(4).hex()}"
    out: dict[str, tuple[str, str]] = {}
    c = make(
        ["sh", "-c", restart_main(script)],
        name=name,
        detach=True,
        restart="on-failure:2",
        healthcheck=pc.HealthCheck(written("health", script), interval="500ms"),
        mounts=[pc.Mount("/marks", str(marks))],
        **config,
    )
    try:
        (marks / "monitor").write_text(str(monitor_pid(c)))
        c.start()
        tmp = f"/proc/{c.pid}/root/tmp"
        out["first process"] = ("root", wait_for(f"{tmp}/main"))
        done = c.exec(["sh", "-c", script], capture_output=True, timeout=30)
        out["exec from the creator"] = ("root", done.stdout.decode())
        code = (
            "import sys, pycontainers as pc; c = pc.Container.load(sys.argv[1]); "
            "sys.stdout.write(c.exec(['sh', '-c', sys.argv[2]], capture_output=True).stdout.decode())"
        )
        r = subprocess.run([sys.executable, "-c", code, name, script], capture_output=True,
                           timeout=60)  # fmt: skip
        out["exec after load in a fresh interpreter"] = ("root", r.stdout.decode())
        cli_cells: list[tuple[str, tuple[str, ...]]] = [("CLI exec", ()), ("CLI exec -t", ("-t",))]
        if other_user:
            cli_cells.append(("CLI exec -u 1000", ("-u", "1000")))
        for label, flags in cli_cells:
            r = cli("exec", *flags, name, "sh", "-c", script)
            assert r.returncode == 0, (label, r.stderr)
            out[label] = ("1000" if "-u" in flags else "root", r.stdout.decode())
        r = cli("exec", "-d", name, "sh", "-c", written("detached", script))
        assert r.returncode == 0, r.stderr
        out["CLI exec -d"] = ("root", wait_for(f"{tmp}/detached"))
        out["health check"] = ("root", wait_for(f"{tmp}/health"))
        # the restart policy starts the same container again
        os.kill(c.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pc.Container.load(name).restart_count < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        again = pc.Container.load(name)
        (marks / "monitor").write_text(str(monitor_pid(again)))
        try:
            out["first process after a restart"] = (
                "root", wait_for(f"/proc/{again.pid}/root/tmp/main2")
            )  # fmt: skip
            done = again.exec(["sh", "-c", script], capture_output=True, timeout=30)
            out["exec after a restart"] = ("root", done.stdout.decode())
            # the restart sealed a new health-check entry for the new process
            health = f"/proc/{again.pid}/root/tmp/health"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(health)  # a /tmp that outlived the restart: wait for a new one
            out["health check after a restart"] = ("root", wait_for(health))
        finally:
            again.close()
    finally:
        pc.Container.load(name).delete()
        c.close()
    return out


def monitor_pid(c: pc.Container) -> int:
    """The host pid of a detached container's monitor, from its state file."""
    with open(os.path.join(c.state_dir, "state.json")) as f:
        return int(json.load(f)["monitor_pid"])


def mismatches(outputs: dict[str, tuple[str, str]]) -> list[str]:
    """Every cell whose probe differs from the container's first process (after a restart:
    new namespaces where the first run had its own, everything else equal)."""
    first = parse_probe(outputs["first process"][1])
    restarted = parse_probe(outputs["first process after a restart"][1])
    host = {f"ns_{k}": os.readlink(f"/proc/self/ns/{k}") for k in NS_KINDS}
    bad = []
    for cell, (user, text) in outputs.items():
        probe = parse_probe(text)
        if cell.endswith("after a restart"):
            for key in host:
                if (probe[key] == host[key]) != (first[key] == host[key]):
                    bad.append(f"{cell}: {key} {probe[key]} (first run {first[key]})")
            for key, value in first.items():
                if not key.startswith("ns_") and probe[key] != value:
                    bad.append(f"{cell}: {key} {probe[key]!r} != {value!r}")
            if cell != "first process after a restart" and probe != restarted:
                bad.append(f"{cell}: differs from the restarted first process")
            continue
        want = as_user(first) if user == "1000" else first
        if user == "1000":
            probe = {k: v for k, v in probe.items() if k not in ("Gid", "Groups")}
        for key in sorted(set(want) | set(probe)):
            if probe.get(key) != want.get(key):
                bad.append(f"{cell}: {key} {probe.get(key)!r} != {want.get(key)!r}")
    return bad
