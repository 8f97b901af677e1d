"""The runtime's C front end (``_native/runtime_front.c``) against the Python path, on the
same real containers: for each command line the front end either answers exactly as
Python's quick path does (stdout, stderr, exit status, the files it leaves) or hands the
original command line to Python, which then answers. ``PYCONTAINERS_LAUNCH_DEBUG`` says which
path answered; ``PYCONTAINERS_NO_FAST_START`` is the Python path.

Mutating commands run on two containers set up alike (one per path, their ids of one length,
compared with the id replaced); the read-only ``state`` on one container through both.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from oci_runtime_util import Caller, Runtime, cgroup_exists, make_bundle, runtime_script

import pycontainers
from pycontainers._proc import proc_stat
from pycontainers.ociruntime.launcher import FRONT, launcher_text
from pycontainers.runtime import state as st

pytestmark = pytest.mark.root

FRONT_PATH = Path(pycontainers.__file__).parent / "_bin" / FRONT
DEBUG = "pycontainers-runtime-front: "
# what differs between two containers set up alike (times, processes)
_VARYING = {"pid", "starttime", "created", "started", "creator", "creator_start"}


def _has_jansson() -> bool:
    probe = subprocess.run(["cc", "-E", "-x", "c", "-", "-o", os.devnull],
                           input="#include <jansson.h>\n", capture_output=True, text=True)  # fmt: skip
    return probe.returncode == 0


def test_the_front_end_is_built_and_the_launcher_runs_it() -> None:
    """CI installs libjansson-dev: then the binary must be there and the launcher use it."""
    assert _has_jansson(), "jansson.h is missing: install libjansson-dev (.ci/run does)"
    assert os.access(FRONT_PATH, os.X_OK), f"{FRONT_PATH} is not built (pip install -e .)"
    text = launcher_text()
    assert text.startswith(f"#!{FRONT_PATH}\n# fallback:\t")
    assert text.splitlines()[1].split("\t")[2] == "-IS"


def test_without_the_front_end_the_launcher_is_python_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No binary (no Jansson at build time): the lean launcher runs Python as before."""
    from pycontainers.ociruntime import launcher

    monkeypatch.setattr(launcher, "front_end", lambda: None)
    text = launcher.launcher_text()
    assert text.startswith("#!/") and " -IS\n" in text.splitlines(keepends=True)[0]
    assert FRONT not in text
    script = Path(launcher.write_launcher(str(tmp_path / "rt.py")))
    r = subprocess.run([str(script), "--root", str(tmp_path), "state", "nope"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYCONTAINERS_LAUNCH_DEBUG": "1"})  # fmt: skip
    assert r.returncode == 1 and r.stderr == "pycontainers-runtime: container nope does not exist\n"


class Result:
    """One command's outcome and which path answered it."""

    def __init__(self, r: subprocess.CompletedProcess[str]) -> None:
        lines = r.stderr.splitlines(keepends=True)
        said = [line for line in lines if line.startswith(DEBUG)]
        assert len(said) == 1, r.stderr
        self.answered = said[0][len(DEBUG) :].strip()
        self.rc, self.out = r.returncode, r.stdout
        self.err = "".join(line for line in lines if not line.startswith(DEBUG))

    @property
    def by_c(self) -> bool:
        return self.answered.startswith("answered")

    def seen(self, cid: str) -> tuple[int, str, str]:
        if not cid:
            return self.rc, self.out, self.err
        return self.rc, self.out.replace(cid, "ID"), self.err.replace(cid, "ID")


def run(rt: Runtime, *args: str, python: bool = False, root: Path | None = None) -> Result:
    env = {**os.environ, "PYCONTAINERS_LAUNCH_DEBUG": "1"}
    env.pop("PYCONTAINERS_NO_FAST_START", None)
    if python:
        env["PYCONTAINERS_NO_FAST_START"] = "1"
    argv = [str(rt.exe), "--root", str(root or rt.root), *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    return Result(r)


def same_state(rt: Runtime, cid: str, *, root: Path | None = None, c: bool = True) -> Result:
    """``state`` through both paths on one container: the same text; the C path answered
    (``c``) or handed over."""
    front, python = run(rt, "state", cid, root=root), run(rt, "state", cid, python=True, root=root)
    assert front.by_c == c, (cid, front.answered)
    assert python.answered == "python (PYCONTAINERS_NO_FAST_START)"
    assert front.seen(cid) == python.seen(cid)
    return front


def both(rt: Runtime, a: str, b: str, *args: str, c: bool, root: Path | None = None) -> Result:
    """``args`` with id ``a`` through the front end and with ``b`` through Python: the same
    outcome; the C path answered (``c``) or handed over."""
    front = run(rt, *[a if x == "ID" else x for x in args], root=root)
    python = run(rt, *[b if x == "ID" else x for x in args], python=True, root=root)
    assert front.by_c == c, (args, front.answered, front.err)
    assert front.seen(a) == python.seen(b), args
    return front


def files_alike(dir_a: Path, dir_b: Path, a: str, b: str) -> None:
    """Two state directories hold the same files; their JSON the same keys in the same
    order, the same values but for times and processes (those of the same types).
    The ids are replaced in the text, so they must hold a letter no hex digest has."""
    assert all(set(i) - set("0123456789abcdef") for i in (a, b)), (a, b)
    assert dir_a.exists() == dir_b.exists()
    if not dir_a.exists():
        return
    names = sorted(p.name for p in dir_a.iterdir())
    assert names == sorted(p.name for p in dir_b.iterdir())
    for name in names:
        if name == "lock" or (dir_a / name).is_fifo():
            continue
        text_a, text_b = (dir_a / name).read_text(), (dir_b / name).read_text()
        if not name.endswith(".json"):
            assert text_a.replace(a, "ID") == text_b.replace(b, "ID"), name
            continue
        try:
            doc_a, doc_b = json.loads(text_a.replace(a, "ID")), json.loads(text_b.replace(b, "ID"))
        except ValueError:  # a corrupt file: left as it was, byte for byte
            assert text_a.replace(a, "ID") == text_b.replace(b, "ID"), name
            continue
        if not isinstance(doc_a, dict):
            assert doc_a == doc_b
            continue
        assert list(doc_a) == list(doc_b), name
        for key in doc_a:
            if key in _VARYING:
                assert type(doc_a[key]) is type(doc_b[key]), key
            else:
                assert doc_a[key] == doc_b[key], key


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(runtime_script(tmp_path), tmp_path / "root")


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path) -> Path:
    return make_bundle(tmp_path / "bundle", busybox_rootfs, ["sh", "-c", "exec sleep 60"])


def test_a_lifecycle_through_both_paths_ends_alike(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    a, b = "xa1", "xb1"  # ids no hex digest can contain (files_alike)
    ca = Caller(rt, bundle, a, tmp_path)
    cb = Caller(rt, bundle, b, tmp_path)
    try:
        for cid in (a, b):
            assert json.loads(same_state(rt, cid).out)["status"] == "created"
        files_alike(rt.root / a, rt.root / b, a, b)
        both(rt, a, b, "start", "ID", c=True)
        files_alike(rt.root / a, rt.root / b, a, b)
        for cid, caller in ((a, ca), (b, cb)):  # a state file the engine reads as its own
            doc = json.loads((rt.root / cid / "state.json").read_text())
            engine = st.read_state(str(rt.root / cid))
            assert engine.status == "running" and engine.pid == caller.pid
            assert engine.started == doc["started"] and isinstance(doc["started"], float)
            assert doc["starttime"] == (proc_stat(caller.pid) or (b"", -1))[1]
            assert abs(doc["started"] - time.time()) < 60
            assert json.loads(same_state(rt, cid).out)["status"] == "running"
        # not the plain case: handed to Python, whose engine words the errors
        refused = both(rt, a, b, "start", "ID", c=False)
        assert refused.rc == 1 and "not created" in refused.err
        refused = both(rt, a, b, "delete", "ID", c=False)
        assert refused.rc == 1 and "running" in refused.err
        for sig in ("NOSUCH", "0", "65", "SIGSIGKILL", ""):
            unknown = both(rt, a, b, "kill", "ID", sig, c=False)
            assert unknown.rc == 1 and "signal" in unknown.err, sig
        assert both(rt, a, b, "kill", "ID", "CONT", c=True).rc == 0
        for cid in (a, b):
            rt("pause", cid)
            assert json.loads(same_state(rt, cid).out)["status"] == "paused"
        both(rt, a, b, "delete", "--force", "ID", c=False)  # paused: the engine thaws and kills
        assert os.WTERMSIG(ca.wait()) == os.WTERMSIG(cb.wait()) == signal.SIGKILL
        both(rt, a, b, "kill", "ID", c=False)  # gone
        files_alike(rt.root / a, rt.root / b, a, b)
        assert not any(cgroup_exists("pycontainers-runtime", cid) for cid in (a, b))
    finally:
        for caller, cid in ((ca, a), (cb, b)):
            caller.close()
            rt("delete", "--force", cid, check=False)


def test_kill_and_delete_of_a_stopped_container_alike(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    a, b = "fa2", "fb2"
    ca, cb = Caller(rt, bundle, a, tmp_path), Caller(rt, bundle, b, tmp_path)
    try:
        for cid in (a, b):
            rt("start", cid)
        both(rt, a, b, "--debug", "kill", "ID", "sigkill", c=True)
        assert os.WTERMSIG(ca.wait()) == os.WTERMSIG(cb.wait()) == signal.SIGKILL
        for cid in (a, b):
            doc = json.loads(same_state(rt, cid).out)
            assert doc["status"] == "stopped" and doc["pid"] == 0
        dirs = [
            json.loads((rt.root / cid / "oci.json").read_text())["cgroup_dirs"] for cid in (a, b)
        ]
        assert all(os.path.isdir(d) for d in dirs[0] + dirs[1])
        log = tmp_path / "log.json"
        deleted = both(rt, a, b, "--log", str(log), "--log-format", "json", "delete", "ID", c=True)
        assert (deleted.rc, deleted.out, deleted.err) == (0, "", "")
        assert not log.exists()  # the quick path of either writes no log
        assert not (rt.root / a).exists() and not (rt.root / b).exists()
        assert not any(os.path.isdir(d) for d in dirs[0] + dirs[1])
        assert not any(cgroup_exists("pycontainers-runtime", cid) for cid in (a, b))
        gone = both(rt, a, b, "delete", "ID", c=False)
        assert gone.rc == 1 and "does not exist" in gone.err
        assert both(rt, a, b, "delete", "-f", "ID", c=False).rc == 0
    finally:
        for caller, cid in ((ca, a), (cb, b)):
            caller.close()
            rt("delete", "--force", cid, check=False)


def test_delete_of_a_created_container_kills_it_alike(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    a, b = "fa3", "fb3"
    ca, cb = Caller(rt, bundle, a, tmp_path), Caller(rt, bundle, b, tmp_path)
    try:
        assert both(rt, a, b, "delete", "ID", "--force", c=True).rc == 0
        assert os.WTERMSIG(ca.wait()) == os.WTERMSIG(cb.wait()) == signal.SIGKILL
        assert not (rt.root / a).exists() and not (rt.root / b).exists()
        assert not any(cgroup_exists("pycontainers-runtime", cid) for cid in (a, b))
    finally:
        for caller, cid in ((ca, a), (cb, b)):
            caller.close()
            rt("delete", "--force", cid, check=False)


def test_hooks_are_left_to_python(rt: Runtime, tmp_path: Path, busybox_rootfs: Path) -> None:
    hooked = make_bundle(tmp_path / "hooked", busybox_rootfs, ["true"])
    doc = json.loads((hooked / "config.json").read_text())
    record = tmp_path / "hooks.out"
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"cat >> {record}; echo >> {record}"]}
    doc["hooks"] = {"poststart": [hook], "poststop": [hook]}
    (hooked / "config.json").write_text(json.dumps(doc))
    caller = Caller(rt, hooked, "fh1", tmp_path)
    try:
        assert json.loads(same_state(rt, "fh1").out)["status"] == "created"
        started = run(rt, "start", "fh1")
        assert started.answered == "python (poststart hooks)" and started.rc == 0
        assert caller.wait() == 0
        deleted = run(rt, "delete", "fh1")
        assert deleted.answered == "python (poststop hooks)" and deleted.rc == 0
        ids = [json.loads(line)["id"] for line in record.read_text().split("\n") if line]
        assert ids == ["fh1", "fh1"]
        assert not (rt.root / "fh1").exists()
    finally:
        caller.close()
        rt("delete", "--force", "fh1", check=False)


def _edit(path: Path, how: Any) -> None:
    if how is None:
        path.unlink()
    elif isinstance(how, bytes):
        path.write_bytes(how)
    elif callable(how):
        path.write_bytes(how(path.read_bytes()))
    else:
        doc = json.loads(path.read_text())
        doc.update(how)
        path.write_text(json.dumps(doc))


def nested(levels: int) -> list[Any]:
    """A list ``levels`` deep (``[]`` is one)."""
    out: list[Any] = []
    for _ in range(levels - 1):
        out = [out]
    return out


ANNOTATIONS = {"k\u00e9": "v", "n": [1, 2.5, None, True, {"x": {}}, []], "f": 1e-7, "g": 1e22}
# (name, file, edit, whether the front end answers `state` itself)
CASES: list[tuple[str, str, Any, bool]] = [
    ("plain", "state.json", {}, True),
    ("no-state", "state.json", None, False),
    ("no-oci", "oci.json", None, False),
    ("truncated", "state.json", lambda t: t[: len(t) // 2], False),
    ("empty", "state.json", b"", False),
    ("garbage", "state.json", b"{{{ not json", False),
    ("list", "state.json", b"[1, 2]", False),
    ("pid-text", "state.json", {"pid": "1"}, False),
    ("pid-bool", "state.json", {"pid": True}, False),
    ("created-text", "state.json", {"created": "12"}, False),
    (
        "created-nan",
        "state.json",
        lambda t: t.replace(b'"created": ', b'"created": NaN, "x": '),
        False,
    ),
    ("duplicate", "state.json", lambda t: t.replace(b'"pid": ', b'"pid": 7, "pid": '), False),
    ("monitored", "state.json", {"monitored": True}, False),
    ("not-monitored", "state.json", {"monitored": False}, True),
    ("other-id", "state.json", {"id": "someone-else"}, False),
    ("creating", "state.json", {"status": "creating"}, True),
    ("odd-status", "state.json", {"status": "weird"}, True),
    ("created-fraction", "state.json", {"created": 1765000000.9999996}, True),
    ("created-int", "state.json", {"created": 1765000000}, True),
    ("rootfs-unicode", "state.json", {"rootfs": '/r\u00f6\u00f6t/\U0001f600\x7f"\\\n'}, True),
    ("annotations", "oci.json", {"annotations": ANNOTATIONS}, True),
    ("bundle-number", "oci.json", {"bundle": 3}, False),
    ("oci-list", "oci.json", b"[]", False),
    ("hooks-list", "oci.json", {"hooks": []}, True),
    # oci.json, annotations, then the list: the front end leaves over 100 levels to Python
    ("deep", "oci.json", {"annotations": {"a": nested(99)}}, False),
    ("deep-enough", "oci.json", {"annotations": {"a": nested(98)}}, True),
]


def test_damaged_and_odd_state_files_alike(rt: Runtime, bundle: Path, tmp_path: Path) -> None:
    """State directories copied from a real stopped container, then damaged or made odd:
    for each command, the front end answers as Python does, or hands over."""
    caller = Caller(rt, bundle, "ftemplate", tmp_path)
    try:
        rt("start", "ftemplate")
        rt("kill", "ftemplate", "KILL")
        caller.wait()
        template = rt.root / "ftemplate"
        root = tmp_path / "copies"
        root.mkdir()
        for n, (name, file, how, answers) in enumerate(CASES):
            ids = {}
            for side in ("a", "b"):
                cid = f"x{side}{n:02d}"  # not hex: see files_alike
                ids[side] = cid
                shutil.copytree(template, root / cid)
                for f in ("state.json", "oci.json"):
                    text = (root / cid / f).read_text().replace("ftemplate", cid)
                    doc = json.loads(text)
                    doc.pop("cgroup", None) if f == "state.json" else doc.pop("cgroup_dirs")
                    (root / cid / f).write_text(json.dumps(doc))
                _edit(root / cid / file, how)
            a, b = ids["a"], ids["b"]
            shown = same_state(rt, a, root=root, c=answers)
            if answers:
                assert json.loads(shown.out)["id"] == a
            for args in (("kill", "ID", "KILL"), ("start", "ID"), ("delete", "ID")):
                front = run(rt, *[a if x == "ID" else x for x in args], root=root)
                python = run(rt, *[b if x == "ID" else x for x in args], python=True, root=root)
                assert front.seen(a) == python.seen(b), (name, args)
                files_alike(root / a, root / b, a, b)
            for cid in (a, b):
                shutil.rmtree(root / cid, ignore_errors=True)
    finally:
        caller.close()
        rt("delete", "--force", "ftemplate", check=False)


def test_command_lines_outside_the_plain_case_go_to_python(rt: Runtime, tmp_path: Path) -> None:
    rt.root.mkdir()
    for args in (("state", "nope"), ("state",), ("state", "a", "b"), ("state", "../x"),
                 ("state", "x" * 129), ("state", ".x"), ("state", "caf\u00e9"),
                 ("kill", "nope", "KILL", "x"), ("kill", "nope", "k\u0131ll"),
                 ("delete", "-x", "nope"), ("delete", "--", "nope"), ("start", "-f", "nope"),
                 ("--log-format", "xml", "state", "nope"), ("--systemd-cgroup", "state", "n"),
                 ("--root=", "state", "nope"), ("--root",), ("--debug=1", "state", "nope"),
                 ("list",), ("--version",), ()):  # fmt: skip
        front, python = run(rt, *args), run(rt, *args, python=True)
        assert not front.by_c, args
        assert front.seen("") == python.seen(""), args


_DUP3 = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.execv(sys.argv[2], sys.argv[2:])"


def test_fds_reach_python_untouched(rt: Runtime, bundle: Path, tmp_path: Path) -> None:
    """What the front end hands over (here ``exec``) gets every fd: ``--preserve-fds 1``
    passes the caller's fd 3, a pipe, into the container's process; cold (Python) and warm
    (a worker's plan, cloned by the front end) alike."""
    caller = Caller(rt, bundle, "ffd", tmp_path)
    warm_dir = tmp_path / "warm"
    warm_dir.mkdir(mode=0o700)
    env = {**os.environ, "PYCONTAINERS_LAUNCH_DEBUG": "1", "PYCONTAINERS_WARM_DIR": str(warm_dir)}
    said = []
    try:
        rt("start", "ffd")
        for n in range(40):  # cold (and the second call starts a server), until warm
            read, write = os.pipe()
            try:
                argv = rt.argv("exec", "--preserve-fds", "1", "ffd", "sh", "-c", f"echo {n} >&3")
                r = subprocess.run([sys.executable, "-c", _DUP3, str(write), *argv],
                                   pass_fds=(write,), capture_output=True, text=True, timeout=60,
                                   env=env)  # fmt: skip
                os.close(write)
                write = -1
                assert r.returncode == 0, r.stderr
                said.append(r.stderr.split("pycontainers-runtime-front: ")[1].split()[0])
                assert os.read(read, 100) == f"{n}\n".encode()
            finally:
                os.close(read)
                if write >= 0:
                    os.close(write)
            if said[-1] == "warm":
                break
            time.sleep(0.1)
        assert said[0] == "python" and said[-1] == "warm", said
    finally:
        for lock in warm_dir.glob("*.lock"):
            with contextlib.suppress(ValueError, IndexError, OSError):
                os.kill(int(lock.read_text().split()[0]), signal.SIGTERM)
        caller.close()
        rt("delete", "--force", "ffd", check=False)


def test_signal_names_and_numbers_as_python_reads_them(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    """Every signal Python's quick path knows, the front end sends itself; every other one it
    hands over. The container's init (pid 1 of its namespace, no handlers) ignores all but
    SIGKILL and SIGSTOP from outside, so it lives through the loop."""
    from pycontainers.ociruntime import quick

    caller = Caller(rt, bundle, "fsig", tmp_path)
    try:
        rt("start", "fsig")
        names = [*signal.Signals.__members__, *(str(n) for n in range(0, 70))]
        names += [n.lower() for n in signal.Signals.__members__]
        names += [n[3:].lower() for n in signal.Signals.__members__]
        names += ["SIGRTMIN+1", "RTMIN", "00015", "SIG", "SIGSIGTERM", "Sigterm", "tErM", "-1"]
        names = [n for n in names if quick.signal_number(n) not in (signal.SIGKILL, signal.SIGSTOP)]
        for name in names:
            known = quick.signal_number(name) is not None
            r = run(rt, "kill", "fsig", name)
            assert r.by_c == known, (name, r.answered, r.err)
            assert (r.rc == 0) == known, (name, r.err)
        assert json.loads(same_state(rt, "fsig").out)["status"] == "running"
        assert run(rt, "kill", "fsig", "9").by_c
        assert os.WTERMSIG(caller.wait()) == signal.SIGKILL
    finally:
        caller.close()
        rt("delete", "--force", "fsig", check=False)


def test_the_installed_command_runs_the_front_end(
    rt: Runtime, bundle: Path, tmp_path: Path
) -> None:
    """The ``#!/bin/sh`` launcher ``setup.py`` installs (``_launchcache.script_text``) runs the
    front end with its Python command as the fallback; without the front end, Python."""
    from pycontainers._launchcache import script_text

    target = "pycontainers.ociruntime.main:entry"
    installed = tmp_path / "bin" / "pycontainers-runtime"
    installed.parent.mkdir()
    missing = str(tmp_path / "no-such-front")
    installed.write_text(script_text("pycontainers-runtime", target, sys.executable,
                                     [missing, str(FRONT_PATH)]))  # fmt: skip
    installed.chmod(0o755)
    cmd = Runtime(installed, rt.root)
    caller = Caller(rt, bundle, "finst", tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(pycontainers.__file__).parent.parent)}
    try:
        answered = run(cmd, "state", "finst")
        assert answered.by_c and json.loads(answered.out)["status"] == "created"
        handed = subprocess.run([*cmd.argv("state", "nope")], capture_output=True, text=True,
                                env={**env, "PYCONTAINERS_LAUNCH_DEBUG": "1"})  # fmt: skip
        assert handed.returncode == 1 and "container nope does not exist" in handed.stderr
        assert "pycontainers-runtime-front: python (oci.json)" in handed.stderr
        assert "pycontainers-launch: fast=" in handed.stderr  # the installed Python part ran
        installed.write_text(script_text("pycontainers-runtime", target, sys.executable, [missing]))
        python = run_plain(cmd, "state", "finst", env=env)
        assert python.returncode == 0 and python.stdout == answered.out
        assert "pycontainers-runtime-front" not in python.stderr
    finally:
        caller.close()
        rt("delete", "--force", "finst", check=False)


def run_plain(rt: Runtime, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(rt.argv(*args), capture_output=True, text=True, timeout=60,
                          env={**env, "PYCONTAINERS_LAUNCH_DEBUG": "1"})  # fmt: skip


@pytest.mark.parametrize("header", [True, False], ids=["jansson", "no-jansson"])
def test_the_build_compiles_the_front_end_or_warns(
    tmp_path: Path,
    header: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``setup.py``'s compile step (``_native/build_front.py``): with Jansson's header a
    working binary; without (a compiler that finds no headers) a warning and no binary."""
    import importlib.util

    repo = Path(pycontainers.__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location(
        "build_front", repo / "_native" / "build_front.py"
    )
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    monkeypatch.setenv("CC", "cc" if header else "cc --sysroot=/nonexistent")
    built = tmp_path / "_bin" / FRONT
    assert builder.build(built) is header
    assert built.exists() == header
    if header:
        said = subprocess.run([str(built), "--fallback", "2", "/bin/echo", "handed", "list"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert said.stdout == "handed list\n"
    else:
        assert "jansson.h not found" in capsys.readouterr().err
