"""Entering a running container: what a further process joins, from the stored spec.

:func:`open_entry` is the only way a process gets into a container that already runs
(``exec`` from the creator or any other process, the CLI, health checks; later the
builder's ``RUN``, the OCI runtime's and the API's exec). It reads the container's stored
spec and state — never the caller's memory — and refuses, with a :class:`ContainerError`,
whatever it cannot establish: no spec, a corrupt one, a main process that is gone or was
replaced, a namespace the spec gives the container that turns out to be the caller's own, a
user mapping other than the stored one, a cgroup that cannot be joined. The security of the
process itself comes from :func:`pycontainers.runtime.confine.confinement`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import attrs

from pycontainers.errors import ContainerError
from pycontainers.runtime import state as st
from pycontainers.runtime.plan import CLONE_FLAGS
from pycontainers.runtime.stdio import wait_readable
from pycontainers.spec import ContainerSpec, IdMapping

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

# setns order: the user namespace first (it grants the rights for the others), pid last
JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "net", "time", "mnt", "pid")


@attrs.define
class Entry:
    """Open fds and the stored spec for one process entering a running container.

    ``joins`` are (namespace fd, CLONE_NEW* type) pairs in setns order; ``cgroup_fds`` are
    the container's ``cgroup.procs`` files, one per hierarchy; ``cgroup_v2`` the cgroup2
    group's directory fd and the index of its file in ``cgroup_fds`` (clone straight into
    it), or (-1, -1). Close it when the process has been spawned (the child holds its own
    copies).
    """

    spec: ContainerSpec
    pid: int
    joins: tuple[tuple[int, int], ...]
    cgroup_fds: tuple[int, ...]
    setgroups_denied: bool
    cgroup_v2: tuple[int, int] = (-1, -1)

    def close(self) -> None:
        """Close the fds this entry holds."""
        for fd, _ in self.joins:
            os.close(fd)
        for fd in self.cgroup_fds:
            os.close(fd)
        if self.cgroup_v2[0] >= 0:
            os.close(self.cgroup_v2[0])
        self.joins, self.cgroup_fds, self.cgroup_v2 = (), (), (-1, -1)


def stored_spec(state_dir: str) -> ContainerSpec:
    """The container's spec as stored at create; a ContainerError if missing or corrupt."""
    from pycontainers.runtime.specfile import load_spec

    short = os.path.basename(state_dir)[:12]
    try:
        spec, _ = load_spec(state_dir)
    except ContainerError as exc:
        raise ContainerError(
            f"{exc}; refusing to run anything in container {short}: its security settings "
            "come from that file alone"
        ) from None
    return spec


def open_entry(container: Container) -> Entry:
    """Open everything a process needs to enter ``container`` (see the module docstring)."""
    short = container.id[:12]
    spec = stored_spec(container.state_dir)
    try:
        state = st.read_state(container.state_dir)
    except OSError as exc:
        raise ContainerError(
            f"container {short}: cannot read its state: {exc}",
            errno=exc.errno,
            path=exc.filename if isinstance(exc.filename, str) else container.state_dir,
        ) from None
    if state.status == "paused":  # a process joining its frozen cgroup would freeze too
        raise ContainerError(f"container {short} is paused; entering it needs a running one")
    pid, pidfd = container.pid, container.pidfd
    if pidfd is None or pid <= 0 or state.pid != pid or wait_readable(pidfd, 0):
        raise ContainerError(f"container {short} has no running main process to enter")
    fds: list[tuple[int, int]] = []
    cgroup_fds: list[int] = []
    v2 = (-1, -1)
    try:
        for kind in JOIN_ORDER:
            if kind not in spec.namespaces and not os.path.exists(f"/proc/self/ns/{kind}"):
                continue  # a kind this kernel lacks (no time namespaces): nobody has one
            # a joined pid namespace (or one made after joining a user namespace) holds the
            # container's processes, not its first one (a forwarder that stayed outside to
            # fork into it): its children's is the one; so is a time namespace (made after
            # the clone when it has offsets: the payload entered it at execve)
            joined = {k for k, _ in spec.join}
            forwarder = "pid" in joined or ("user" in joined and "pid" in spec.namespaces)
            if (kind == "pid" and forwarder) or kind == "time":
                fd = _open_ns(pid, f"{kind}_for_children", short)
            else:
                fd = _open_ns(pid, kind, short)
            ours = os.stat(f"/proc/self/ns/{kind}").st_ino
            if os.fstat(fd).st_ino == ours:
                os.close(fd)
                if kind in spec.namespaces:
                    raise ContainerError(
                        f"container {short}: its {kind} namespace should be its own but is this "
                        "process's; refusing to enter it"
                    )
                continue  # shared with us (network="host", no user namespace...): nothing to join
            fds.append((fd, CLONE_FLAGS[kind]))
        if "user" in spec.namespaces:
            _check_mapping(pid, "uid_map", spec.uid_mappings, short)
            _check_mapping(pid, "gid_map", spec.gid_mappings, short)
        cgroup_fds, v2 = _open_cgroup(spec, state.cgroup, short)
        # the fds were opened through /proc/PID: make sure PID is still the container's
        if wait_readable(pidfd, 0):
            raise ContainerError(f"container {short} exited while entering it")
        return Entry(spec, pid, tuple(fds), tuple(cgroup_fds), _setgroups_denied(pid), v2)
    except BaseException:
        for fd, _ in fds:
            os.close(fd)
        for fd in [*cgroup_fds, v2[0]]:
            if fd >= 0:
                os.close(fd)
        raise


def _open_ns(pid: int, kind: str, short: str) -> int:
    path = f"/proc/{pid}/ns/{kind}"
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ContainerError(
            f"container {short}: cannot open its {kind} namespace: {exc.strerror}",
            errno=exc.errno,
            path=path,
        ) from None


def _check_mapping(pid: int, name: str, want: tuple[IdMapping, ...], short: str) -> None:
    if not want:
        return  # the spec left the mapping to the kernel (an empty map): checked by setns
    from pycontainers.runtime._tree import read_id_map

    have = sorted(read_id_map(f"/proc/{pid}/{name}"))
    expected = sorted((m.container_id, m.host_id, m.size) for m in want)
    if have != expected:
        raise ContainerError(
            f"container {short}: its {name} {have} is not the stored mapping {expected}; "
            "refusing to enter it"
        )


def _open_cgroup(spec: ContainerSpec, path: str, short: str) -> tuple[list[int], tuple[int, int]]:
    if not path:
        if spec.resources is not None and os.geteuid() == 0:
            raise ContainerError(
                f"container {short}: its spec has a cgroup but none is recorded; refusing to "
                "enter it outside its limits"
            )
        return [], (-1, -1)
    from pycontainers.cgroups import CGroup, CgroupError

    try:
        group = CGroup.open(path)
    except CgroupError as exc:
        raise ContainerError(
            f"container {short}: cannot open its cgroup {path}: {exc}; refusing to enter it "
            "outside its limits"
        ) from None
    out: list[int] = []
    try:
        for procs in group.procs_paths():
            out.append(os.open(procs, os.O_WRONLY | os.O_CLOEXEC))
        v2 = group.clone_into()
    except OSError as exc:
        for fd in out:
            os.close(fd)
        raise ContainerError(
            f"container {short}: cannot join its cgroup {path}: {exc.strerror} "
            f"({exc.filename}); refusing to enter it outside its limits",
            errno=exc.errno,
            path=exc.filename if isinstance(exc.filename, str) else path,
        ) from None
    if not out:
        raise ContainerError(f"container {short}: its cgroup {path} has no hierarchy to join")
    return out, v2


def _setgroups_denied(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/setgroups") as f:
            return f.read().strip() == "deny"
    except FileNotFoundError:
        return False  # a kernel without the file has no setgroups policy


__all__ = ["JOIN_ORDER", "Entry", "open_entry", "stored_spec"]
