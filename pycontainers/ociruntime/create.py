"""``create`` and ``run``: a container set up in C, waiting on its start fifo, and no
Python left behind.

The child is cloned by this process, runs its whole setup (namespaces, cgroup, mounts,
pivot_root, security) and blocks reading the start fifo in ``<root>/<id>``; ``start``
(another process) writes a byte to it and the child execs. This process then exits, so the
container's init is re-parented to the caller's subreaper (conmon, containerd-shim), which
reaps it and reads its exit status, as with runc. Its pid goes to ``--pid-file``.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

from pycontainers.errors import OciRuntimeError
from pycontainers.runtime.stdio import Stdio

if TYPE_CHECKING:
    from pycontainers.ociruntime.bundle import Bundle
    from pycontainers.ociruntime.report import Reporter
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.launch import Launch

START_FIFO = "start.fifo"


class OciStdio(Stdio):
    """The container's stdio: this process's own fds 0-2 (inherited from the caller), the
    ``--preserve-fds`` fds 3.., and the console socket for a terminal.
    """

    def __init__(self, preserve_fds: int, console_fd: int | None) -> None:
        super().__init__(None, None, None)
        self.extra = [(3 + i, 3 + i) for i in range(preserve_fds)]
        self.console_fd = console_fd
        if console_fd is not None:
            from pycontainers.runtime.plan import CONSOLE_FD

            self.extra.append((console_fd, CONSOLE_FD))

    def fd_map(self) -> tuple[tuple[int, int], ...]:
        """See :meth:`Stdio.fd_map`."""
        return (*super().fd_map(), *self.extra)

    def close_child_ends(self) -> None:
        """See :meth:`Stdio.close_child_ends`: the console socket is the child's now."""
        super().close_child_ends()
        if self.console_fd is not None:
            os.close(self.console_fd)
            self.console_fd = None

    def close_all(self) -> None:
        """See :meth:`Stdio.close_all`."""
        self.close_child_ends()
        super().close_all()


def connect_console(path: str) -> int:
    """Connect to the caller's console socket (the pty master is sent there)."""
    import socket  # only with a terminal: not loaded by every create

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise OciRuntimeError(
            f"--console-socket: cannot connect to {path}: {exc.strerror}",
            errno=exc.errno,
            path=path,
        ) from None
    return sock.detach()


def create(
    root: str,
    container_id: str,
    bundle_dir: str,
    *,
    pid_file: str | None,
    console_socket: str | None,
    preserve_fds: int,
    reporter: Reporter,
) -> tuple[Container, Launch]:
    """Create the container; it waits for ``start``. Returns it and the launch handle
    (the caller closes it, leaving the container alone, or waits for it: ``run``).
    """
    from pycontainers.ociruntime.bundle import load_bundle
    from pycontainers.runtime import state as st
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.lifecycle import Status
    from pycontainers.runtime.record import Record

    st.check_id(container_id)
    if preserve_fds < 0:
        raise OciRuntimeError(f"--preserve-fds: expected a count >= 0, got {preserve_fds}")
    bundle = load_bundle(bundle_dir, container_id)
    if bundle.terminal and console_socket is None:
        raise OciRuntimeError(
            "process.terminal is true: give --console-socket (the pty master is sent there)"
        )
    if not bundle.terminal and console_socket is not None:
        raise OciRuntimeError("--console-socket needs process.terminal: true in config.json")
    if bundle.terminal and preserve_fds:
        raise OciRuntimeError("--preserve-fds cannot be combined with a terminal here")
    root = st.ensure_dir(root)
    state_dir = os.path.join(root, container_id)
    with st.names_locked(root):
        try:
            os.mkdir(state_dir, 0o700)
        except FileExistsError:
            raise OciRuntimeError(f"container {container_id} already exists") from None
        c = Container(
            state_dir, Record(id=container_id, status=Status.CREATING, created=time.time())
        )
        c.save_state(create=True)
    try:
        launch = _launch(c, bundle, console_socket, preserve_fds)
    except BaseException:
        st.remove_state_dir(state_dir)
        raise
    try:
        _after_launch(c, bundle, launch, pid_file, reporter)
    except BaseException:
        launch.abort()
        st.remove_state_dir(state_dir)
        raise
    return c, launch


def _launch(c: Container, bundle: Bundle, console_socket: str | None, preserve_fds: int) -> Launch:
    from pycontainers.runtime.launch import Launch
    from pycontainers.runtime.specfile import save_spec

    root = os.path.dirname(c.state_dir)
    fifo = os.path.join(c.state_dir, START_FIFO)
    os.mkfifo(fifo, 0o600)
    save_spec(c.state_dir, bundle.spec, {"name": "", "detach": None})
    console = connect_console(console_socket) if console_socket is not None else None
    stdio = OciStdio(preserve_fds, console)
    try:
        return Launch(bundle.spec, stdio, host_mountpoint=None, start_fifo=fifo,
                      cgroup_name=bundle.cgroup_name, state_root=root,
                      console=console is not None, console_size=bundle.console_size,
                      timens_offsets=bundle.timens_offsets,
                      seccomp_listener=bundle.seccomp_listener is not None)  # fmt: skip
    finally:
        stdio.close_all()


def _after_launch(
    c: Container, bundle: Bundle, launch: Launch, pid_file: str | None, reporter: Reporter
) -> None:
    from pycontainers._files import write_atomic
    from pycontainers.ociruntime.store import write_oci
    from pycontainers.runtime.lifecycle import Status
    from pycontainers.runtime.supervisor import Attached

    # cgroup_dirs: the group's directory in each hierarchy, for a delete without the
    # engine's cgroup code (see ociruntime.quick)
    dirs = sorted(set(launch.cgroup.paths.values())) if launch.cgroup is not None else []
    write_oci(c.state_dir, {"bundle": bundle.path, "annotations": bundle.annotations,
                            "hooks": bundle.hooks, "cgroup": bundle.cgroup_name,
                            "cgroup_dirs": dirs})  # fmt: skip
    r = c.record
    c.spec = bundle.spec
    c.supervisor = Attached(launch, launch.pidfd, None)
    r.rootfs, r.args = str(bundle.spec.rootfs), bundle.spec.process.args
    r.pid = launch.pid
    r.cgroup = launch.cgroup
    if bundle.seccomp_listener is not None:
        send_seccomp_fd(c, launch, *bundle.seccomp_listener)
    if bundle.oom_score_adj is not None:
        with open(f"/proc/{launch.pid}/oom_score_adj", "w") as f:
            f.write(str(bundle.oom_score_adj))
    # prestart (deprecated) and createRuntime: in the runtime's namespaces, the container's
    # namespaces made; a failing one fails the create (and it is undone). Their state says
    # "created": the runtime-spec (1.2.0, runtime.md) has "creating" only for step 2 (making
    # the environment) and "created" after it; these run at steps 4-5 (runtime-tools'
    # hooks_stdin checks it; runc 1.1 passes "creating")
    if bundle.hooks:
        from pycontainers.ociruntime.hooks import run_hooks

        run_hooks(bundle.hooks, ("prestart", "createRuntime"), c, "created", reporter, fatal=True)
    r.move(Status.CREATED)
    c.save_state()
    if pid_file:
        write_atomic(os.path.abspath(pid_file), str(launch.pid).encode(), 0o644)


def send_seccomp_fd(c: Container, launch: Launch, path: str, metadata: str) -> None:
    """Hand the container's seccomp notify fd to the listener at ``path``, as runc does:
    one message, the process state JSON (``fds: ["seccompFd"]``, pid, metadata and the
    container's state) with the fd as SCM_RIGHTS. The fd is closed here either way.
    """
    import socket

    from pycontainers.oci.config import OCI_VERSION
    from pycontainers.ociruntime.store import state_doc

    fd, launch.seccomp_fd = launch.seccomp_fd, -1
    try:
        doc = {"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": launch.pid,
               "metadata": metadata, "state": state_doc(c, "creating")}  # fmt: skip
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            socket.send_fds(sock, [json.dumps(doc).encode()], [fd])
        except OSError as exc:
            raise OciRuntimeError(
                f"linux.seccomp.listenerPath: cannot send the notify fd to {path}: {exc.strerror}",
                errno=exc.errno,
                path=path,
            ) from None
        finally:
            sock.close()
    finally:
        os.close(fd)


__all__ = ["START_FIFO", "OciStdio", "connect_console", "create", "send_seccomp_fd"]
