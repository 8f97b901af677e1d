"""Container commands of the CLI: run, create, start, ps, exec, logs, stop, kill, restart,
rm, pause, unpause, wait, inspect.

Every container the CLI makes is detached (watched by its monitor), so any later
invocation can list, follow, exec into, stop and remove it; a foreground ``run`` follows its
log until it exits and exits with its status.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pycontainers.errors import CommandError as CommandError

if TYPE_CHECKING:  # argparse is loaded only to build a parser (run's plain forms need none)
    import argparse

    from pycontainers.runtime.container import Container

EXIT_ERROR = 125


def _cmd(sub: Any, name: str, help: str, **kw: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help, **kw)
    return p


def _refs(p: argparse.ArgumentParser) -> None:
    p.add_argument("containers", nargs="+", metavar="CONTAINER")


def add_commands(sub: Any) -> None:
    """Register the container subcommands on the CLI's subparsers."""
    import argparse

    for name, help in (
        ("run", "run a command in a new container"),
        ("create", "create a container (start it with 'start')"),
    ):
        p = _cmd(sub, name, help, add_help=False)
        if isinstance(p, argparse.ArgumentParser):  # not a discarded one: run's flags cost
            from pycontainers.cli.runflags import add_run_flags

            add_run_flags(p, run=name == "run")
    p = _cmd(sub, "start", "start created or stopped containers")
    p.add_argument(
        "-a", "--attach", action="store_true", help="follow the output, exit with its status"
    )
    p.add_argument("-i", "--interactive", action="store_true", help="attach stdin")
    _refs(p)
    p = _cmd(sub, "ps", "list containers")
    p.add_argument("-a", "--all", action="store_true", help="all containers (default: running)")
    p.add_argument("-q", "--quiet", action="store_true", help="only the ids")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="status=, name=, label=K[=V], id=, health=, ancestor=, exited=")  # fmt: skip
    p.add_argument(
        "--format", default="", help="table, json, or a template such as '{{.ID}} {{.Names}}'"
    )
    p.add_argument("--no-trunc", action="store_true", help="full ids and commands")
    p = _cmd(sub, "exec", "run a command in a running container")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    p.add_argument("-d", "--detach", action="store_true", help="run it in the background")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V", help="set a variable")
    p.add_argument("--env-file", action="append", default=[], metavar="FILE")
    p.add_argument("-u", "--user", metavar="UID[:GID]", help="user to run as")
    p.add_argument("-w", "--workdir", metavar="DIR", help="working directory inside")
    p.add_argument(
        "--privileged",
        action="store_true",
        help="give this command every capability (the container's seccomp stays)",
    )
    p.add_argument("--cap-add", action="append", default=[], metavar="CAP",
                   help="give this command a further capability")  # fmt: skip
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")
    p = _cmd(sub, "logs", "show a container's output")
    p.add_argument("-f", "--follow", action="store_true", help="keep following until it stops")
    p.add_argument("-n", "--tail", default="all", help="only the last N lines (default all)")
    p.add_argument("-t", "--timestamps", action="store_true", help="show the times")
    p.add_argument("--since", help="since a time: 10m, a Unix time or RFC 3339")
    p.add_argument("--until", help="until a time: 10m, a Unix time or RFC 3339")
    p.add_argument("container", metavar="CONTAINER")
    for name, help in (("stop", "stop running containers (signal, then SIGKILL)"),
                       ("restart", "restart containers")):  # fmt: skip
        p = _cmd(sub, name, help)
        p.add_argument("-t", "--time", "--timeout", dest="time", type=float, default=None,
                       help="seconds to wait before SIGKILL (the container's --stop-timeout, "
                       "else 10)")  # fmt: skip
        p.add_argument("-s", "--signal", help="the stop signal (default: the container's "
                       "stop signal from its image or --stop-signal, else TERM)")  # fmt: skip
        _refs(p)
    p = _cmd(sub, "kill", "send a signal to containers")
    p.add_argument("-s", "--signal", default="KILL", help="the signal (KILL)")
    _refs(p)
    p = _cmd(sub, "rm", "remove containers")
    p.add_argument("-f", "--force", action="store_true", help="kill a running one first")
    p.add_argument("-v", "--volumes", action="store_true", help="remove its anonymous volumes")
    _refs(p)
    for name, help in (("pause", "freeze every process of containers"),
                       ("unpause", "thaw paused containers"),
                       ("wait", "wait for containers to stop; print their exit codes")):  # fmt: skip
        _refs(_cmd(sub, name, help))
    p = _cmd(sub, "inspect", "show containers (or networks, volumes, images) as JSON")
    p.add_argument("-f", "--format", default="", help="a template such as '{{.State.Status}}'")
    p.add_argument("--type", choices=["container", "network", "volume", "image"])
    p.add_argument("objects", nargs="+", metavar="NAME")
    p = _cmd(sub, "container", "container management")
    csub = p.add_subparsers(dest="container_command", metavar="COMMAND", required=True)
    q = csub.add_parser("prune", help="remove all stopped containers")
    q.add_argument("-f", "--force", action="store_true", help="do not ask")


COMMANDS = (
    "run", "create", "start", "ps", "exec", "logs", "stop", "restart", "kill", "rm",
    "pause", "unpause", "wait", "inspect", "container",
)  # fmt: skip


def run_command(args: argparse.Namespace) -> int:
    """Execute one container subcommand; returns the exit status."""
    handler: Callable[[argparse.Namespace], int] = globals()["_cmd_" + args.command]
    return handler(args)


# -- helpers ----------------------------------------------------------------------------


def _load(ref: str) -> Container:
    from pycontainers.runtime.container import Container

    return Container.load(ref)


def _each(refs: Iterable[str], action: Callable[[Container], object]) -> int:
    """Apply ``action`` to each container, printing the ref (or the error); 125 if any failed."""
    from pycontainers.errors import PyContainersError

    status = 0
    for ref in refs:
        try:
            c = _load(ref)
            try:
                out = action(c)
            finally:
                c.close()
            print(ref if out is None else out)
        except (PyContainersError, CommandError, TimeoutError) as exc:
            print(f"pycontainers: {exc}", file=sys.stderr)
            status = EXIT_ERROR
    return status


def parse_signal(value: str) -> int:
    """A signal by number, name or SIG-name."""
    import signal

    if value.isdigit():
        return int(value)
    name = value.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise CommandError(f"invalid signal: {value}") from None


def exit_key(c: Container) -> tuple[int, int] | None:
    """Identity of the monitor's exit file (it is replaced atomically on each exit)."""
    try:
        st = os.stat(os.path.join(c.state_dir, "exit.json"))
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _follow_until_exit(
    c: Container,
    before: tuple[int, int] | None,
    since: float | None = None,
    streams: set[str] | None = None,
) -> int:
    """Copy the log to our stdout/stderr until the monitor records a new exit status (its
    exit file is no longer ``before``), so no output it drains late is lost; return it.
    """
    from pycontainers.runtime.detach import read_exit
    from pycontainers.runtime.logs import read_logs
    from pycontainers.runtime.monitored import monitor_alive

    def running() -> bool:
        return exit_key(c) == before and monitor_alive(c)

    shown = {"stdout", "stderr"} if streams is None else streams
    # the wait ends when its process exits (a restart's later runs: polled)
    for entry in read_logs(c.state_dir, follow=True, running=running, since=since, wake=c.pidfd,
                           stdout="stdout" in shown, stderr="stderr" in shown):  # fmt: skip
        out = sys.stderr if entry.stream == "stderr" else sys.stdout
        out.buffer.write(entry.data)
        out.flush()
    done = read_exit(c.state_dir) if exit_key(c) != before else None
    if done is None:
        raise CommandError(f"container {c.id[:12]} exited but no status was recorded")
    return int(done["exit_code"])


def _attach(
    c: Container,
    stdin: bool,
    tty: bool,
    session: Any = None,
    detach_keys: str | None = None,
    streams: set[str] | None = None,
) -> int | None:
    """Attach this process's stdio (``streams``: those of stdout and stderr to show)."""
    from pycontainers.runtime.attach import DEFAULT_DETACH_KEYS, attach

    keys = DEFAULT_DETACH_KEYS if detach_keys is None else detach_keys
    shown = {"stdout", "stderr"} if streams is None else streams
    with open(os.devnull, "wb") as null:
        result: int | None = attach(
            c, stdin=stdin, tty=tty, session=session, detach_keys=keys,
            stdout=None if "stdout" in shown else null,
            stderr=None if "stderr" in shown else null,
        )  # fmt: skip
    return result


# -- run, create, start -----------------------------------------------------------------


def _create(args: argparse.Namespace, foreground: bool) -> Container:
    from pycontainers.cli.runextra import exposed_ports, write_cidfile
    from pycontainers.cli.runflags import command_of, create_kwargs, resolve_image
    from pycontainers.runtime.container import Container

    kw = create_kwargs(args, foreground=foreground)
    image = resolve_image(args.image, args.root, pull=args.pull, platform=args.platform)
    published = exposed_ports(args, image)
    if published:
        kw["ports"] = [*kw.get("ports", ()), *published]
        if kw.get("network") == "none" and not args.network:
            kw["network"] = "bridge"
    c = Container.create(image, command_of(args), **kw)
    try:
        write_cidfile(args, c.id)
    except BaseException:
        c.delete()
        raise
    return c


def _cmd_create(args: argparse.Namespace) -> int:
    c = _create(args, foreground=False)
    print(c.id)
    c.close()
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pycontainers.errors import ContainerStartError

    if args.detach and args.attach:
        raise CommandError("Conflicting options: -a and -d")
    c = _create(args, foreground=not args.detach)
    if args.rm and not args.detach:
        c.claim_cleanup()  # we delete it after its exit: its monitor need not clean up
    before = exit_key(c)
    session = None
    try:
        if not args.detach and (args.interactive or args.tty or args.log_driver == "none"):
            from pycontainers.runtime.attach import connect

            session = connect(c)  # before the start: no output is missed (nor unlogged)
            if args.tty:  # the terminal's size before the first process runs (as docker)
                from pycontainers.runtime._term import winsize

                size = next((winsize(fd) for fd in (0, 1) if os.isatty(fd)), None)
                if size is not None and all(size):
                    session.resize(*size)
        try:
            c.start()
        except ContainerStartError as exc:
            if session is not None:
                session.close()
            print(f"pycontainers: {exc}", file=sys.stderr)
            if args.rm:
                c.delete()
            return exc.exit_code
        if args.detach:
            print(c.id)
            return 0
        return _foreground(c, args, before, session)
    finally:
        c.close()


def _foreground(c: Container, args: argparse.Namespace, before: Any, session: Any) -> int:
    """Follow a started container until it exits (Ctrl-C stops it); --rm removes it."""
    code: int | None = 130
    from pycontainers.cli.runextra import attached_streams, proxy_signals

    streams = attached_streams(args)
    proxy = args.sig_proxy == "true" and not args.tty
    restore = proxy_signals(c) if proxy else None
    try:
        if session is not None:
            code = _attach(c, stdin="stdin" in streams and args.interactive, tty=args.tty,
                           session=session, detach_keys=args.detach_keys,
                           streams=streams)  # fmt: skip
            if code is None:  # the user detached: the container runs on
                return 0
        else:
            code = _follow_until_exit(c, before, streams=streams)
    except KeyboardInterrupt:
        if proxy:  # the container's process sees the interrupt first (as Docker's proxy)
            import signal

            with contextlib.suppress(Exception):
                c.kill(signal.SIGINT)
        c.stop(timeout=10)
        code = 130
    finally:
        if restore is not None:
            restore()
        if args.rm and code is not None:
            c.delete()
    return code


def _cmd_start(args: argparse.Namespace) -> int:
    if not args.attach and not args.interactive:
        return _each(args.containers, _start)
    if len(args.containers) != 1:
        raise CommandError("you cannot start and attach multiple containers at once")
    from pycontainers.errors import ContainerStartError

    c = _load(args.containers[0])
    try:
        t0 = time.time()
        before = exit_key(c)
        try:
            _start(c)
        except ContainerStartError as exc:
            print(f"pycontainers: {exc}", file=sys.stderr)
            return exc.exit_code
        if args.interactive:
            code = _attach(c, stdin=True, tty=bool(c.inspect().get("Config", {}).get("Tty")))
            return 0 if code is None else code
        return _follow_until_exit(c, before, since=t0 - 0.05)
    finally:
        c.close()


def _start(c: Container) -> None:
    status = c.status
    if status in ("running", "paused"):
        raise CommandError(f"container {c.name or c.id[:12]} is already {status}")
    if status == "stopped":
        from pycontainers.runtime.monitored import wait_monitor_gone

        wait_monitor_gone(c)  # its exit hook must be done before a new run is set up
    c.start()


def _cmd_ps(args: argparse.Namespace) -> int:
    from pycontainers.cli.ps import ps

    return ps(args)


# -- exec, logs --------------------------------------------------------------------------


def _cmd_exec(args: argparse.Namespace) -> int:
    from pycontainers.cli.runflags import parse_env
    from pycontainers.errors import ContainerStartError
    from pycontainers.runtime.stdio import DEVNULL

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise CommandError("exec needs a command")
    c = _load(args.container)
    try:
        status = c.status
        if status == "paused":
            raise CommandError(f"container {args.container} is paused, unpause it first")
        if status != "running":
            raise CommandError(f"container {args.container} is not running")
        kw: dict[str, Any] = {"env": parse_env(args.env, args.env_file), "user": args.user,
                              "cwd": args.workdir, "privileged": args.privileged,
                              "cap_add": tuple(args.cap_add)}  # fmt: skip
        if args.detach:
            kw.update(stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
            if os.fork() != 0:
                return 0
            os.setsid()
            try:
                c.exec(cmd, **kw)
            finally:
                os._exit(0)
        if args.tty:
            from pycontainers.cli.exectty import exec_tty

            return exec_tty(c, cmd, interactive=args.interactive, **kw)
        if not args.interactive:
            kw["stdin"] = DEVNULL
        try:
            return c.exec(cmd, **kw).returncode
        except ContainerStartError as exc:
            print(f"pycontainers: {exc}", file=sys.stderr)
            return exc.exit_code
    finally:
        c.close()


def _cmd_logs(args: argparse.Namespace) -> int:
    from pycontainers.cli.output import parse_time_arg

    tail = None if args.tail in ("all", "-1") else int(args.tail)
    since = parse_time_arg(args.since, "since") if args.since else None
    until = parse_time_arg(args.until, "until") if args.until else None
    c = _load(args.container)
    try:
        entries = c.logs(follow=args.follow, tail=tail, since=since, until=until)
        for e in entries:
            out = sys.stderr if e.stream == "stderr" else sys.stdout
            if args.timestamps:
                out.buffer.write(e.time.encode() + b" ")
            out.buffer.write(e.data)
            out.flush()
    except KeyboardInterrupt:
        return 0
    finally:
        c.close()
    return 0


# -- stop, kill, restart, rm, pause, unpause, wait ---------------------------------------


def _cmd_stop(args: argparse.Namespace) -> int:
    sig = parse_signal(args.signal) if args.signal else None
    return _each(args.containers, lambda c: c.stop(timeout=args.time, sig=sig))


def _cmd_restart(args: argparse.Namespace) -> int:
    sig = parse_signal(args.signal) if args.signal else None

    def restart(c: Container) -> None:
        c.stop(timeout=args.time, sig=sig)
        _start(c)

    return _each(args.containers, restart)


def _cmd_kill(args: argparse.Namespace) -> int:
    sig = parse_signal(args.signal)

    def kill(c: Container) -> None:
        if c.status not in ("running", "paused"):
            raise CommandError(f"container {c.name or c.id[:12]} is not running")
        c.kill(sig)

    return _each(args.containers, kill)


def _cmd_rm(args: argparse.Namespace) -> int:
    def rm(c: Container) -> None:
        status = c.status
        if status in ("running", "paused") and not args.force:
            raise CommandError(
                f"cannot remove container {c.name or c.id[:12]}: it is {status}; "
                "stop it first or use rm -f"
            )
        anonymous = _anonymous_volumes(c) if args.volumes else []
        c.delete()
        if anonymous:
            from pycontainers.runtime.volumes import Volume

            for name in anonymous:
                Volume.get(name).remove()

    return _each(args.containers, rm)


def _anonymous_volumes(c: Container) -> list[str]:
    """Names of the anonymous volumes ``c`` uses."""
    from pycontainers.runtime.volumes import Volume

    return [v.name for v in Volume.list() if v.anonymous and c.id in v.users()]


def _cmd_pause(args: argparse.Namespace) -> int:
    return _each(args.containers, lambda c: c.pause())


def _cmd_unpause(args: argparse.Namespace) -> int:
    return _each(args.containers, lambda c: c.resume())


def _cmd_wait(args: argparse.Namespace) -> int:
    return _each(args.containers, lambda c: c.wait())


def _cmd_container(args: argparse.Namespace) -> int:
    from pycontainers.cli.system import confirm, prune_containers

    if not args.force and not confirm("This will remove all stopped containers."):
        return 0
    removed = prune_containers()
    print(
        "Deleted Containers:" if removed else "Total reclaimed: no containers", *removed, sep="\n"
    )
    return 0


# -- inspect -----------------------------------------------------------------------------


def _find(ref: str, kind: str | None, root: str | None) -> dict[str, Any]:
    from pycontainers.errors import PyContainersError

    kinds = [kind] if kind else ["container", "network", "volume", "image"]
    for k in kinds:
        if k == "container":
            try:
                c = _load(ref)
            except PyContainersError:
                continue  # only "no such container" falls through to the next kind
            try:
                return _inspect_container(c)  # its failure is its own error
            finally:
                c.close()
        try:
            if k == "network":
                from pycontainers.network.network import Network

                return Network.get(ref).inspect()
            if k == "volume":
                from pycontainers.runtime.volumes import Volume

                info: dict[str, Any] = Volume.get(ref).inspect()
                return info
            if k == "image":
                from pycontainers.images import default_store

                image_info: dict[str, Any] = default_store(root).inspect(ref)
                return image_info
        except (PyContainersError, ImportError):
            continue
    raise CommandError(f"no such object: {ref}")


def _inspect_container(c: Container) -> dict[str, Any]:
    """``c.inspect()``; a failure of a container that exists is its own error, never
    mistaken for "no such object" (its exit hook may be changing it at this moment).
    """
    from pycontainers.errors import PyContainersError

    try:
        return c.inspect()
    except PyContainersError as exc:
        raise CommandError(f"cannot inspect container {c.name or c.id[:12]}: {exc}") from exc


def _cmd_inspect(args: argparse.Namespace) -> int:
    from pycontainers.cli.output import render

    status = 0
    found = []
    for ref in args.objects:
        try:
            found.append(_find(ref, args.type, args.root))
        except CommandError as exc:
            print(f"pycontainers: {exc}", file=sys.stderr)
            status = EXIT_ERROR
    if args.format:
        for obj in found:
            print(render(args.format, obj))
    else:
        json.dump(found, sys.stdout, indent=4)
        print()
    return status


__all__ = ["COMMANDS", "CommandError", "add_commands", "parse_signal", "run_command"]
