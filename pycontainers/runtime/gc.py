"""``gc()``: remove what killed processes left behind; ``prune`` also stopped containers
(``pycontainers system prune``).

A process killed while it created a container leaves a state directory in ``creating``
(and maybe a cgroup with a child waiting in it, a writable layer, a network endpoint).
``gc`` removes those once their creator is gone; any empty ``pycontainers/<id>`` cgroup, the
device groups of foreground runs (``pycontainers/run-<pid>-<starttime>-<n>``, see
:mod:`pycontainers.runtime.devpool`) whose process is gone, with what is left in them, and
a busy one whose monitor serves a state directory that was deleted (a lost container: it
is killed); any container layer of no state directory and no live group; and the network garbage of
:func:`pycontainers.network.gc.collect` (which assumes one state root per network
namespace: nftables rules and port leases are told apart by container id only).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable

import attrs

from pycontainers import _log
from pycontainers.network.gc import NetworkGarbage, collect
from pycontainers.runtime import state as st

log = _log.get_logger("pycontainers.runtime")


@attrs.frozen
class Garbage:
    """What :func:`gc` removed."""

    containers: tuple[str, ...] = ()
    cgroups: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    network: NetworkGarbage = attrs.field(factory=NetworkGarbage)

    def __bool__(self) -> bool:
        return bool(self.containers or self.cgroups or self.layers or self.network)


def _orphaned(state_dir: str) -> bool:
    """A container whose creation was cut short: still ``creating`` and its creator gone."""
    try:
        s = st.read_state(state_dir)
    except Exception:  # corrupt or truncated: never usable again
        return True
    return s.status == "creating" and not st.proc_alive(s.creator, s.creator_start)


def remove_leftovers(
    container_id: str, state_root: str, cgroup_parent: str = "pycontainers"
) -> None:
    """Remove everything a container id may hold, whatever state it got to: processes in
    its cgroup, the cgroup, its network endpoint, its layer, its state directory.
    """
    from pycontainers.cgroups import CGroup, CgroupError
    from pycontainers.fs.shift import default_data_root
    from pycontainers.network.endpoint import disconnect
    from pycontainers.runtime.launch import drop_cgroup

    try:
        group = CGroup.open(f"{cgroup_parent}/{container_id}")
    except CgroupError:
        group = None
    if group is not None:
        drop_cgroup(group, cgroup_parent)
    with contextlib.suppress(FileNotFoundError):
        disconnect(container_id, state_root)
    layer = os.path.join(default_data_root(), "containers", container_id)
    shutil.rmtree(layer, ignore_errors=True)
    shutil.rmtree(os.path.join(state_root, container_id), ignore_errors=True)


def gc(
    state_root: str | None = None, data_root: str | None = None, *, prune: bool = False
) -> Garbage:
    """Collect garbage under the state and data roots.

    Removes containers whose creation was cut short (their creator died), empty cgroups
    and layers of container ids that have no state, and the network garbage (endpoints,
    leases, port leases, rules, veths no live container owns). With ``prune``, every
    stopped container is removed too. Returns what was removed.
    """
    from pycontainers.runtime.container import Container

    root = state_root or st.default_state_root()
    removed = []
    for cid in st.container_ids(root):
        state_dir = os.path.join(root, cid)
        if _orphaned(state_dir):
            remove_leftovers(cid, root)
            removed.append(cid)
        elif prune:
            c = Container.load(cid, state_root=root)
            if c.status == "stopped":
                c.delete()
                removed.append(cid)
            else:
                c.close()
    known = set(st.container_ids(root))
    cgroups, busy = _stray_cgroups(known)
    # a busy group of no known id is a live container of another state root: its layer stays
    layers = _stray_layers(known | busy, data_root)
    found = Garbage(tuple(removed), tuple(cgroups), tuple(layers), collect(root, data_root))
    if found:
        log.info("gc.done", containers=removed, cgroups=cgroups, layers=layers)
    return found


def _hex(name: str) -> bool:
    return all(ch in "0123456789abcdef" for ch in name)


def _stray_cgroups(known: set[str]) -> tuple[list[str], set[str]]:
    """``pycontainers/<64 hex>`` groups of no known container, and foreground runs' device
    groups whose owner is gone (:func:`~pycontainers.runtime.devpool.owner_gone`: removed
    with what is in them), in any hierarchy (a removal cut short may have left some
    hierarchies only). An empty group is removed. A
    group with processes may belong to a live container under another state root (the
    cgroup parent is shared), so it is removed (its processes killed) only when it is
    proven lost: its processes' monitor serves a state directory that no longer exists.
    A container of this root cut short is removed by its id instead. Returns the removed
    ids and the ids of the busy groups kept.
    """
    from pycontainers.cgroups import CgroupError, CgroupNotSupported, detect_layout
    from pycontainers.cgroups._factory import backend
    from pycontainers.runtime.devpool import owner_gone

    try:
        layout = detect_layout()
    except CgroupNotSupported:
        return [], set()
    parent = backend("pycontainers", layout)
    names: set[str] = set()
    for directory in parent.paths.values():
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            names |= {
                n for n in os.listdir(directory) if (len(n) == 64 and _hex(n)) or owner_gone(n)
            }
    stray, busy = [], set()
    for name in sorted(names - known):
        group = backend(f"pycontainers/{name}", layout)
        pids = _processes(group.paths.values())
        # a foreground run's device group whose owner is gone: no one waits for what is left
        if pids and not owner_gone(name) and not _lost(pids, name):
            busy.add(name)
            continue
        with contextlib.suppress(CgroupError):
            group.delete(kill=bool(pids))
            stray.append(name)
            if pids:
                log.warning("gc.lost_container", id=name, pids=sorted(pids))
    if stray:
        from pycontainers.cgroups import remove_parent

        with contextlib.suppress(CgroupError):
            remove_parent("pycontainers", layout=layout)
    return stray, busy


def _processes(directories: Iterable[str]) -> set[int]:
    """Every pid in the groups under ``directories`` (each hierarchy's copy of one group)."""
    pids: set[int] = set()
    for directory in directories:
        for root, _, files in os.walk(directory):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError), open(os.path.join(root, "cgroup.procs")) as f:
                    pids |= {int(line) for line in f.read().split()}
    return pids


def _lost(pids: set[int], cid: str) -> bool:
    """Whether the container ``cid`` whose group holds ``pids`` is proven lost: the
    ``pycontainers-monitor`` above its processes serves a state directory (seen from the
    monitor's own root) that is gone. Anything else (no monitor found: an attached
    container, an OCI runtime's container under conmon; a process that exited meanwhile)
    is not proof, and the group is kept.
    """
    monitors = {_monitor_of(pid, pids) for pid in pids}
    if len(monitors) != 1 or None in monitors:
        return False
    (found,) = monitors
    assert found is not None
    monitor, state_dir = found
    if os.path.basename(state_dir) != cid:
        return False
    try:
        return not os.path.lexists(f"/proc/{monitor}/root{state_dir}")
    except OSError:
        return False


def _monitor_of(pid: int, inside: set[int]) -> tuple[int, str] | None:
    """The first ancestor of ``pid`` outside ``inside`` if it is a container monitor, with
    the ``--state-dir`` it was given; None otherwise.
    """
    for _ in range(64):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
        if ppid not in inside:
            break
        pid = ppid
    else:
        return None
    try:
        with open(f"/proc/{ppid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    if os.path.basename(argv[0]) != b"pycontainers-monitor" or b"--state-dir" not in argv:
        return None
    at = argv.index(b"--state-dir") + 1
    if at >= len(argv) or not argv[at].startswith(b"/"):
        return None
    return ppid, os.fsdecode(argv[at])


def _stray_layers(known: set[str], data_root: str | None) -> list[str]:
    from pycontainers.fs.shift import default_data_root

    base = os.path.join(data_root or default_data_root(), "containers")
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    # only full container ids: run()'s short-lived containers have 16-hex layers
    stray = [n for n in names if n not in known and len(n) == 64 and _hex(n)]
    for n in stray:
        shutil.rmtree(os.path.join(base, n), ignore_errors=True)
    return stray


__all__ = ["Garbage", "gc", "remove_leftovers"]
