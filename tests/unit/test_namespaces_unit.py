"""Namespaces without root: kinds, identity of our own namespaces, sets, display, protocol."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest

from pycontainers import _sys
from pycontainers.errors import NamespaceError
from pycontainers.namespaces import (
    Namespace,
    NamespaceComparison,
    NamespaceKind,
    NamespaceSet,
    _enter,
    _html,
    _run,
    _runner,
)

# -- kinds -----------------------------------------------------------------------------------


def test_kinds_carry_their_clone_flag_and_proc_name() -> None:
    assert NamespaceKind.NET.flag == _sys.CLONE_NEWNET
    assert NamespaceKind.MNT.flag == _sys.CLONE_NEWNS
    assert NamespaceKind.TIME.flag == _sys.CLONE_NEWTIME
    assert NamespaceKind.MNT.proc_name == "mnt"
    assert {k.value for k in NamespaceKind} == {
        "cgroup",
        "ipc",
        "mnt",
        "net",
        "pid",
        "time",
        "user",
        "uts",
    }
    assert len({k.flag for k in NamespaceKind}) == len(NamespaceKind)
    for kind in NamespaceKind:
        assert NamespaceKind.from_flag(kind.flag) is kind


def test_kinds_are_strings() -> None:
    assert isinstance(NamespaceKind.NET, str)
    assert f"{NamespaceKind.NET}" == "net"
    assert str(NamespaceKind.UTS) == "uts"
    assert {"net": 1}[NamespaceKind.NET] == 1
    assert NamespaceKind.parse("ipc") is NamespaceKind.IPC
    assert NamespaceKind.parse(NamespaceKind.IPC) is NamespaceKind.IPC
    with pytest.raises(ValueError, match="expected one of cgroup, ipc"):
        NamespaceKind.parse("time_for_children")
    with pytest.raises(ValueError):
        NamespaceKind.from_flag(1)


def test_thread_enterable_kinds() -> None:
    assert {k for k in NamespaceKind if k.thread_enterable} == {"net", "uts", "ipc", "cgroup"}


def test_supported_kinds_match_proc() -> None:
    assert {k.value for k in NamespaceKind.supported()} == (
        set(os.listdir("/proc/self/ns")) - {"pid_for_children", "time_for_children"}
    )


@pytest.mark.parametrize("kind", ["user", "pid", "time"])
def test_refused_kinds_point_to_run_in(kind: str) -> None:
    why = _enter.refusal(NamespaceKind(kind))
    assert why is not None and "run_in()" in why and kind in why


def test_net_is_never_refused() -> None:
    assert _enter.refusal(NamespaceKind.NET) is None


# -- identity of our own namespaces (no privilege needed) ------------------------------------


def test_own_namespaces_compare_equal() -> None:
    for kind in NamespaceKind.supported():
        assert Namespace.of_pid(os.getpid(), kind) == Namespace.current(kind)
    assert NamespaceSet.of_pid(os.getpid()) == NamespaceSet.current()
    assert hash(NamespaceSet.of_pid(os.getpid())) == hash(NamespaceSet.current())


def test_namespace_is_not_equal_to_other_types() -> None:
    assert Namespace.current("net") != "net"
    assert NamespaceSet.current() != {}


# -- sets, comparisons and display, with made-up namespaces ----------------------------------


def fake(kind: str, inode: int, pid: int | None = None) -> Namespace:
    return Namespace(NamespaceKind(kind), 4, inode, path=None, pid=pid)


def test_set_is_an_ordered_read_only_mapping() -> None:
    s = NamespaceSet([fake("uts", 3), fake("net", 2), fake("cgroup", 1)], pid=7)
    assert list(s) == ["cgroup", "net", "uts"]
    assert s["net"].inode == 2
    assert "uts" in s and "pid" not in s
    assert len(s) == 3
    assert s.pid == 7
    assert s.get("pid") is None
    assert s.get("net") is s["net"]
    assert s.get("bogus", 5) == 5
    with pytest.raises(KeyError):
        s["ipc"]
    with pytest.raises(KeyError):
        s["bogus"]
    with pytest.raises(ValueError, match="two net namespaces"):
        NamespaceSet([fake("net", 1), fake("net", 2)])


def test_comparison_maps_kinds_both_sides_hold() -> None:
    a = NamespaceSet([fake("net", 10), fake("uts", 11), fake("ipc", 12)], pid=1)
    b = NamespaceSet([fake("net", 20), fake("uts", 11), fake("pid", 13)], pid=2)
    c = a.compare(b)
    assert isinstance(c, NamespaceComparison)
    assert dict(c.shared) == {NamespaceKind.NET: False, NamespaceKind.UTS: True}
    assert c["uts"] is True
    assert c.shared_kinds == {NamespaceKind.UTS}
    assert c.unshared_kinds == {NamespaceKind.NET}
    assert a.shared_with(b) == {NamespaceKind.UTS}
    assert c == a.compare(b)
    assert hash(c) == hash(a.compare(b))
    assert repr(c) == "<NamespaceComparison shared=uts unshared=net>"
    html = c._repr_html_()
    assert "<th>pid 1</th><th>pid 2</th>" in html
    assert "<td>net</td><td>10</td><td>20</td><td>no</td>" in html
    assert "<td>uts</td><td>11</td><td>11</td><td>yes</td>" in html


def test_reprs() -> None:
    ns = fake("net", 4026531840, pid=42)
    assert repr(ns) == "<Namespace net:[4026531840] pid=42>"
    assert str(ns) == "net:[4026531840]"
    assert "<td>4026531840</td>" in ns._repr_html_()
    s = NamespaceSet([ns, fake("ipc", 5)], pid=42)
    assert repr(s) == "<NamespaceSet pid=42 ipc:[5] net:[4026531840]>"
    assert "<caption>Namespaces of pid 42</caption>" in s._repr_html_()


def test_html_is_escaped() -> None:
    assert _html.table(["<a>"], [["<b>&"]]) == (
        "<table><tr><th>&lt;a&gt;</th></tr><tr><td>&lt;b&gt;&amp;</td></tr></table>"
    )


def test_a_removed_handle_cannot_be_opened() -> None:
    with pytest.raises(NamespaceError, match="removed"):
        fake("net", 1).open_fd()


# -- the run_in protocol ---------------------------------------------------------------------


def test_envelope_carries_sys_path_and_the_call() -> None:
    envelope = pickle.loads(_run.encode_call(divmod, (7, 2), {}))
    assert envelope["version"] == _run.PROTOCOL_VERSION
    assert all(os.path.isabs(p) for p in envelope["sys_path"])
    fn, args, kwargs = pickle.loads(envelope["call"])
    assert fn(*args, **kwargs) == (3, 1)


def test_child_env_makes_the_package_importable() -> None:
    import pycontainers

    root = os.path.dirname(os.path.dirname(pycontainers.__file__))
    assert root in _run.child_env()["PYTHONPATH"].split(os.pathsep)


def test_error_answers_become_namespace_errors() -> None:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        answer = _runner._error_answer(exc)
    with pytest.raises(NamespaceError, match=r"KeyError\('missing'\)") as info:
        _run._decode(pickle.dumps(answer), b"", "exit status 0", divmod, "somewhere")
    assert "Traceback in the child" in str(info.value)
    assert isinstance(info.value.__cause__, KeyError)


def test_no_answer_names_the_status_and_stderr() -> None:
    with pytest.raises(NamespaceError, match=r"signal 9(.|\n)*oom"):
        _run._decode(b"", b"killed: oom\n", "signal 9", divmod, "somewhere")


def test_runner_refuses_to_run_by_hand() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pycontainers.namespaces._runner"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "run_in" in done.stderr
