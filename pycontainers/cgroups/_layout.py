"""Which cgroup hierarchies this host has, and where: read from mountinfo, never guessed.

A v1 hierarchy is a ``cgroup`` mount whose super options name its controllers (``cpu``,
``cpu,cpuacct``, ``name=systemd``...); the words that are controllers are told apart from mount
options by /proc/self/cgroup, which lists each hierarchy's controllers exactly as the kernel
names them. The v2 (unified) hierarchy is the ``cgroup2`` mount.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

from pycontainers.cgroups._errors import CgroupNotSupported
from pycontainers.cgroups._units import parse_cpu_list
from pycontainers.errors import SpecError

Kind = Literal["v1", "v2", "hybrid"]
_KINDS = ("v1", "v2", "hybrid")
CONTAINER_CGROUP_DIR = "/sys/fs/cgroup"


def _hierarchies(
    value: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), str(v)) for k, v in items))


@attrs.frozen
class CgroupFsMount:
    """A cgroup filesystem to mount inside a container: ``mount(fstype, target, fstype, data)``."""

    target: str
    fstype: str
    data: str = ""


@attrs.frozen
class CgroupLayout:
    """How this host's cgroups are laid out.

    ``kind`` is ``"v1"`` (only v1 hierarchies), ``"v2"`` (only the unified hierarchy) or
    ``"hybrid"`` (both). ``v1_hierarchies`` maps each v1 hierarchy, named by its controllers as
    /proc/self/cgroup names it (``"cpu,cpuacct"``, ``"memory"``, ``"name=systemd"``), to its
    mountpoint; ``unified`` is the cgroup2 mountpoint or ``None``. Build one by hand to point
    the backends at another tree (a fake cgroupfs in tests).
    """

    kind: Kind
    v1_hierarchies: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_hierarchies)
    unified: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise SpecError("kind", f"one of {', '.join(_KINDS)}; got {self.kind!r}")
        if self.kind in ("v1", "hybrid") and not self.v1_hierarchies:
            raise SpecError("v1_hierarchies", f"a {self.kind} layout needs v1 hierarchies")
        if self.kind in ("v2", "hybrid") and not self.unified:
            raise SpecError("unified", f"a {self.kind} layout needs the cgroup2 mountpoint")
        if self.kind == "v1" and self.unified:
            raise SpecError("unified", "a v1 layout has no cgroup2 mountpoint")
        if self.kind == "v2" and self.v1_hierarchies:
            raise SpecError("v1_hierarchies", "a v2 layout has no v1 hierarchies")

    @property
    def hierarchies(self) -> dict[str, str]:
        """The v1 hierarchies: their controllers (``"cpu,cpuacct"``) → mountpoint."""
        return dict(self.v1_hierarchies)

    @property
    def v1(self) -> dict[str, str]:
        """Each v1 controller (and ``name=`` hierarchy) → the mountpoint of its hierarchy."""
        out: dict[str, str] = {}
        for key, mountpoint in self.v1_hierarchies:
            for controller in key.split(","):
                out[controller] = mountpoint
        return out

    @property
    def v1_controllers(self) -> frozenset[str]:
        """The resource controllers mounted as v1 hierarchies (named hierarchies left out)."""
        return frozenset(c for c in self.v1 if not c.startswith("name="))

    def container_mounts(self) -> tuple[CgroupFsMount, ...]:
        """The cgroup filesystems to mount at /sys/fs/cgroup inside a container, in order.

        Mount them from inside the container's cgroup namespace (after joining its group), so
        each hierarchy's root is the container's own group. v2: one cgroup2 mount. v1: a tmpfs,
        then one ``cgroup`` mount per hierarchy with its controllers as data (see
        :meth:`container_symlinks` for co-mounted ones). Hybrid: both, cgroup2 at ``unified``.
        """
        if self.kind == "v2":
            return (CgroupFsMount(CONTAINER_CGROUP_DIR, "cgroup2"),)
        mounts = [CgroupFsMount(CONTAINER_CGROUP_DIR, "tmpfs", "mode=755")]
        for key, mountpoint in self.v1_hierarchies:
            name = os.path.basename(mountpoint.rstrip("/")) or key
            mounts.append(CgroupFsMount(f"{CONTAINER_CGROUP_DIR}/{name}", "cgroup", key))
        if self.unified:
            mounts.append(CgroupFsMount(f"{CONTAINER_CGROUP_DIR}/unified", "cgroup2"))
        return tuple(mounts)

    def container_symlinks(self) -> tuple[tuple[str, str], ...]:
        """Symlinks ``(path, target)`` that make co-mounted hierarchies findable by each name
        (``/sys/fs/cgroup/cpu`` → ``cpu,cpuacct``), as on the host.
        """
        links: list[tuple[str, str]] = []
        for key, mountpoint in self.v1_hierarchies:
            name = os.path.basename(mountpoint.rstrip("/"))
            for controller in key.split(","):
                alias = controller.removeprefix("name=")
                if "," in key and alias != name:
                    links.append((f"{CONTAINER_CGROUP_DIR}/{alias}", name))
        return tuple(links)


# -- parsing -----------------------------------------------------------------------------------


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (a space is backslash, 040)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _proc_hierarchies(proc_cgroup: str) -> dict[str, frozenset[str]]:
    """The v1 hierarchies of /proc/PID/cgroup: their key (``"cpu,cpuacct"``) → controllers."""
    out: dict[str, frozenset[str]] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[0] != "0" and parts[1]:
            out[parts[1]] = frozenset(parts[1].split(","))
    return out


def parse_layout(mountinfo: str, proc_cgroup: str) -> CgroupLayout:
    """Return the layout described by the text of /proc/self/mountinfo and /proc/self/cgroup.

    Raise :class:`CgroupNotSupported` if no cgroup filesystem is mounted.
    """
    known = _proc_hierarchies(proc_cgroup)
    words_known = frozenset().union(*known.values()) if known else frozenset()
    candidates: dict[str, list[tuple[tuple[bool, bool, int], str]]] = {}
    unified: list[tuple[tuple[bool, bool, int], str]] = []
    for index, line in enumerate(mountinfo.splitlines()):
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if len(fields) < sep + 4:
            continue
        fstype, super_options = fields[sep + 1], fields[sep + 3]
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        # prefer a mount of the hierarchy's root, then one under /sys/fs/cgroup, then the first
        rank = (root != "/", not mountpoint.startswith(CONTAINER_CGROUP_DIR + "/"), index)
        if fstype == "cgroup2":
            unified.append((rank, mountpoint))
        elif fstype == "cgroup":
            controllers = frozenset(super_options.split(",")) & words_known
            for key, members in known.items():
                if members == controllers:
                    candidates.setdefault(key, []).append((rank, mountpoint))
    v1 = {key: min(found)[1] for key, found in candidates.items()}
    mount2 = min(unified)[1] if unified else None
    if v1 and mount2:
        return CgroupLayout("hybrid", v1, mount2)
    if v1:
        return CgroupLayout("v1", v1)
    if mount2:
        return CgroupLayout("v2", unified=mount2)
    raise CgroupNotSupported("no cgroup filesystem is mounted (none in /proc/self/mountinfo)")


_cache: dict[str, CgroupLayout] = {}


def detect_layout(*, refresh: bool = False) -> CgroupLayout:
    """Return this host's :class:`CgroupLayout`, read once from /proc/self/mountinfo and
    /proc/self/cgroup and then cached (``refresh=True`` reads again).
    """
    if refresh or "self" not in _cache:
        with open("/proc/self/mountinfo") as f:
            mountinfo = f.read()
        with open("/proc/self/cgroup") as f:
            proc_cgroup = f.read()
        _cache["self"] = parse_layout(mountinfo, proc_cgroup)
    return _cache["self"]


# -- what a cpuset may hold ---------------------------------------------------------------------


def _first_list(paths: Iterable[str]) -> frozenset[int] | None:
    for path in paths:
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text:
            return parse_cpu_list(path, text)
    return None


def _cpuset_files(layout: CgroupLayout | None, v1_name: str, v2_name: str) -> list[str]:
    if layout is None:
        try:
            layout = detect_layout()
        except (OSError, CgroupNotSupported):
            return []
    paths = []
    if "cpuset" in layout.v1:
        root = layout.v1["cpuset"]
        paths += [f"{root}/cpuset.effective_{v1_name}", f"{root}/cpuset.{v1_name}"]
    if layout.unified:
        paths.append(f"{layout.unified}/cpuset.{v2_name}.effective")
    return paths


def allowed_cpus(layout: CgroupLayout | None = None) -> frozenset[int]:
    """The CPUs a cpuset may hold: the root cpuset's effective CPUs, else the online CPUs."""
    found = _first_list(_cpuset_files(layout, "cpus", "cpus"))
    found = found or _first_list(["/sys/devices/system/cpu/online"])
    return found or frozenset(os.sched_getaffinity(0))


def allowed_mems(layout: CgroupLayout | None = None) -> frozenset[int]:
    """The memory nodes a cpuset may hold: the root cpuset's effective nodes, else the online
    nodes.
    """
    found = _first_list(_cpuset_files(layout, "mems", "mems"))
    return found or _first_list(["/sys/devices/system/node/online"]) or frozenset({0})
