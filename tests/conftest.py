"""Shared fixtures: a busybox rootfs built from the host's busybox-static, a private state
root, and a session-end check that nothing leaked (mounts, child processes, fds)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest_plugins = ["registry_fixtures", "pytester"]

BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def _is_root() -> bool:
    return os.geteuid() == 0


def pytest_configure(config: pytest.Config) -> None:
    """As root, the whole session runs in a network namespace of its own (only ``lo``, up):
    bridges, veths and nftables rules the tests make never touch the machine's network.
    Done before any thread exists, so every thread and child process inherits it.
    """
    if not _is_root() or os.environ.get("PYCONTAINERS_TEST_HOST_NETNS") == "1":
        return
    from pycontainers import _sys

    _sys.unshare(_sys.CLONE_NEWNET)
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _is_root():
        return
    skip = pytest.mark.skip(reason="needs root: real namespaces and mounts")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def make_busybox_rootfs(path: Path) -> Path:
    """A minimal rootfs: static busybox with every applet linked, and the usual dirs."""
    if not os.path.exists(BUSYBOX):
        pytest.fail("busybox-static is required (apt-get install busybox-static)")
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)  # tmp_path dirs are 0700: a non-root payload could not traverse /
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc", "root"):
        (path / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    for name in applets.stdout.split():
        if name != "busybox" and not (path / "bin" / name).exists():
            (path / "bin" / name).symlink_to("busybox")
    (path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/:/bin/false\n"
    )
    (path / "etc" / "group").write_text(
        "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\nnogroup:x:65534:\n"
    )
    return path


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared, read-mostly busybox rootfs (tests must not modify it)."""
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox"))


@pytest.fixture
def rootfs_factory() -> Callable[[Path], Path]:
    """make_busybox_rootfs, for tests that need a rootfs in a place of their choosing."""
    return make_busybox_rootfs


@pytest.fixture
def fresh_rootfs(tmp_path: Path) -> Path:
    """A busybox rootfs of this test's own, free to modify."""
    return make_busybox_rootfs(tmp_path / "rootfs")


@pytest.fixture(autouse=True, scope="session")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test uses private state and data roots, never /run or /var/lib/pycontainers."""
    root = tmp_path_factory.mktemp("state")
    data = tmp_path_factory.mktemp("data")
    old = {k: os.environ.get(k) for k in ("PYCONTAINERS_STATE", "PYCONTAINERS_ROOT")}
    os.environ["PYCONTAINERS_STATE"] = str(root)
    os.environ["PYCONTAINERS_ROOT"] = str(data)  # image data, shifted rootfs copies
    yield root
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def mount_lines() -> list[str]:
    """This process's mount table, without mount ids (they churn)."""
    with open("/proc/self/mountinfo") as f:
        return sorted(" ".join(line.split()[2:]) for line in f)


def open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def child_pids() -> set[int]:
    """Processes whose parent is this process (zombies included)."""
    me = str(os.getpid())
    out = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        if fields[1].decode() == me:
            out.add(int(pid))
    return out


class Leaks:
    """Snapshot of mounts, fds and children; ``check()`` fails on anything new."""

    def __init__(self) -> None:
        self.mounts = mount_lines()
        self.fds = open_fds()
        self.children = child_pids()

    def check(self) -> None:
        new_mounts = set(mount_lines()) - set(self.mounts)
        assert not new_mounts, f"leaked mounts: {new_mounts}"
        new_fds = open_fds() - self.fds
        # the listdir of /proc/self/fd itself is closed again by the time we compare
        assert not new_fds, f"leaked fds: {[(fd, _fd_target(fd)) for fd in new_fds]}"
        new_children = child_pids() - self.children
        assert not new_children, f"leaked child processes (or zombies): {new_children}"


def _fd_target(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


@pytest.fixture
def no_leaks() -> Iterator[Leaks]:
    """Fail the test if it leaves a mount, fd or child process behind."""
    leaks = Leaks()
    yield leaks
    leaks.check()


def _host_links() -> list[str]:
    """The network links of this (the test session's) network namespace."""
    if not _is_root():
        return []
    from pycontainers.network import link_names

    return link_names()


def pycontainers_cgroups() -> set[str]:
    """Every directory named pycontainers (and below) in every cgroup hierarchy."""
    found: set[str] = set()
    base = "/sys/fs/cgroup"
    if not os.path.isdir(base):
        return found
    for hierarchy in os.listdir(base):
        top = os.path.join(base, hierarchy, "pycontainers")
        if os.path.isdir(top):
            found |= {root for root, _, _ in os.walk(top)}
    if os.path.isdir(os.path.join(base, "pycontainers")):  # a pure v2 host
        found |= {root for root, _, _ in os.walk(os.path.join(base, "pycontainers"))}
    return found


_SPECS: list[object] = []


@pytest.fixture(autouse=True, scope="session")
def spec_round_trips() -> Iterator[None]:
    """Every ContainerSpec the session builds must survive config.json and back unchanged
    (pycontainers.oci): recorded as they are made, checked at the end."""
    from pycontainers.spec import ContainerSpec

    original = ContainerSpec.__attrs_post_init__

    def recording(self: ContainerSpec) -> None:
        original(self)
        _SPECS.append(self)

    ContainerSpec.__attrs_post_init__ = recording  # type: ignore[method-assign]
    try:
        yield
    finally:
        ContainerSpec.__attrs_post_init__ = original  # type: ignore[method-assign]
    from pycontainers.oci import from_config, seal, to_config

    failed = []
    for spec in _SPECS:
        assert isinstance(spec, ContainerSpec)
        try:
            back = from_config(seal(to_config(spec)), require_digest=True).spec
        except Exception as exc:
            failed.append(f"{spec!r}: {exc}")
            continue
        if back != spec:
            failed.append(f"{spec!r} came back as {back!r}")
    assert not failed, f"{len(failed)} of {len(_SPECS)} specs do not round-trip: {failed[:3]}"


@pytest.fixture(autouse=True, scope="session")
def session_leak_check(state_root: Path) -> Iterator[None]:
    """At the end of the session: no mounts, children, cgroups or container state left."""
    import dockerfile  # type: ignore[import-not-found,unused-ignore]

    # the Dockerfile parser is Go: its runtime opens an epoll fd and a pipe on the first
    # parse, for the process's life; open them before the snapshot
    dockerfile.parse_string("FROM scratch\n")
    before = Leaks()
    groups = pycontainers_cgroups()
    links = _host_links()
    netns = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    yield
    if _is_root():
        from pycontainers.network.network import Network
        from pycontainers.network.nft import Netfilter

        for network in Network.list():  # raises NetworkInUse if a container kept an address
            network.remove()
        nft = Netfilter()
        assert not nft.owners(), f"published-port rules left behind: {nft.owners()}"
        nft.remove_all()
    before.check()
    from pycontainers.runtime import devpool

    devpool.drain()  # the idle device groups of this process's runs (atexit is too late)
    kept = (".mnt", "network", ".names.lock", "events.jsonl", "events.jsonl.1", "events.jsonl.lock")
    leftovers = [p for p in os.listdir(state_root) if p not in kept]
    assert not leftovers, f"container state left behind: {leftovers}"
    new_groups = pycontainers_cgroups() - groups
    assert not new_groups, f"cgroups left behind: {sorted(new_groups)[:5]}"
    assert _host_links() == links, "network links of this namespace changed"
    after_netns = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    assert after_netns <= netns, f"netns files left behind: {after_netns - netns}"
    layers = os.path.join(os.environ["PYCONTAINERS_ROOT"], "containers")
    left_layers = os.listdir(layers) if os.path.isdir(layers) else []
    assert not left_layers, f"container layers left behind: {left_layers}"
    endpoints = state_root / "network" / "endpoints"
    left = sorted(os.listdir(endpoints)) if endpoints.is_dir() else []
    assert not left, f"network endpoints left behind: {left}"
