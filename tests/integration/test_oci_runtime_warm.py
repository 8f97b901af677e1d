"""The OCI runtime's warm ``create`` (issue 17; ``pycontainers/runtime/_remote.py``,
``_native/warm_spawn.c``): a warm start worker computes the plan, the C front end -- the
caller's child -- clones the container's process from it, so the caller (a subreaper, as
conmon and containerd-shim are) is its ancestor, exactly as after a cold create.

Each test has its own launcher, socket directory and runtime root; it stops its servers in
teardown. ``PYCONTAINERS_LAUNCH_DEBUG=1`` makes the front end say ``warm <pid>`` or
``python (<reason>)``; ``PYCONTAINERS_WARM=0`` is the cold path.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oci_runtime_util import (
    SUBREAPER,
    Runtime,
    cgroup_exists,
    edit_config,
    make_bundle,
    runtime_script,
)

pytestmark = pytest.mark.root

SAID = re.compile(r"^pycontainers-runtime-front: (warm \d+|python \((.*)\))$", re.M)
# the payload: its own view of itself (ids, capabilities, no_new_privs, seccomp, limits,
# namespaces, cgroups, mounts), as the cold and the warm create must both give it
PROBE = (
    "grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters"
    "|Speculation_Store_Bypass)' /proc/self/status; cat /proc/self/limits;"
    " cat /proc/self/oom_score_adj; cat /proc/self/cgroup;"
    " for n in cgroup ipc mnt net pid uts user; do readlink /proc/self/ns/$n | cut -d: -f1; done;"
    " cut -d' ' -f2-6 /proc/self/mountinfo; echo pid $$; umask; pwd; hostname; env | sort"
)


class WarmRuntime(Runtime):
    """The runtime's lean launcher (with its C front end) and a private socket directory."""

    def __init__(self, tmp: Path) -> None:
        self.warm_dir = tmp / "warm"
        self.warm_dir.mkdir(mode=0o700)
        super().__init__(runtime_script(tmp), tmp / "root")
        self.env = dict(os.environ, PYCONTAINERS_WARM_DIR=str(self.warm_dir),
                        PYCONTAINERS_WARM_IDLE="60", PYCONTAINERS_LAUNCH_DEBUG="1")  # fmt: skip
        for name in ("PYCONTAINERS_WARM", "PYCONTAINERS_NO_FAST_START", "COVERAGE_PROCESS_START"):
            self.env.pop(name, None)

    def said(self, stderr: str) -> str:
        """What the front end says it did (one line)."""
        lines = SAID.findall(stderr)
        assert len(lines) == 1, stderr
        return str(lines[0][0])

    def server_up(self) -> None:
        """A create starts a server (cold); wait until it listens."""
        deadline = time.monotonic() + 30
        while not list(self.warm_dir.glob("*.sock")):
            assert time.monotonic() < deadline, "no warm server came up"
            time.sleep(0.05)

    def stop_servers(self) -> None:
        for lock in self.warm_dir.glob("*.lock"):
            try:
                pid = int(lock.read_text().split()[0])
                os.kill(pid, signal.SIGTERM)
            except (ValueError, IndexError, OSError):
                pass


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[WarmRuntime]:
    r = WarmRuntime(tmp_path)
    yield r
    r.stop_servers()


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path) -> Path:
    return make_bundle(tmp_path / "bundle", busybox_rootfs, ["/bin/sh", "-c", PROBE])


def _caller(rt: WarmRuntime, bundle: Path, cid: str, tmp: Path, **env: str) -> dict[str, Any]:
    """Create ``cid`` from a subreaper (as conmon does), start it, and let the subreaper
    reap it: the front end's word, the container's parent, its wait status and its output.
    """
    status, pid_file, out = tmp / f"{cid}.status", tmp / f"{cid}.pid", tmp / f"{cid}.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-c", SUBREAPER, str(status), str(pid_file),
             *rt.argv("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid)],
            stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=dict(rt.env, **env),
        )  # fmt: skip
    parent_file = Path(f"{status}.parent")
    deadline = time.monotonic() + 60
    while not parent_file.exists() and not status.exists():
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.02)
    assert not status.exists(), out.read_text()
    said = rt.said(out.read_text())
    rt("start", cid, env=rt.env)
    proc.wait(30)
    text = out.read_text()
    rt("delete", cid, env=rt.env)
    return {"said": said, "caller": proc.pid, "parent": int(parent_file.read_text()),
            "status": int(status.read_text()), "out": SAID.sub("", text).strip()}  # fmt: skip


def _warm_up(rt: WarmRuntime, bundle: Path, tmp: Path) -> None:
    """Two cold creates (a context's second call starts its server), then wait for it."""
    for n in (1, 2):
        _caller(rt, bundle, f"starter-{n}", tmp)
    rt.server_up()


def _normal(out: str, cid: str) -> str:
    """The probe's output with what differs between two containers of different ids."""
    out = out.replace(cid, "ID")
    out = re.sub(r"\d+:\d+ ", "M:M ", out)  # device numbers of the mounts
    return re.sub(r"^pid \d+$", "pid N", out, flags=re.M)


def test_a_warm_create_is_the_callers_and_confined_as_a_cold_one(
    rt: WarmRuntime, bundle: Path, tmp_path: Path
) -> None:
    cold = _caller(rt, bundle, "cold-one", tmp_path, PYCONTAINERS_WARM="0")
    assert cold["said"] == "python (PYCONTAINERS_WARM=0)"
    first = _caller(rt, bundle, "first-one", tmp_path)  # no server yet: cold, and the
    assert first["said"] == "python (no server: the first call of this context)"  # first call
    second = _caller(rt, bundle, "second-one", tmp_path)  # of a context starts none
    assert second["said"] == "python (no server: starting one)"
    rt.server_up()
    warm = _caller(rt, bundle, "warm-one", tmp_path)
    assert warm["said"].startswith("warm ")
    for got in (cold, first, second, warm):
        assert got["parent"] == got["caller"], got  # the caller's child, reaped by it
        assert os.WIFEXITED(got["status"]) and os.WEXITSTATUS(got["status"]) == 0, got
    assert "CapBnd" in warm["out"] and "NoNewPrivs" in warm["out"], warm["out"]
    assert _normal(warm["out"], "warm-one") == _normal(cold["out"], "cold-one")


def test_a_failed_warm_create_leaves_nothing(rt: WarmRuntime, bundle: Path, tmp_path: Path) -> None:
    """A createRuntime hook fails after the clone: the worker aborts, the front end reaps
    the killed child on the worker's word; no state, cgroup, process or zombie is left."""
    _warm_up(rt, bundle, tmp_path)
    edit_config(bundle, lambda d: d.setdefault("hooks", {}).update(
        createRuntime=[{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]))  # fmt: skip
    probe = (
        "import subprocess, sys, os, time\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "time.sleep(0.2)\n"
        "kids = [p for p in os.listdir('/proc') if p.isdigit() and\n"
        "        open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1] == str(os.getpid())]\n"
        "print(r.returncode, len(kids)); print(r.stderr, file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", probe, *rt.argv("create", "--bundle", str(bundle),
                        "broken")], capture_output=True, text=True, env=rt.env, timeout=60)  # fmt: skip
    assert rt.said(r.stderr).startswith("warm "), r.stderr
    assert r.stdout.split() == ["1", "0"], (r.stdout, r.stderr)  # failed; no child, no zombie
    assert "createRuntime" in r.stderr, r.stderr
    assert not (rt.root / "broken").exists()
    assert not cgroup_exists("pycontainers-runtime", "broken")


def test_a_bad_config_warm_fails_as_cold(rt: WarmRuntime, bundle: Path, tmp_path: Path) -> None:
    _warm_up(rt, bundle, tmp_path)
    edit_config(bundle, lambda d: d["process"].update(args="not a list"))
    got = {}
    for name, env in (("warm", {}), ("cold", {"PYCONTAINERS_WARM": "0"})):
        r = rt("create", "--bundle", str(bundle), f"bad-{name}", check=False,
               stdin=subprocess.DEVNULL, env=dict(rt.env, **env))  # fmt: skip
        assert rt.said(r.stderr).startswith("warm " if name == "warm" else "python ")
        got[name] = (r.returncode, SAID.sub("", r.stderr).strip().replace(f"bad-{name}", "ID"))
        assert not (rt.root / f"bad-{name}").exists()
    assert got["warm"] == got["cold"] and got["warm"][0] == 1, got
    assert "process.args" in got["warm"][1], got


def test_a_warm_create_joining_a_pid_namespace_hands_the_process_to_the_caller(
    rt: WarmRuntime, bundle: Path, tmp_path: Path
) -> None:
    """The joining child clones the container's process as the front end's own child
    (CLONE_PARENT) and exits: the front end reaps it on the worker's word."""
    _warm_up(rt, bundle, tmp_path)
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "sleep", "60"])
    try:
        deadline = time.monotonic() + 10
        inner = None
        while inner is None:
            kids = subprocess.run(["pgrep", "-P", str(holder.pid)], capture_output=True,
                                  text=True).stdout.split()  # fmt: skip
            inner = int(kids[0]) if kids else None
            assert inner or time.monotonic() < deadline
            time.sleep(0.02)
        ns = f"/proc/{inner}/ns/pid"

        def join(d: dict[str, Any]) -> None:
            d["linux"]["namespaces"] = [
                n if n["type"] != "pid" else {"type": "pid", "path": ns}
                for n in d["linux"]["namespaces"]
            ]
            d["process"]["args"] = ["/bin/sh", "-c", "readlink /proc/self/ns/pid; echo $$"]

        edit_config(bundle, join)
        got = _caller(rt, bundle, "joined", tmp_path)
        assert got["said"].startswith("warm "), got
        assert got["parent"] == got["caller"], got
        assert os.WIFEXITED(got["status"]) and os.WEXITSTATUS(got["status"]) == 0, got
        assert got["out"].splitlines()[0] == os.readlink(ns), got
    finally:
        holder.kill()
        holder.wait()


def test_the_worker_refuses_a_runtime_request_without_a_spawn_channel(
    rt: WarmRuntime, bundle: Path, tmp_path: Path
) -> None:
    """The CLI's client (no spawn channel) pointed at the runtime's server is refused: the
    container could not be the caller's."""
    _warm_up(rt, bundle, tmp_path)
    import pycontainers

    front = Path(pycontainers.__file__).parent / "_bin" / "pycontainers-front"
    launcher = rt.exe.with_name("pycontainers-runtime.py")
    words = launcher.read_text().splitlines()[1].split("\t")[1:]  # the `# fallback:` words
    err = tmp_path / "x.err"
    with open(err, "wb") as f:  # the created container holds its stdio: a file, not a pipe
        rc = subprocess.call(
            [str(front), "--fallback", str(len(words) + 1), *words, str(launcher),
             "create", "--bundle", str(bundle), "x"],
            stdout=f, stderr=f, timeout=60, stdin=subprocess.DEVNULL,
            env=dict(rt.env, PYCONTAINERS_RUNTIME_ROOT=str(rt.root)),
        )  # fmt: skip
    said = err.read_text()
    # the same fallback words, so the same socket: the runtime's server refuses the
    # request, and the cold run then creates as always
    assert "pycontainers-front: cold (spawn channel)" in said, said
    assert rc == 0, said
    assert rt.state("x")["status"] == "created"
    rt("delete", "-f", "x")


def test_a_caller_in_the_c_locale_runs_warm(rt: WarmRuntime, bundle: Path, tmp_path: Path) -> None:
    """conmon passes no LANG or LC_*: the interpreter then coerces the C locale and adds
    LC_CTYPE=C.UTF-8 to its environment (PEP 538). The server compares a request with the
    environment it was started with, not with its coerced one (else every such call was
    refused as `environment`), and its worker adds the coercion as a cold process has it."""
    bare = tmp_path / "bare-locale"  # (the subreaper, a Python, has coerced its own)
    bare.write_text(f'#!/bin/sh\nunset LANG LANGUAGE LC_ALL LC_CTYPE\nexec {rt.exe} "$@"\n')
    bare.chmod(0o755)
    rt.exe = bare
    _warm_up(rt, bundle, tmp_path)
    hook = f"env > {tmp_path}/hook.env"
    edit_config(bundle, lambda d: d.setdefault("hooks", {}).update(
        createRuntime=[{"path": "/bin/sh", "args": ["sh", "-c", hook]}]))  # fmt: skip
    got = {}
    for name, env in (("warm", {}), ("cold", {"PYCONTAINERS_WARM": "0"})):
        said = _caller(rt, bundle, f"c-{name}", tmp_path, **env)["said"]
        assert said.startswith("warm " if name == "warm" else "python "), said
        lines = (tmp_path / "hook.env").read_text().splitlines()
        got[name] = sorted(line for line in lines if line.startswith(("LC_", "LANG")))
    assert got["warm"] == got["cold"], got


def _exec(rt: WarmRuntime, cid: str, tmp: Path, name: str, **env: str) -> dict[str, Any]:
    """``exec -d`` of the probe from a subreaper (as conmon and containerd-shim run it): the
    front end's word, the process's parent, its wait status (the subreaper's) and output."""
    status, pid_file, out = tmp / f"{name}.status", tmp / f"{name}.pid", tmp / f"{name}.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-c", SUBREAPER, str(status), str(pid_file),
             *rt.argv("exec", "-d", "--pid-file", str(pid_file), cid, "/bin/sh", "-c", PROBE)],
            stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=dict(rt.env, **env),
        )  # fmt: skip
    proc.wait(60)
    text = out.read_text()
    return {"said": rt.said(text), "caller": proc.pid, "status": int(status.read_text()),
            "parent": int(Path(f"{status}.parent").read_text()), "out": SAID.sub("", text)}  # fmt: skip


def test_a_warm_exec_is_the_callers_and_confined_as_a_cold_one(
    rt: WarmRuntime, bundle: Path, tmp_path: Path
) -> None:
    _warm_up(rt, bundle, tmp_path)
    edit_config(bundle, lambda d: d["process"].update(args=["sleep", "60"]))
    rt.run_detached(bundle, "box", tmp_path / "box.out")
    try:
        cold = _exec(rt, "box", tmp_path, "cold", PYCONTAINERS_WARM="0")
        warm = _exec(rt, "box", tmp_path, "warm")
        assert cold["said"] == "python (PYCONTAINERS_WARM=0)" and warm["said"].startswith("warm ")
        for got in (cold, warm):
            assert got["parent"] == got["caller"], got  # the caller's child, reaped by it
            assert os.WIFEXITED(got["status"]) and os.WEXITSTATUS(got["status"]) == 0, got
        assert "CapBnd" in warm["out"] and "NoNewPrivs" in warm["out"], warm["out"]
        assert _normal(warm["out"], "box") == _normal(cold["out"], "box")
        # the foreground form: the exit status, and a signal to the runtime reaches the process
        for name, env in (("warm", {}), ("cold", {"PYCONTAINERS_WARM": "0"})):
            r = rt("exec", "box", "sh", "-c", "exit 7", check=False, env=dict(rt.env, **env))
            assert r.returncode == 7 and rt.said(r.stderr).startswith(
                (name[0] == "w" and "warm") or "python"
            ), r
        results = []
        for env in ({}, {"PYCONTAINERS_WARM": "0"}):
            p = subprocess.Popen(rt.argv("exec", "box", "sh", "-c", "trap 'exit 9' TERM; sleep 30 & wait"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(rt.env, **env))  # fmt: skip
            time.sleep(1.0)  # (the trap is set)
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=60)
            results.append((p.returncode, rt.said(err.decode()).split()[0]))
        assert results == [(9, "warm"), (9, "python")], results
    finally:
        rt("delete", "-f", "box", check=False)
