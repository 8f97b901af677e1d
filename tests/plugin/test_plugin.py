"""The pytest plugin exercised through pytester: inner pytest runs (subprocesses, with the
plugin loaded) use ``sandbox`` and ``container_factory``; the outer tests check outcomes,
reports, and that no container outlives a failed, interrupted or distributed run."""

from __future__ import annotations

import glob
import importlib.metadata
import json
import os
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

PLUGIN = "pycontainers.testing.plugin"


def plugin_args() -> list[str]:
    """``-p`` for the plugin unless an installed entry point already loads it."""
    eps = importlib.metadata.entry_points(group="pytest11")
    if any(ep.value == PLUGIN for ep in eps):
        return []
    return ["-p", PLUGIN]


class Roots:
    """Private state and data roots for one inner pytest run (set in the environment)."""

    def __init__(self, base: Path) -> None:
        self.state = base / "state"
        self.data = base / "data"
        self.state.mkdir()
        self.data.mkdir()

    def containers(self) -> list[str]:
        """Container ids left under the state root."""
        return sorted(n for n in os.listdir(self.state) if len(n) == 64)


@pytest.fixture
def roots(monkeypatch: pytest.MonkeyPatch) -> Iterator[Roots]:
    # a short path: the state root holds unix sockets
    with tempfile.TemporaryDirectory(prefix="pct-") as base:
        r = Roots(Path(base))
        monkeypatch.setenv("PYCONTAINERS_STATE", str(r.state))
        monkeypatch.setenv("PYCONTAINERS_ROOT", str(r.data))
        yield r


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def gone(seen: list[dict[str, object]]) -> None:
    """Every recorded container is gone: its process, its cgroups."""
    assert not [c for c in seen if pid_alive(int(str(c["pid"])))]
    groups = [g for c in seen for g in glob.glob(f"/sys/fs/cgroup/*/pycontainers/{c['id']}")]
    assert not groups, f"cgroups left behind: {groups}"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        *plugin_args(), "-p", "no:cacheprovider", *args, timeout=240
    )


def started(path: Path) -> list[dict[str, object]]:
    """The containers inner tests recorded (one json line each)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


RECORD = """
    import json, os
    def record(c):
        with open(os.environ["STARTED"], "a") as f:
            f.write(json.dumps({"id": c.id, "pid": c.pid, "status": c.status,
                                "worker": os.environ.get("PYTEST_XDIST_WORKER", "")}) + "\\n")
"""


def test_sandbox_passing_and_failing_tests(pytester: pytest.Pytester, roots: Roots) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            def test_command(sandbox):
                r = sandbox.run("echo PASSING-OUTPUT")
                assert (r.returncode, r.text) == (0, "PASSING-OUTPUT\\n")

            def test_callable(sandbox):
                assert sandbox.run(lambda a, b: a * b, 6, 7) == 42

            def test_exception_from_inside(sandbox):
                def boom():
                    raise LookupError("inner")
                with pytest.raises(LookupError) as info:
                    sandbox.run(boom)
                assert "Traceback inside the sandbox" in str(info.value.__cause__)

            def test_failing_command(sandbox):
                r = sandbox.run("echo CMD-STDOUT-MARK; echo CMD-STDERR-MARK >&2; exit 3")
                assert r.returncode == 0

            def test_failing_callable(sandbox):
                def noisy():
                    print("CALLABLE-STDOUT-MARK")
                    raise ValueError("VALUE-ERROR-MARK")
                sandbox.run(noisy)
            """
        )
    )
    result = run(pytester)
    result.assert_outcomes(passed=3, failed=2)
    out = result.stdout.str()
    # the sandbox's output is in the failure reports, under sections naming the run
    result.stdout.fnmatch_lines(
        [
            "*sandbox 1 stdout: sandboxed command ['/bin/sh', '-c', 'echo CMD-STDOUT-MARK*(exit status 3)*",
            "CMD-STDOUT-MARK",
            "*sandbox 1 stderr: sandboxed command*",
            "CMD-STDERR-MARK",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*sandbox 1 stdout: sandboxed callable *noisy (raised ValueError)*",
            "CALLABLE-STDOUT-MARK",
        ]
    )
    assert "Traceback inside the sandbox" in out and "VALUE-ERROR-MARK" in out
    assert "PASSING-OUTPUT" not in out  # passing tests' sandboxes stay out of the report
    assert roots.containers() == []


def test_container_factory_cleans_up_after_failure(
    pytester: pytest.Pytester, roots: Roots, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = pytester.path / "started.jsonl"
    pytester.makepyfile(
        textwrap.dedent(RECORD)
        + textwrap.dedent(
            """
            def test_fails_with_two_running(container_factory):
                a = container_factory("host", "sleep 300")
                b = container_factory("host", ["sleep", "301"], name="second")
                record(a); record(b)
                assert a.status == b.status == "running"
                assert a.labels["pycontainers.test.node"].endswith("test_fails_with_two_running")
                assert False, "the test fails with its containers running"

            def test_passes(container_factory):
                c = container_factory("host", "echo hello; sleep 300")
                record(c)
                from pycontainers.testing import wait_for_log
                assert wait_for_log(c, "hel+o", timeout=10) == "hello"
            """
        )
    )
    monkeypatch.setenv("STARTED", str(log))
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    seen = started(log)
    assert len(seen) == 3 and all(c["status"] == "running" for c in seen)
    assert roots.containers() == []
    gone(seen)


def test_interrupted_test_leaves_no_container(
    pytester: pytest.Pytester, roots: Roots, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = pytester.path / "started.jsonl"
    pytester.makepyfile(
        textwrap.dedent(RECORD)
        + textwrap.dedent(
            """
            def test_interrupted(container_factory):
                record(container_factory("host", "sleep 300"))
                raise KeyboardInterrupt

            def test_never_runs():
                pass
            """
        )
    )
    monkeypatch.setenv("STARTED", str(log))
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    (c,) = started(log)
    assert c["status"] == "running"
    assert roots.containers() == []
    gone([c])


def test_xdist_two_workers(
    pytester: pytest.Pytester, roots: Roots, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    log = pytester.path / "started.jsonl"
    pytester.makepyfile(
        textwrap.dedent(RECORD)
        + textwrap.dedent(
            """
            import pytest

            @pytest.mark.parametrize("n", range(6))
            def test_both(container_factory, sandbox, n):
                c = container_factory("host", f"echo worker-{n}; sleep 300")
                record(c)
                assert sandbox.run(lambda: n * 2) == n * 2
                assert n != 3, "one distributed test fails"
            """
        )
    )
    monkeypatch.setenv("STARTED", str(log))
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=5, failed=1)
    seen = started(log)
    assert len(seen) == 6
    assert {c["worker"] for c in seen} == {"gw0", "gw1"}
    assert roots.containers() == []
    gone(seen)


def test_engine_uses_private_roots(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without PYCONTAINERS_STATE/ROOT the session makes temporary roots of its own, and
    tests that do not use the plugin see no change at all."""
    monkeypatch.delenv("PYCONTAINERS_STATE")
    monkeypatch.delenv("PYCONTAINERS_ROOT")
    out = pytester.path / "roots.json"
    pytester.makepyfile(
        textwrap.dedent(
            f"""
            import json, os, sys

            def test_a_plain_test_first():
                assert "PYCONTAINERS_STATE" not in os.environ
                assert "pycontainers.runtime.container" not in sys.modules

            def test_engine(pycontainers_engine, container_factory):
                c = container_factory("host", "sleep 300")
                assert c.state_dir.startswith(pycontainers_engine.state_root + "/")
                with open({str(out)!r}, "w") as f:
                    json.dump({{"state": pycontainers_engine.state_root,
                               "data": pycontainers_engine.data_root,
                               "env": os.environ["PYCONTAINERS_STATE"]}}, f)
            """
        )
    )
    result = run(pytester)
    result.assert_outcomes(passed=2)
    roots = json.loads(out.read_text())
    assert roots["env"] == roots["state"]
    basetemp = str(pytester.path)
    assert roots["state"].startswith(basetemp) and roots["data"].startswith(basetemp)
    assert [n for n in os.listdir(roots["state"]) if len(n) == 64] == []


def test_markers_skip_with_a_reason(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pycontainers.testing.support as support
        support.unavailable_reason = lambda: "simulated: not root and no user namespaces"
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.pycontainers
        def test_marked():
            pass

        @pytest.mark.requires_containers
        def test_alias():
            pass

        def test_fixture(sandbox):
            pass

        def test_plain():
            pass
        """
    )
    result = run(pytester, "-rs", "--strict-markers")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(
        ["SKIPPED*cannot run containers here: simulated: not root and no user namespaces"]
    )


def test_entry_point_registers_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distribution's ``pytest11`` entry point is all it takes (here a stand-in
    dist-info on PYTHONPATH, as the installed package's would be)."""
    info = pytester.path / "site" / "pycontainers_probe-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pycontainers-probe\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[pytest11]\npycontainers = pycontainers.testing.plugin\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(info.parent), os.environ.get("PYTHONPATH", "")])
    )
    pytester.makepyfile(
        """
        def test_fixture(request):
            assert "sandbox" in request.fixturenames or request.getfixturevalue("sandbox")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--markers", timeout=120)
    result.stdout.fnmatch_lines(["@pytest.mark.requires_containers:*"])
