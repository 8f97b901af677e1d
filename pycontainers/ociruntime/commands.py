"""Dispatch of a parsed command line to the module that carries the command out."""

from __future__ import annotations

TYPE_CHECKING = False  # typing stays unloaded on the quick path (see .quick)
if TYPE_CHECKING:
    import argparse

    from pycontainers.ociruntime.report import Reporter


def run_command(args: argparse.Namespace, reporter: Reporter) -> int:
    """Run ``args.command``; its exit status (errors raise)."""
    cmd = args.command
    root = args.root
    from pycontainers.events import disable

    disable()  # a low-level runtime keeps no event journal (its callers have their own)
    from pycontainers._attrscache import enable

    enable()  # the attrs classes the command builds: their code from the cache
    if cmd == "create":
        from pycontainers.ociruntime.create import create

        _, launch = create(root, args.id, args.bundle, pid_file=args.pid_file,
                           console_socket=args.console_socket, preserve_fds=args.preserve_fds,
                           reporter=reporter)  # fmt: skip
        launch.close()  # the container is left alone: the caller's subreaper reaps it
        return 0
    if cmd == "run":
        from pycontainers.ociruntime.control import run

        return run(args, reporter)
    if cmd == "exec":
        from pycontainers.ociruntime.execute import exec_command

        return exec_command(args, reporter)
    from pycontainers.ociruntime import control

    if cmd == "start":
        control.start(root, args.id, reporter)
    elif cmd == "state":
        control.state(root, args.id)
    elif cmd == "kill":
        control.kill(root, args.id, args.signal, args.all)
    elif cmd == "delete":
        control.delete(root, args.id, args.force, reporter)
    elif cmd in ("pause", "resume"):
        control.pause(root, args.id, thaw=cmd == "resume")
    elif cmd == "list":
        control.list_containers(root, args.format, args.quiet)
    elif cmd in ("features", "spec"):
        from pycontainers.ociruntime import info

        if cmd == "features":
            info.features()
        else:
            info.write_spec(args.bundle, rootless=args.rootless)
    elif cmd in ("ps", "update", "events"):
        from pycontainers.ociruntime import inspect

        getattr(inspect, cmd)(args)
    else:
        from pycontainers.errors import OciRuntimeError

        raise OciRuntimeError(f"{cmd}: checkpoint and restore are not supported")
    return 0


__all__ = ["run_command"]
