"""``start``, ``state``, ``kill``, ``delete``, ``pause``, ``resume``, ``list`` and ``run``:
each from any process, on the container's state under ``--root``.

``state`` tells ``created`` from ``running`` by the status the engine recorded and
``stopped`` by the pid *and* its start time (a pid reused by another process is not the
container's).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from pycontainers.errors import OciRuntimeError

if TYPE_CHECKING:
    import argparse

    from pycontainers.ociruntime.report import Reporter
    from pycontainers.runtime.container import Container


def start(root: str, container_id: str, reporter: Reporter) -> None:
    """Release a created container into its process; then its poststart hooks."""
    from pycontainers.ociruntime.hooks import run_hooks
    from pycontainers.ociruntime.store import load, read_oci

    c = load(root, container_id)
    try:
        status = c.status
        if status != "created":
            raise OciRuntimeError(
                f"cannot start container {container_id}: it is {status}, not created"
            )
        c.start()
        run_hooks(read_oci(c.state_dir).get("hooks", {}), ("poststart",), c, "running",
                  reporter, fatal=False)  # fmt: skip
    finally:
        c.close()


def state(root: str, container_id: str) -> None:
    """Print the runtime-spec state."""
    from pycontainers.ociruntime.store import load, state_doc

    c = load(root, container_id)
    try:
        print(json.dumps(state_doc(c), indent=2))
    finally:
        c.close()


def kill(root: str, container_id: str, sig_name: str, all_processes: bool) -> None:
    """Signal the container's init (``--all``: every process in its cgroup)."""
    from pycontainers.errors import SpecError
    from pycontainers.ociruntime.store import load
    from pycontainers.spec import signal_number

    try:
        sig = signal_number(sig_name, "signal")
    except SpecError as exc:
        raise OciRuntimeError(str(exc)) from None
    c = load(root, container_id)
    try:
        status = c.status
        if all_processes and c.record.cgroup is not None:
            for pid in c.record.cgroup.procs():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            return
        if status not in ("created", "running", "paused"):
            raise OciRuntimeError(f"container {container_id} is not running (it is {status})")
        c.kill(sig)
    finally:
        c.close()


def delete(root: str, container_id: str, force: bool, reporter: Reporter) -> None:
    """Delete a stopped or created container (``--force``: any, killed first); then its
    poststop hooks. ``--force`` of one that does not exist is not an error (as runc).
    """
    from pycontainers.ociruntime.store import load, read_oci, state_doc

    try:
        c = load(root, container_id)
    except OciRuntimeError:
        if force and not os.path.isdir(os.path.join(root, container_id)):
            return
        if force:  # a create cut short: whatever it left goes
            from pycontainers.runtime.state import remove_state_dir

            remove_state_dir(os.path.join(root, container_id))
            return
        raise
    status = c.status
    if status in ("running", "paused") and not force:
        c.close()
        raise OciRuntimeError(
            f"cannot delete container {container_id}: it is {status}; stop it first or use --force"
        )
    hooks = read_oci(c.state_dir).get("hooks", {})
    doc = state_doc(c, "stopped")
    _destroy(c)
    if hooks.get("poststop"):
        from pycontainers.ociruntime.hooks import run_one

        data = json.dumps(doc).encode()
        for i, hook in enumerate(hooks["poststop"]):
            problem = run_one(hook, data)
            if problem is not None:
                reporter.warning(f"hooks.poststop[{i}] ({hook['path']}): {problem}")


def _destroy(c: Container) -> None:
    """Kill what is left of the container, remove its cgroup and state (no engine
    network, layer or monitor to give back: the caller made those, if any).
    """
    from pycontainers.runtime.launch import drop_cgroup
    from pycontainers.runtime.state import remove_state_dir
    from pycontainers.runtime.stdio import wait_readable

    r = c.record
    pidfd = c.supervisor.pidfd
    try:
        if r.cgroup is not None and r.status == "paused":
            r.cgroup.thaw()  # a frozen process cannot die
        if pidfd is not None and not wait_readable(pidfd, 0):
            c.kill(signal.SIGKILL)
            wait_readable(pidfd, 10.0)
        if r.cgroup is not None:
            drop_cgroup(r.cgroup, os.path.dirname(r.cgroup.path))
            r.cgroup = None
        remove_state_dir(c.state_dir)
    finally:
        c.close()


def pause(root: str, container_id: str, thaw: bool) -> None:
    """Freeze (or thaw) every process of the container."""
    from pycontainers.ociruntime.store import load

    c = load(root, container_id)
    try:
        if thaw:
            c.resume()
        else:
            c.pause()
    finally:
        c.close()


def list_containers(root: str, fmt: str, quiet: bool) -> None:
    """Print the containers under ``root`` (a table, JSON, or ids only)."""
    from pycontainers.ociruntime.store import container_ids, load, state_doc

    docs: list[dict[str, Any]] = []
    for cid in container_ids(root):
        try:
            c = load(root, cid)
        except Exception:  # removed meanwhile
            continue
        try:
            docs.append(state_doc(c))
        finally:
            c.close()
    if quiet:
        for d in docs:
            print(d["id"])
    elif fmt == "json":
        print(json.dumps([{k: d[k] for k in ("ociVersion", "id", "pid", "status", "bundle",
                                              "rootfs", "created", "owner", "annotations")}
                          for d in docs]))  # fmt: skip
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(d["id"], str(d["pid"]), d["status"], d["bundle"], d["created"], d["owner"] or "root")
                 for d in docs]  # fmt: skip
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for row in rows:
            print("   ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    """``create`` + ``start``; unless ``-d``, wait for the container, delete it and return
    its exit status (signals sent to this process go to the container's init).
    """
    from pycontainers.ociruntime.create import create
    from pycontainers.ociruntime.hooks import run_hooks
    from pycontainers.ociruntime.store import read_oci

    c, launch = create(args.root, args.id, args.bundle, pid_file=args.pid_file,
                       console_socket=args.console_socket, preserve_fds=args.preserve_fds,
                       reporter=reporter)  # fmt: skip
    try:
        c.start()
    except BaseException:
        c.delete()
        raise
    run_hooks(read_oci(c.state_dir).get("hooks", {}), ("poststart",), c, "running", reporter,
              fatal=False)  # fmt: skip
    if args.detach:
        launch.close()
        return 0
    from pycontainers import _sys

    def forward(signum: int, _frame: Any) -> None:
        try:
            _sys.pidfd_send_signal(launch.pidfd, signum)
        except OSError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                signal.SIGUSR2, signal.SIGWINCH):  # fmt: skip
        signal.signal(sig, forward)
    code = c.wait()
    sys.stdout.flush()
    if not args.keep:
        delete(args.root, args.id, True, reporter)
    return code


__all__ = ["delete", "kill", "list_containers", "pause", "run", "start", "state"]
