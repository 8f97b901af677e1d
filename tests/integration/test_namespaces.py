"""Namespaces on a real kernel: identity, create/persist/remove, enter, run_in, comparison."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycontainers import _sys
from pycontainers.errors import NamespaceError, PyContainersError
from pycontainers.namespaces import Namespace, NamespaceComparison, NamespaceKind, NamespaceSet

pytestmark = pytest.mark.root

SUPPORTED = sorted(NamespaceKind.supported())


# -- helpers run inside namespaces by run_in (module level: importable by reference) -----


def ns_inode(kind: str) -> int:
    return os.stat(f"/proc/self/ns/{kind}").st_ino


def interface_names() -> list[str]:
    return [name for _, name in socket.if_nameindex()]


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def exit_hard(code: int) -> None:
    sys.stderr.write("about to exit hard\n")
    sys.stderr.flush()
    os._exit(code)


def add(a: int, b: int, *, c: int = 0) -> int:
    return a + b + c


# -- fixtures ------------------------------------------------------------------------------


def mountinfo_targets() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def is_nsfs_file(path: Path) -> bool:
    try:
        return path.stat().st_dev == os.stat("/proc/self/ns/net").st_dev
    except FileNotFoundError:
        return False


@pytest.fixture
def ns_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory for persisted namespaces, made a private mount (so mnt namespaces can be
    persisted there even where /tmp is a shared mount). Anything left is unmounted at the end."""
    d = tmp_path / "ns"
    d.mkdir()
    _sys.mount(str(d), str(d), None, _sys.MS_BIND)
    _sys.mount(None, str(d), None, _sys.MS_PRIVATE)
    try:
        yield d
    finally:
        for entry in d.iterdir():
            while is_nsfs_file(entry):
                _sys.umount2(str(entry), _sys.MNT_DETACH)
            entry.unlink()
        _sys.umount2(str(d), _sys.MNT_DETACH)
        assert not [t for t in mountinfo_targets() if t.startswith(str(tmp_path))]


class Holders:
    """Children held by the C shim in new namespaces; all killed and reaped at teardown."""

    def __init__(self) -> None:
        self.pidfds: dict[int, int] = {}

    def start(self, flags: int) -> int:
        pid, pidfd = _sys.spawn_hold(flags)
        self.pidfds[pid] = pidfd
        return pid

    def stop(self, pid: int) -> None:
        pidfd = self.pidfds.pop(pid)
        try:
            _sys.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        os.close(pidfd)

    def stop_all(self) -> None:
        for pid in list(self.pidfds):
            self.stop(pid)


@pytest.fixture
def holders() -> Iterator[Holders]:
    h = Holders()
    try:
        yield h
    finally:
        h.stop_all()


# -- identity ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SUPPORTED)
def test_of_pid_and_current_are_equal_and_hash_equal(kind: NamespaceKind) -> None:
    a = Namespace.of_pid(os.getpid(), kind)
    b = Namespace.current(kind.value)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a.kind is kind
    assert a.inode == os.stat(f"/proc/self/ns/{kind.value}").st_ino
    assert a.pid == os.getpid()


def test_identity_differs_for_a_fresh_namespace(no_leaks: object, ns_dir: Path) -> None:
    ns = Namespace.create("net", ns_dir / "net")
    try:
        assert ns != Namespace.current("net")
        assert ns == Namespace.open(ns_dir / "net")
        assert ns not in {Namespace.current("net")}
        assert ns != Namespace.current("uts")  # other kind
    finally:
        ns.remove()


def test_of_pid_of_missing_process() -> None:
    with pytest.raises(NamespaceError, match="no process with pid"):
        Namespace.of_pid(2**22 + 12345, "net")
    with pytest.raises(NamespaceError, match="no process with pid"):
        NamespaceSet.of_pid(2**22 + 12345)


def test_unknown_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        Namespace.current("bogus")
    with pytest.raises(ValueError):
        Namespace.current("pid_for_children")


def test_handle_of_an_exited_process_stays_comparable_but_cannot_be_entered(
    no_leaks: object, holders: Holders
) -> None:
    pid = holders.start(_sys.CLONE_NEWNET)
    ns = Namespace.of_pid(pid, "net")
    twin = Namespace.of_pid(pid, "net")
    holders.stop(pid)
    assert ns == twin
    with pytest.raises(NamespaceError, match=r"no longer reachable|another namespace"):
        ns.open_fd()
    with pytest.raises(NamespaceError):
        ns.enter().__enter__()


# -- create / open / persist / remove ------------------------------------------------------


def _assert_removed(path: Path) -> None:
    assert not path.exists()
    assert str(path) not in mountinfo_targets()


def test_create_enter_remove_net(no_leaks: object, ns_dir: Path) -> None:
    path = ns_dir / "net"
    host = Namespace.current("net")
    ns = Namespace.create(NamespaceKind.NET, path)
    assert ns.kind is NamespaceKind.NET
    assert ns.persisted_path == str(path)
    assert str(path) in mountinfo_targets()
    assert path.stat().st_ino == ns.inode
    with ns.enter() as entered:
        assert entered is ns
        assert Namespace.current("net") == ns
        assert NamespaceSet.current()["net"] == ns
        assert interface_names() == ["lo"]
    assert Namespace.current("net") == host
    ns.remove()
    _assert_removed(path)
    assert ns.persisted_path is None


def test_create_enter_remove_uts(no_leaks: object, ns_dir: Path) -> None:
    path = ns_dir / "uts"
    host_name = socket.gethostname()
    ns = Namespace.create("uts", path)
    try:
        with ns.enter():
            socket.sethostname("pycontainers-test")
            assert socket.gethostname() == "pycontainers-test"
        assert socket.gethostname() == host_name
        # the name stays in the persisted namespace: enter again, and see it from a child
        with ns.enter():
            assert socket.gethostname() == "pycontainers-test"
        assert ns.run_in(socket.gethostname) == "pycontainers-test"
        assert socket.gethostname() == host_name
    finally:
        ns.remove()
    _assert_removed(path)


@pytest.mark.parametrize(
    "kind",
    [
        "ipc",
        "cgroup",
        "mnt",
        pytest.param("user", marks=pytest.mark.userns),
        "time",
    ],
)
def test_create_open_remove(no_leaks: object, ns_dir: Path, kind: str) -> None:
    if kind not in NamespaceKind.supported():
        pytest.skip(f"this kernel has no {kind} namespaces")
    path = ns_dir / kind
    ns = Namespace.create(kind, str(path))
    try:
        assert ns != Namespace.current(kind)
        assert Namespace.current(kind) == Namespace.of_pid(os.getpid(), kind)  # thread is back
        assert is_nsfs_file(path)
        opened = Namespace.open(path)
        assert opened == ns
        assert opened.kind == kind
        assert ns.run_in(ns_inode, kind) == ns.inode
    finally:
        ns.remove()
    _assert_removed(path)


def test_create_pid_is_refused_with_a_reason(ns_dir: Path) -> None:
    with pytest.raises(NamespaceError, match="init"):
        Namespace.create("pid", ns_dir / "pid")
    assert not (ns_dir / "pid").exists()


def test_create_on_an_existing_file_keeps_the_file(no_leaks: object, ns_dir: Path) -> None:
    path = ns_dir / "mine"
    path.write_text("")
    ns = Namespace.create("uts", path)
    ns.remove()
    assert path.exists()
    assert not is_nsfs_file(path)
    ns = Namespace.create("uts", path)
    ns.remove(unlink=True)
    _assert_removed(path)


def test_create_twice_on_one_path_fails(no_leaks: object, ns_dir: Path) -> None:
    ns = Namespace.create("net", ns_dir / "net")
    try:
        with pytest.raises(NamespaceError, match="already mounted"):
            Namespace.create("net", ns_dir / "net")
    finally:
        ns.remove()


def test_create_on_a_directory_or_missing_parent_fails(ns_dir: Path) -> None:
    with pytest.raises(NamespaceError, match="not a regular file"):
        Namespace.create("net", ns_dir)
    with pytest.raises(NamespaceError, match="cannot create"):
        Namespace.create("net", ns_dir / "missing" / "net")


def test_open_refuses_a_plain_file(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("not a namespace")
    with pytest.raises(NamespaceError, match="not a namespace file"):
        Namespace.open(plain)
    with pytest.raises(NamespaceError, match="cannot open"):
        Namespace.open(tmp_path / "absent")


def test_open_of_a_proc_file_is_not_persisted(no_leaks: object) -> None:
    ns = Namespace.open(f"/proc/{os.getpid()}/ns/uts")
    assert ns == Namespace.current("uts")
    assert ns.kind is NamespaceKind.UTS
    assert ns.persisted_path is None


def test_remove_of_a_handle_that_is_not_persisted_fails() -> None:
    with pytest.raises(NamespaceError, match="not persisted"):
        Namespace.current("net").remove()


def test_remove_through_an_opened_handle(no_leaks: object, ns_dir: Path) -> None:
    path = ns_dir / "ipc"
    Namespace.create("ipc", path)
    Namespace.open(path).remove(unlink=True)
    _assert_removed(path)


def test_persist_keeps_a_namespace_after_its_process_exits(
    no_leaks: object, ns_dir: Path, holders: Holders
) -> None:
    pid = holders.start(_sys.CLONE_NEWNET | _sys.CLONE_NEWUTS)
    ns = Namespace.of_pid(pid, "net")
    kept = ns.persist(ns_dir / "kept")
    assert kept == ns
    holders.stop(pid)
    try:
        assert Namespace.open(ns_dir / "kept") == ns
        with kept.enter():
            assert Namespace.current("net") == ns
        assert kept.run_in(interface_names) == ["lo"]
    finally:
        kept.remove()
    _assert_removed(ns_dir / "kept")


def test_mnt_namespace_on_a_shared_mount_gives_a_clear_error(
    no_leaks: object, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    _sys.mount("tmpfs", str(shared), "tmpfs")
    try:
        _sys.mount(None, str(shared), None, _sys.MS_SHARED)
        with pytest.raises(NamespaceError, match="private mount"):
            Namespace.create("mnt", shared / "mnt")
        assert not (shared / "mnt").exists()
    finally:
        _sys.umount2(str(shared), _sys.MNT_DETACH)


# -- enter -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["user", "pid", "time"])
def test_enter_refuses_kinds_a_thread_cannot_enter(kind: str) -> None:
    if kind not in NamespaceKind.supported():
        pytest.skip(f"this kernel has no {kind} namespaces")
    with pytest.raises(NamespaceError, match="run_in") as info, Namespace.current(kind).enter():
        pass
    assert kind in str(info.value)


def test_enter_mnt_in_a_threaded_process_is_refused(no_leaks: object, ns_dir: Path) -> None:
    ns = Namespace.create("mnt", ns_dir / "mnt")
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        with pytest.raises(NamespaceError, match=r"threads.*run_in"), ns.enter():
            pass
        assert Namespace.current("mnt") != ns
    finally:
        release.set()
        worker.join()
        ns.remove()


def test_enter_mnt_in_a_single_threaded_process(tmp_path: Path) -> None:
    """In a fresh (single-threaded) interpreter: a mount made inside stays inside, and the
    thread comes back with its working directory."""
    script = textwrap.dedent(
        f"""
        import os, threading
        from pycontainers import _sys
        from pycontainers.namespaces import Namespace
        base = {str(tmp_path)!r}
        os.mkdir(base + "/ns"); os.mkdir(base + "/seen"); os.chdir(base)
        _sys.mount(base + "/ns", base + "/ns", None, _sys.MS_BIND)
        _sys.mount(None, base + "/ns", None, _sys.MS_PRIVATE)
        assert threading.active_count() == 1
        ns = Namespace.create("mnt", base + "/ns/mnt")
        try:
            with ns.enter():
                assert Namespace.current("mnt") == ns
                _sys.mount("tmpfs", base + "/seen", "tmpfs")
                open(base + "/seen/inside", "w").close()
            assert Namespace.current("mnt") != ns
            assert os.getcwd() == base
            assert os.listdir(base + "/seen") == []
            assert ns.run_in(os.listdir, base + "/seen") == ["inside"]
        finally:
            ns.remove()
            _sys.umount2(base + "/ns", _sys.MNT_DETACH)
        print("OK")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("OK")


def test_enter_goes_back_when_the_block_raises(no_leaks: object, ns_dir: Path) -> None:
    ns = Namespace.create("net", ns_dir / "net")
    host = Namespace.current("net")
    try:
        with pytest.raises(RuntimeError), ns.enter():
            raise RuntimeError("inside")
        assert Namespace.current("net") == host
    finally:
        ns.remove()


def test_enter_moves_only_the_calling_thread(no_leaks: object, ns_dir: Path) -> None:
    ns = Namespace.create("uts", ns_dir / "uts")
    go, done = threading.Event(), threading.Event()
    seen: list[Namespace] = []

    def look() -> None:
        go.wait()
        seen.append(Namespace.current("uts"))
        done.set()

    worker = threading.Thread(target=look)  # started before enter(): stays where it is
    worker.start()
    try:
        with ns.enter():
            go.set()
            done.wait()
            # a thread started inside the block inherits the entered namespace
            worker_inside = threading.Thread(target=lambda: seen.append(Namespace.current("uts")))
            worker_inside.start()
            worker_inside.join()
        worker.join()
        assert seen == [Namespace.of_pid(os.getpid(), "uts"), ns]
        assert seen[0] != ns
    finally:
        go.set()
        worker.join()
        ns.remove()


# -- NamespaceSet and comparison -------------------------------------------------------------


def test_namespace_set_of_pid_and_current(no_leaks: object) -> None:
    here = NamespaceSet.current()
    assert set(here) == NamespaceKind.supported()
    assert here == NamespaceSet.of_pid(os.getpid())
    assert here["net"] == Namespace.current("net")
    assert here[NamespaceKind.UTS] == Namespace.current("uts")
    assert here.compare(NamespaceSet.of_pid(os.getpid())).all_shared


def test_comparison_with_a_process_in_new_net_and_uts(no_leaks: object, holders: Holders) -> None:
    pid = holders.start(_sys.CLONE_NEWNET | _sys.CLONE_NEWUTS)
    theirs = NamespaceSet.of_pid(pid)
    ours = NamespaceSet.current()
    result = theirs.compare(ours)
    assert isinstance(result, NamespaceComparison)
    assert result.unshared_kinds == {NamespaceKind.NET, NamespaceKind.UTS}
    assert result.shared_kinds == NamespaceKind.supported() - {"net", "uts"}
    assert result["net"] is False
    assert result.shared[NamespaceKind.IPC] is True
    assert not result.all_shared
    assert theirs.shared_with(ours) == result.shared_kinds
    assert ours.compare(theirs).unshared_kinds == result.unshared_kinds
    with pytest.raises(TypeError):
        result.shared[NamespaceKind.NET] = True  # type: ignore[index]


@pytest.mark.userns
def test_run_in_a_namespace_set_with_pid_user_and_mnt(no_leaks: object, holders: Holders) -> None:
    flags = (
        _sys.CLONE_NEWUSER
        | _sys.CLONE_NEWPID
        | _sys.CLONE_NEWNS
        | _sys.CLONE_NEWNET
        | _sys.CLONE_NEWUTS
        | _sys.CLONE_NEWIPC
    )
    pid = holders.start(flags)
    theirs = NamespaceSet.of_pid(pid)
    inodes = {kind: theirs.run_in(ns_inode, kind.value) for kind in theirs}
    assert inodes == {kind: ns.inode for kind, ns in theirs.items()}
    assert theirs.run_in(interface_names) == ["lo"]
    assert theirs.run_in(os.getpid) not in (1, os.getpid())  # a process inside, not its init


# -- run_in ----------------------------------------------------------------------------------


def test_run_in_returns_values_computed_inside(no_leaks: object, ns_dir: Path) -> None:
    net = Namespace.create("net", ns_dir / "net")
    try:
        assert net.run_in(interface_names) == ["lo"]
        assert net.run_in(add, 1, 2, c=3) == 6
        assert net.run_in(lambda x: [x, interface_names()], "closure") == ["closure", ["lo"]]
    finally:
        net.remove()


def test_run_in_without_cloudpickle_needs_importable_functions() -> None:
    script = textwrap.dedent(
        """
        import os, sys
        sys.modules["cloudpickle"] = None  # as if it were not installed
        from pycontainers.errors import NamespaceError
        from pycontainers.namespaces import Namespace
        ns = Namespace.current("uts")
        assert ns.run_in(os.getpid) != os.getpid()
        try:
            ns.run_in(lambda: 1)
        except NamespaceError as exc:
            assert "importable by name" in str(exc), exc
        else:
            raise AssertionError("a lambda went through plain pickle")
        print("OK")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("OK")


def test_run_in_moves_large_arguments_and_results(no_leaks: object) -> None:
    big = os.urandom(3 * 1024 * 1024)
    assert Namespace.current("net").run_in(bytes.__add__, big, big) == big + big


def test_run_in_the_current_namespace_works_too(no_leaks: object) -> None:
    assert Namespace.current("user").run_in(ns_inode, "user") == Namespace.current("user").inode


def test_run_in_propagates_errors_with_the_child_traceback(no_leaks: object, ns_dir: Path) -> None:
    ns = Namespace.create("uts", ns_dir / "uts")
    try:
        with pytest.raises(NamespaceError) as info:
            ns.run_in(raise_value_error, "boom inside")
    finally:
        ns.remove()
    message = str(info.value)
    assert "raise_value_error" in message
    assert "ValueError('boom inside')" in message
    assert "Traceback" in message
    assert isinstance(info.value, PyContainersError)
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "boom inside"


def test_run_in_reports_a_child_that_died_without_an_answer(
    no_leaks: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(NamespaceError, match=r"exit status 7(.|\n)*about to exit hard"):
        Namespace.current("net").run_in(exit_hard, 7)


def test_run_in_replays_the_output_of_the_function(
    no_leaks: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Namespace.current("net").run_in(print, "hello from the child") is None
    assert "hello from the child" in capsys.readouterr().out


# -- display ---------------------------------------------------------------------------------


def test_repr_and_html_show_kinds_and_inodes(no_leaks: object, holders: Holders) -> None:
    pid = holders.start(_sys.CLONE_NEWNET)
    ns = Namespace.of_pid(pid, "net")
    assert repr(ns) == f"<Namespace net:[{ns.inode}] pid={pid}>"
    assert str(ns.inode) in ns._repr_html_() and "net" in ns._repr_html_()
    theirs = NamespaceSet.of_pid(pid)
    text, html = repr(theirs), theirs._repr_html_()
    for kind, member in theirs.items():
        assert f"{kind.value}:[{member.inode}]" in text
        assert f"<td>{kind.value}</td><td>{member.inode}</td>" in html
    comparison = theirs.compare(NamespaceSet.current())
    assert "unshared=net" in repr(comparison)
    table = comparison._repr_html_()
    assert f"<td>net</td><td>{ns.inode}</td><td>{Namespace.current('net').inode}</td>" in table
    assert table.startswith("<table>") and table.endswith("</table>")
