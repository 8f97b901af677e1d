"""Launch: the parent's side of one container start — cgroup, plan, spawn, id maps, release.

A failed start leaves nothing behind: the child is killed and reaped, its fds closed and
its cgroup removed before the error reaches the caller.
"""

from __future__ import annotations

import errno
import os
import signal
from typing import TYPE_CHECKING, Any

from pycontainers import _log
from pycontainers.cgroups import prime
from pycontainers.errors import ContainerStartError
from pycontainers.runtime import devrules
from pycontainers.runtime._childsetup import await_report, release_child, start_error
from pycontainers.runtime._crash import crashpoint
from pycontainers.runtime.devrules import devices_layout, with_default_devices
from pycontainers.runtime.stdio import Stdio
from pycontainers.spec import ContainerSpec, OverlayRootfs

if TYPE_CHECKING:
    from pycontainers._plan import Plan
    from pycontainers._sys import ChildReport
    from pycontainers.cgroups import CGroup, CgroupLayout, Resources
    from pycontainers.network.endpoint import Endpoint
    from pycontainers.runtime.devpool import Lease


log = _log.get_logger("pycontainers.runtime")


def _create_cgroup(name: str, spec: ContainerSpec) -> CGroup:
    return create_group(name, with_default_devices(spec), spec.cgroup_parent)


def create_group(
    name: str, resources: Resources, parent: str, layout: CgroupLayout | None = None
) -> CGroup:
    """``CGroup.create``, once more if another process removed the (then empty) parent
    between our two mkdirs.
    """
    from pycontainers.cgroups import CGroup, CgroupError

    try:
        return CGroup.create(name, resources, parent=parent, layout=layout)
    except CgroupError as exc:
        if exc.errno != errno.ENOENT:
            raise
        return CGroup.create(name, resources, parent=parent, layout=layout)


def drop_cgroup(cgroup: CGroup, parent: str) -> None:
    """Remove a container's group (killing what is left in it), and the parent group too
    once no other container uses it, so nothing of ours stays on the host.
    """
    from pycontainers.cgroups import CgroupError, remove_parent

    cgroup.delete(kill=True)
    try:
        remove_parent(parent, layout=cgroup.layout)
    except CgroupError as exc:
        log.debug("cgroup.parent_kept", parent=parent, error=str(exc))


class _Prepared:
    """What the prepare step made for one start: the spec (with its network mounts) and
    the fds the child inherits, closed once it is spawned.

    A plain class: an attrs one costs a start ~0.2 ms to define.
    """

    __slots__ = ("cgroup_fds", "cgroup_v2_fd", "cgroup_v2_index", "fifo_fd", "join_fds",
                 "mount_trees", "net_fd", "spec", "tree_fd")  # fmt: skip

    def __init__(self, spec: ContainerSpec) -> None:
        self.spec = spec
        self.fifo_fd = -1
        self.tree_fd = -1
        self.net_fd = -1
        self.cgroup_fds: list[int] = []
        self.cgroup_v2_fd = -1  # the cgroup2 group's directory (CLONE_INTO_CGROUP)
        self.cgroup_v2_index = -1  # its cgroup.procs in cgroup_fds
        self.join_fds: list[tuple[str, int]] = []
        self.mount_trees: list[tuple[int, int]] = []

    def close(self) -> None:
        """Close the fds (idempotent)."""
        joined = [fd for _, fd in self.join_fds] + [fd for _, fd in self.mount_trees]
        self.mount_trees = []
        joined.append(self.cgroup_v2_fd)
        for fd in [*self.cgroup_fds, self.fifo_fd, self.tree_fd, self.net_fd, *joined]:
            if fd >= 0:
                os.close(fd)
        self.cgroup_fds, self.fifo_fd, self.tree_fd, self.net_fd = [], -1, -1, -1
        self.cgroup_v2_fd = self.cgroup_v2_index = -1
        self.join_fds = []


class Launch:
    """The parent's handle on one spawned child: pid, pidfd and its error socket.

    Starting is five steps, each undone in reverse when a later one fails: prepare (network,
    overlay, start fifo, cgroup), plan (:func:`~pycontainers.runtime.plan.gather` then
    :func:`~pycontainers.runtime.plan.make_plan`),
    spawn, release (id maps, veth, idmapped rootfs), and for a detached container the
    monitor's ready signal.
    """

    def __init__(
        self,
        spec: ContainerSpec,
        stdio: Stdio,
        *,
        host_mountpoint: str | None,
        start_fifo: str | None,
        cgroup_name: str,
        name: str | None = None,
        state_root: str | None = None,
        monitor: list[str] | None = None,
        console: bool = False,
        console_size: tuple[int, int] | None = None,
        timens_offsets: str | None = None,
        seccomp_listener: bool = False,
    ) -> None:
        from pycontainers.runtime.plan import gather, make_plan

        self.owner = cgroup_name
        self.monitored = monitor is not None
        self.monitor_pid = 0
        self.monitor_pidfd = -1
        self._ctl = -1
        self.state_root = state_root
        self.endpoint: Endpoint | None = None
        self.cgroup: CGroup | None = None
        self.cgroup_parent = spec.cgroup_parent
        # a foreground run without limits gets a group for the device rules alone, in the
        # hierarchies that hold them, and no cgroup filesystem inside (as before it had one)
        self._devices_only = spec.resources is None and monitor is None and start_fifo is None
        self._lease: Lease | None = None  # the device group's, when it is one (devpool)
        self.layer_dir: str | None = None  # the container's own upper/work, if we made them
        self.seccomp_fd = -1  # the notify fd the ready child sent (seccomp_listener); ours
        self._remote: Any = None  # runtime._remote: the child is the C front end's, not ours
        # the steps, each undone in reverse when a later one fails: prepare (network, the
        # overlay, the start fifo, the cgroup) -> plan -> spawn -> release -> monitor ready
        ready = self._prepare(spec, name, start_fifo, cgroup_name)
        shown = None if self._devices_only else self.cgroup  # mounted inside the container
        try:
            plan = make_plan(
                ready.spec,
                gather(ready.spec),
                fds=stdio.fd_map(),
                host_mountpoint=host_mountpoint,
                start_fifo=start_fifo,
                start_fifo_fd=ready.fifo_fd,
                rootfs_tree_fd=ready.tree_fd,
                netns_fd=ready.net_fd,
                join_fds=tuple(ready.join_fds),
                mount_trees=tuple(ready.mount_trees),
                cgroup_fds=tuple(ready.cgroup_fds),
                cgroup_v2=(ready.cgroup_v2_fd, ready.cgroup_v2_index),
                cgroup_layout=shown.layout if shown is not None else None,
                cgroup_path=shown.path if shown is not None else None,
                console=console,
                console_size=console_size,
                timens_offsets=timens_offsets,
                seccomp_listener=seccomp_listener,
                detached=monitor is not None,
            )
            self._spawn(plan, monitor, stdio)
        except BaseException:
            self._undo_prepare()
            raise
        finally:
            ready.close()
        self.pid = self.spawned.pid
        self.pidfd = self.spawned.pidfd
        self.into_cgroup = self.spawned.into_cgroup  # cloned straight into its cgroup2 group
        crashpoint("spawned")
        self.sock: int | None = self.spawned.sock
        stdio.close_child_ends()
        try:
            self._release(ready.spec, plan)
            if self.monitored:
                self._await_monitor(stdio)
        finally:
            prime.stop()  # the child has joined its groups (or the start failed)

    def _prepare(
        self, spec: ContainerSpec, name: str | None, start_fifo: str | None, owner: str
    ) -> _Prepared:
        """Step 1: the network place, the overlay, the start fifo and the cgroup, with the
        fds the child inherits. On failure what was made is given back.
        """
        ready = _Prepared(spec)
        try:
            if spec.network is not None:
                ready.spec = spec = self._prepare_network(spec, name)
                crashpoint("network")
            if spec.netns is not None:
                try:
                    ready.net_fd = os.open(spec.netns, os.O_RDONLY | os.O_CLOEXEC)
                except OSError as exc:
                    raise ContainerStartError(
                        "join",
                        exc.errno or 0,
                        f"join: network namespace {spec.netns}: {exc.strerror}",
                        path=spec.netns,
                    ) from None
            for kind, path in spec.join:
                try:
                    ready.join_fds.append((kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
                except OSError as exc:
                    raise ContainerStartError(
                        "join",
                        exc.errno or 0,
                        f"join: {kind} namespace {path}: {exc.strerror}",
                        path=path,
                    ) from None
            self._idmapped_mounts(spec, ready)
            if isinstance(spec.rootfs, OverlayRootfs):
                ready.tree_fd = self._overlay(spec.rootfs, owner)
            if start_fifo is not None:  # opened here: a user namespace's root may not reach it
                ready.fifo_fd = os.open(start_fifo, os.O_RDWR | os.O_CLOEXEC)
            if devrules.needs_cgroup(spec):
                if self._devices_only:  # a pooled group, reused run after run
                    from pycontainers.runtime import devpool

                    self._lease = devpool.take(spec, devices_layout())
                    self.cgroup = self._lease.group
                else:
                    self.cgroup = _create_cgroup(owner, spec)
                for path in self.cgroup.procs_paths():
                    ready.cgroup_fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
                ready.cgroup_v2_fd, ready.cgroup_v2_index = self.cgroup.clone_into()
                crashpoint("cgroup")
        except BaseException:
            ready.close()
            self._undo_prepare()
            raise
        return ready

    @staticmethod
    def _idmapped_mounts(spec: ContainerSpec, ready: _Prepared) -> None:
        """The idmapped binds' detached mounts, made here (a user namespace each)."""
        for index, m in enumerate(spec.mounts):
            if not m.uid_mappings or m.source is None:
                continue
            from pycontainers.fs.shift import idmapped_tree  # only then: it loads shutil

            try:
                fd = idmapped_tree(m.source, m.uid_mappings, m.gid_mappings,
                                   recursive="bind" not in m.options)  # fmt: skip
            except OSError as exc:
                raise ContainerStartError(
                    "mount",
                    exc.errno or 0,
                    f"mount: cannot make an idmapped mount of {m.source} for {m.target} "
                    f"({exc.strerror})",
                    path=m.source,
                ) from None
            ready.mount_trees.append((index, fd))

    def _undo_prepare(self) -> None:
        """Give back what :meth:`_prepare` made, in reverse."""
        prime.stop()  # the start failed: no more priming for it
        self.remove_cgroup()
        self.remove_layer()
        self.remove_network()

    def _spawn(self, plan: Plan, monitor: list[str] | None, stdio: Stdio) -> None:
        """Step 3: clone the child (under its own monitor when detached)."""
        from pycontainers import _sys

        if monitor is None:
            self._remote = _sys.remote_spawner()  # a warm OCI create: the front end clones it
            self.spawned = self._remote.spawn(plan) if self._remote else _sys.spawn(plan)
            return
        env = [f"{k}={v}" for k, v in os.environ.items()]
        fds = list(getattr(stdio, "monitor_fds", ()))
        if self.cgroup is not None:  # the monitor removes them once the container is done
            for directory in dict.fromkeys(self.cgroup.paths.values()):
                monitor = [*monitor, "--cgroup", directory]
                if self.cgroup_parent:  # and the parent group once no container uses it
                    monitor = [*monitor, "--cgroup-parent", os.path.dirname(directory)]
        self.spawned, self._ctl, self.monitor_pid = _sys.spawn_monitored(
            plan, monitor[0], monitor, env, fds
        )
        try:
            self.monitor_pidfd = _sys.pidfd_open(self.monitor_pid)
        except OSError:  # it died already: the ready wait says why
            self.monitor_pidfd = -1

    def _release(self, spec: ContainerSpec, plan: Plan) -> None:
        """Step 4: what the parent does between clone and execve (id maps, the veth, the
        idmapped rootfs), then let the child go; on failure it is killed and all undone.
        """
        try:
            if plan.no_sync:  # it goes on by itself
                report = await_report(self.spawned.sock, self.pid)
            else:
                self._write_id_maps(spec)
                if self.endpoint is not None:
                    from pycontainers.network.endpoint import connect

                    self.endpoint = connect(self.endpoint, self.pid, self.state_root)
                tree = self._idmapped_rootfs(spec, plan.rootfs)
                try:
                    report = release_child(self.spawned.sock, tree, self.pid)
                finally:
                    if tree is not None:
                        os.close(tree)
            if report is not None and report.stage == "handoff":
                report = self._take_handoff(report)
        except BaseException:
            self.abort()
            raise
        if report is None:  # execve happened
            self._close_sock()
        elif not report.ready:
            self.abort()
            raise start_error(report, spec.process.args, "user" in spec.namespaces)
        elif report.fd >= 0 and not plan.seccomp_listener:
            os.close(report.fd)
        elif plan.seccomp_listener:
            if report.fd < 0:
                self.abort()
                raise ContainerStartError(
                    "seccomp", 0, "seccomp: the child sent no notify fd for the listener"
                )
            self.seccomp_fd = report.fd

    def _take_handoff(self, report: ChildReport) -> ChildReport | None:
        """The spawned child cloned the container's process into the pid namespace it
        joined, as our own child (``Plan.clone_parent``), and exits: hold that process from
        now on (its pidfd came with the report; it is ours and unreaped, so its pid is
        stable) and return its first report.
        """
        from pycontainers import _sys

        pidfd = report.fd if report.fd >= 0 else _sys.pidfd_open(report.pid)
        first, first_pid = self.pidfd, self.pid
        self.pid, self.pidfd = report.pid, pidfd
        self.spawned = _sys.Spawned(report.pid, pidfd, self.spawned.sock, self.spawned.into_cgroup)
        self._reap(first, first_pid)  # it exits right after the report
        os.close(first)
        log.debug("container.handoff", pid=report.pid)
        return await_report(self.spawned.sock, self.pid)

    def _reap(self, pidfd: int, pid: int) -> None:
        """Reap our child ``pid`` (or have the front end reap it: a remote spawn)."""
        from pycontainers import _sys

        if self._remote is not None:
            self._remote.reap(pid)
        else:
            _sys.reap(pidfd)

    def _await_monitor(self, stdio: Stdio) -> None:
        """Step 5 (detached): the monitor says it is ready; its ends of the stdio close."""
        from pycontainers.runtime.detach import wait_monitor_ready

        try:
            wait_monitor_ready(self._ctl)
        except BaseException:
            self.abort()
            raise
        finally:
            os.close(self._ctl)
            self._ctl = -1
        close_monitor_ends = getattr(stdio, "close_monitor_ends", None)
        if close_monitor_ends is not None:
            close_monitor_ends()

    def _prepare_network(self, spec: ContainerSpec, name: str | None) -> ContainerSpec:
        """Reserve the address, ports and /etc files; the spec gains their bind mounts."""
        import attrs

        from pycontainers.network.endpoint import mounts, prepare

        assert spec.network is not None
        hostname = spec.hostname or (self.owner[:12] if "uts" in spec.namespaces else "")
        self.endpoint = prepare(
            spec.network, self.owner, name=name, hostname=hostname, state_root=self.state_root
        )
        return attrs.evolve(
            spec,
            hostname=hostname or None,
            mounts=(*mounts(self.endpoint, self.state_root), *spec.mounts),
        )

    def remove_network(self) -> None:
        """Give back the address, ports, veth and rules of the container (idempotent)."""
        if self.endpoint is not None:
            from pycontainers.network.endpoint import disconnect

            disconnect(self.owner, self.state_root)
            self.endpoint = None

    def _write_id_maps(self, spec: ContainerSpec) -> None:
        if "user" not in spec.namespaces:
            return
        if os.geteuid() != 0:
            from pycontainers.security.rootless import write_maps

            write_maps(self.pid, spec.uid_mappings, spec.gid_mappings)
            return
        for name, maps in (("uid_map", spec.uid_mappings), ("gid_map", spec.gid_mappings)):
            text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)
            with open(f"/proc/{self.pid}/{name}", "w") as f:
                f.write(text)

    def _idmapped_rootfs(self, spec: ContainerSpec, rootfs: str | None) -> int | None:
        """A detached copy of a directory rootfs, idmapped through the container's user
        namespace, for the child to attach in place of a plain bind (None: not wanted).
        """
        from pycontainers.runtime.plan import rootfs_shift

        if rootfs is None or rootfs_shift(spec) != "idmap":
            return None
        from pycontainers import _fsapi  # (only then: the fd-based mount API)

        userns = os.open(f"/proc/{self.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        tree = -1
        try:
            tree = _fsapi.open_tree(rootfs)
            _fsapi.idmap_tree(tree, userns)
        except OSError as exc:
            if tree >= 0:
                os.close(tree)
            raise ContainerStartError(
                "rootfs",
                exc.errno or 0,
                f"rootfs: cannot make an idmapped mount of {rootfs} ({exc.strerror}); "
                "use userns_rootfs='copy' (or 'auto')",
                path=str(rootfs),
            ) from None
        finally:
            os.close(userns)
        return tree

    def _close_sock(self) -> None:
        if self.sock is not None:
            os.close(self.sock)
            self.sock = None

    def confirm_exec(self) -> None:
        """After the start signal: wait for execve (EOF) or raise the child's failure."""
        from pycontainers import _sys

        if self.sock is None:
            return
        report = _sys.recv_report(self.sock)
        self._close_sock()
        if report is not None:
            raise start_error(report)

    def close(self) -> None:
        """Close the socket and pidfds (the child must have been reaped or be left alone)."""
        self._close_sock()
        if self.seccomp_fd >= 0:
            os.close(self.seccomp_fd)
            self.seccomp_fd = -1
        if self.monitor_pidfd >= 0:
            os.close(self.monitor_pidfd)
            self.monitor_pidfd = -1
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def abort(self) -> None:
        """Kill and reap a child that has not exec'd (and its monitor); close everything."""
        from pycontainers import _sys
        from pycontainers.runtime.stdio import wait_readable

        if self.monitor_pidfd >= 0:  # first, so it runs no exit hook for this failure
            try:
                _sys.pidfd_send_signal(self.monitor_pidfd, signal.SIGKILL)
            except OSError:
                pass
            wait_readable(self.monitor_pidfd, 10.0)
            os.close(self.monitor_pidfd)
            self.monitor_pidfd = -1
        try:
            _sys.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except OSError:
            pass
        if self.monitored:  # not our child: its monitor (or init) reaps it
            wait_readable(self.pidfd, 10.0)
        else:
            self._reap(self.pidfd, self.pid)
        if self._ctl >= 0:
            os.close(self._ctl)
            self._ctl = -1
        self._close_sock()
        if self.seccomp_fd >= 0:
            os.close(self.seccomp_fd)
            self.seccomp_fd = -1
        os.close(self.pidfd)
        self.pidfd = -1
        self.remove_cgroup()
        self.remove_layer()
        self.remove_network()

    def _overlay(self, rootfs: OverlayRootfs, name: str) -> int:
        """The container's overlay as a detached mount; its own layer made if not given."""
        from pycontainers.fs.overlay import detached_overlay
        from pycontainers.fs.shift import default_data_root

        upper, work = rootfs.upper, rootfs.work
        if upper is None or work is None:
            self.layer_dir = os.path.join(default_data_root(), "containers", name)
            upper, work = (
                os.path.join(self.layer_dir, "upper"),
                os.path.join(self.layer_dir, "work"),
            )
            os.makedirs(upper, mode=0o755, exist_ok=True)  # kept when started again
            os.makedirs(work, mode=0o700, exist_ok=True)
        return detached_overlay(rootfs.lowers, upper, work)

    @property
    def upper_dir(self) -> str | None:
        """The container's writable layer, when the runtime made it."""
        return os.path.join(self.layer_dir, "upper") if self.layer_dir else None

    def remove_layer(self) -> None:
        """Remove the writable layer the runtime made for the container."""
        if self.layer_dir is not None:
            import shutil

            shutil.rmtree(self.layer_dir, ignore_errors=True)
            self.layer_dir = None

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of this container."""
        return self.cgroup is not None and self.cgroup.oom_killed()

    def remove_cgroup(self) -> None:
        """Kill whatever is left in the container's cgroup and remove it; an emptied device
        group of a foreground run goes back to its pool instead (:mod:`.devpool`).
        """
        if self._lease is not None:
            from pycontainers.runtime import devpool

            lease, self._lease, self.cgroup = self._lease, None, None
            devpool.give_back(lease)
        elif self.cgroup is not None:
            drop_cgroup(self.cgroup, self.cgroup_parent)
            self.cgroup = None
