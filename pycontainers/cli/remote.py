"""The CLI as a client of a daemon (``--host``, ``$PYCONTAINERS_HOST``, ``$DOCKER_HOST``):
the same parsed commands as the local CLI, run through :class:`pycontainers.client.Client`
instead of the library. This module has the container commands;
:mod:`pycontainers.cli.remote_objects` the images, volumes, networks and system ones. A
command that cannot be carried out through the Engine API fails with a message that says
so; none ever falls back to acting on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pycontainers.errors import ApiError, CommandError

if TYPE_CHECKING:
    from pycontainers.client.client import Client
    from pycontainers.client.objects import RemoteContainer

EXIT_ERROR = 125

# commands (and `system`'s subcommands) that only make sense here: never sent to a daemon
LOCAL_ONLY = frozenset({"serve", "check", "system service", "system dial-stdio"})


def run_command(args: argparse.Namespace, client: Client) -> int:
    """Run the parsed command ``args`` against ``client``'s daemon; the exit status."""
    handler = globals().get("_cmd_" + args.command)
    if handler is None:
        from pycontainers.cli import remote_objects

        handler = getattr(remote_objects, "cmd_" + args.command, None)
    if handler is None:
        raise CommandError(
            f"'{args.command}' is not supported with a remote daemon (--host {client.base_url}); "
            "run it on that machine"
        )
    result: int = handler(args, client)
    return result


def unsupported(args: argparse.Namespace, client: Client, what: str) -> CommandError:
    """The error of a (sub)command a daemon cannot do for us."""
    return CommandError(
        f"'{what}' is not supported with a remote daemon (--host {client.base_url})"
    )


def each(refs: Iterable[str], action: Callable[[str], object]) -> int:
    """Apply ``action`` to each ref, printing it (or the error); 125 if any failed."""
    status = 0
    for ref in refs:
        try:
            out = action(ref)
            print(ref if out is None else out)
        except (ApiError, CommandError) as exc:
            print(f"pycontainers: {exc}", file=sys.stderr)
            status = EXIT_ERROR
    return status


def _container(client: Client, ref: str) -> RemoteContainer:
    return client.containers.get(ref)


# -- run, create, start ------------------------------------------------------------------


def _create(args: argparse.Namespace, client: Client) -> RemoteContainer:
    from pycontainers.cli.remote_run import create_body

    body = create_body(args)
    if args.pull == "always":
        _pull(client, args.image)
    try:
        c = client.containers.create_raw(body, args.name)
    except ApiError as exc:
        if exc.status != 404 or args.pull == "never" or "image" not in exc.message.lower():
            raise
        print(f"Unable to find image '{args.image}' on the daemon; pulling", file=sys.stderr)
        _pull(client, args.image)
        c = client.containers.create_raw(body, args.name)
    if args.cidfile:
        with open(args.cidfile, "x") as f:
            f.write(c.id)
    return c


def _pull(client: Client, ref: str) -> None:
    from pycontainers.client.objects import split_ref

    name, tag = split_ref(ref)
    for _ in client.json_stream("POST", "/images/create", params={"fromImage": name, "tag": tag}):
        pass


def _cmd_create(args: argparse.Namespace, client: Client) -> int:
    print(_create(args, client).id)
    return 0


def _cmd_run(args: argparse.Namespace, client: Client) -> int:
    c = _create(args, client)
    if args.detach:
        c.start()
        print(c.id)
        return 0
    # as the docker CLI: attach and ask for the exit (or, with --rm, the daemon's removal)
    # before the start, so neither output nor status can be missed
    conn = client.hijack(
        f"/containers/{c.id}/attach",
        params={"stream": True, "stdin": args.interactive, "stdout": True, "stderr": True},
    )
    try:
        done = c.wait_later("removed" if args.rm else "next-exit")
        try:
            c.start()
        except ApiError:
            if args.rm:
                with contextlib.suppress(ApiError):  # the daemon's AutoRemove may be first
                    c.remove(force=True)
            raise
        if args.tty:
            _resize(client, f"/containers/{c.id}/resize")
        _attached(conn, args.interactive, args.tty)
        return done()
    except KeyboardInterrupt:
        c.stop()
        return 130
    finally:
        conn.close()


def _attached(conn: Any, interactive: bool, tty: bool) -> None:
    """Pump the attach stream (raw terminal mode for an interactive tty) to its end."""
    from pycontainers.client.streams import pump

    stdin = sys.stdin.buffer if interactive else None
    restore = _raw_terminal() if tty and interactive else None
    try:
        pump(conn, tty=tty, stdin=stdin, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer)
    finally:
        if restore is not None:
            restore()


def _raw_terminal() -> Callable[[], None] | None:
    import os
    import termios
    import tty

    if not os.isatty(0):
        return None
    saved = termios.tcgetattr(0)
    tty.setraw(0)
    return lambda: termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _resize(client: Client, path: str) -> None:
    import os

    for fd in (0, 1):
        if os.isatty(fd):
            size = os.get_terminal_size(fd)
            try:
                client.request("POST", path, params={"h": size.lines, "w": size.columns})
            except ApiError:
                pass  # a size is a nicety
            return


def _cmd_start(args: argparse.Namespace, client: Client) -> int:
    if not args.attach and not args.interactive:
        return each(args.containers, lambda ref: _container(client, ref).start())
    if len(args.containers) != 1:
        raise CommandError("you cannot start and attach multiple containers at once")
    c = _container(client, args.containers[0])
    conn = client.hijack(
        f"/containers/{c.id}/attach",
        params={"stream": True, "stdin": args.interactive, "stdout": True, "stderr": True},
    )
    try:
        done = c.wait_later("next-exit")
        c.start()
        _attached(conn, args.interactive, c.tty)
        return done()
    finally:
        conn.close()


def _cmd_attach(args: argparse.Namespace, client: Client) -> int:
    c = _container(client, args.container)
    if c.status != "running":
        raise CommandError(f"cannot attach to container {args.container}: it is {c.status}")
    stdin = not args.no_stdin and bool((c.attrs.get("Config") or {}).get("OpenStdin"))
    conn = client.hijack(
        f"/containers/{c.id}/attach",
        params={"stream": True, "stdin": stdin, "stdout": True, "stderr": True},
    )
    try:
        done = c.wait_later("next-exit")
        _attached(conn, stdin, c.tty)
        return done()
    finally:
        conn.close()


# -- ps, exec, logs --------------------------------------------------------------------


def _cmd_ps(args: argparse.Namespace, client: Client) -> int:
    from pycontainers.cli.output import ago, print_formatted

    filters: dict[str, list[str]] = {}
    for entry in args.filter:
        key, _, value = entry.partition("=")
        filters.setdefault(key, []).append(value)
    params: dict[str, Any] = {"all": args.all}
    if filters:
        params["filters"] = filters
    rows = client.request("GET", "/containers/json", params=params)
    if args.quiet:
        for row in rows:
            print(row["Id"] if args.no_trunc else row["Id"][:12])
        return 0
    now = time.time()
    shown = []
    for row in rows:
        command = row.get("Command") or ""
        ports = ", ".join(
            f"{p.get('IP', '')}:{p['PublicPort']}->{p['PrivatePort']}/{p.get('Type', 'tcp')}"
            if p.get("PublicPort") else f"{p['PrivatePort']}/{p.get('Type', 'tcp')}"
            for p in row.get("Ports") or []
        )  # fmt: skip
        shown.append({
            "ID": row["Id"] if args.no_trunc else row["Id"][:12],
            "Image": row.get("Image", ""),
            "Command": json.dumps(command if args.no_trunc else command[:20]),
            "RunningFor": ago(float(row.get("Created") or now), now),
            "Status": row.get("Status", ""), "State": row.get("State", ""),
            "Ports": ports, "Names": ",".join(n.lstrip("/") for n in row.get("Names") or []),
            "Labels": ",".join(f"{k}={v}" for k, v in (row.get("Labels") or {}).items()),
        })  # fmt: skip
    columns = ("ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names")
    print_formatted(shown, args.format, columns)
    return 0


def _cmd_exec(args: argparse.Namespace, client: Client) -> int:
    from pycontainers.cli.runflags import parse_env

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise CommandError("exec needs a command")
    if args.cap_add:
        raise unsupported(args, client, "exec --cap-add")
    c = _container(client, args.container)
    env = parse_env(args.env, args.env_file)
    exec_id = c.create_exec(
        cmd, env=env, user=args.user, cwd=args.workdir, privileged=args.privileged,
        tty=args.tty, stdin=args.interactive,
    )  # fmt: skip
    if args.detach:
        client.request("POST", f"/exec/{exec_id}/start", body={"Detach": True, "Tty": args.tty})
        return 0
    conn = client.hijack(f"/exec/{exec_id}/start", body={"Detach": False, "Tty": args.tty})
    try:
        if args.tty:
            _resize(client, f"/exec/{exec_id}/resize")
        restore = _raw_terminal() if args.tty and args.interactive else None
        try:
            from pycontainers.client.streams import pump

            if not args.interactive:
                conn.close_stdin()
            stdin = sys.stdin.buffer if args.interactive else None
            pump(conn, tty=args.tty, stdin=stdin, stdout=sys.stdout.buffer,
                 stderr=sys.stderr.buffer)  # fmt: skip
        finally:
            if restore is not None:
                restore()
    finally:
        conn.close()
    code = client.request("GET", f"/exec/{exec_id}/json").get("ExitCode")
    return int(code) if code is not None else EXIT_ERROR


def _cmd_logs(args: argparse.Namespace, client: Client) -> int:
    from pycontainers.cli.output import parse_time_arg

    c = _container(client, args.container)
    tail = None if args.tail in ("all", "-1") else int(args.tail)
    since = parse_time_arg(args.since, "since") if args.since else None
    until = parse_time_arg(args.until, "until") if args.until else None
    try:
        for e in c.logs(
            follow=args.follow, tail=tail, since=since, until=until, timestamps=args.timestamps
        ):
            out = sys.stderr if e.stream == "stderr" else sys.stdout
            if args.timestamps:
                out.buffer.write(e.time.encode() + b" ")
            out.buffer.write(e.data)
            out.flush()
    except KeyboardInterrupt:
        return 0
    return 0


# -- stop, kill, restart, rm, pause, unpause, wait, inspect ------------------------------


def _cmd_stop(args: argparse.Namespace, client: Client) -> int:
    return each(args.containers, lambda r: _container(client, r).stop(args.time, args.signal))


def _cmd_restart(args: argparse.Namespace, client: Client) -> int:
    return each(args.containers, lambda r: _container(client, r).restart(args.time, args.signal))


def _cmd_kill(args: argparse.Namespace, client: Client) -> int:
    return each(args.containers, lambda r: _container(client, r).kill(args.signal))


def _cmd_rm(args: argparse.Namespace, client: Client) -> int:
    return each(
        args.containers,
        lambda r: client.request(
            "DELETE", f"/containers/{r}", params={"force": args.force, "v": args.volumes}
        ),
    )


def _cmd_update(args: argparse.Namespace, client: Client) -> int:
    from pycontainers.cli.remote_run import update_body

    body = update_body(args)
    if not body:
        raise CommandError("update needs at least one limit (--memory, --cpus, --pids-limit...)")

    def update(ref: str) -> None:
        client.request("POST", f"/containers/{ref}/update", body=body)

    return each(args.containers, update)


def _cmd_pause(args: argparse.Namespace, client: Client) -> int:
    return each(args.containers, lambda r: _container(client, r).pause())


def _cmd_unpause(args: argparse.Namespace, client: Client) -> int:
    return each(args.containers, lambda r: _container(client, r).resume())


def _cmd_wait(args: argparse.Namespace, client: Client) -> int:
    return each(args.containers, lambda r: _container(client, r).wait())


def _cmd_container(args: argparse.Namespace, client: Client) -> int:
    from pycontainers.cli.system import confirm

    if not args.force and not confirm("This will remove all stopped containers."):
        return 0
    removed = client.request("POST", "/containers/prune").get("ContainersDeleted") or []
    print(
        "Deleted Containers:" if removed else "Total reclaimed: no containers", *removed, sep="\n"
    )
    return 0


_INSPECT = {
    "container": "/containers/{}/json",
    "image": "/images/{}/json",
    "network": "/networks/{}",
    "volume": "/volumes/{}",
}


def _inspect(client: Client, ref: str, kind: str | None) -> dict[str, Any]:
    for k in [kind] if kind else list(_INSPECT):
        try:
            answer: dict[str, Any] = client.request("GET", _INSPECT[k].format(ref))
            return answer
        except ApiError as exc:
            if exc.status != 404:
                raise
    raise CommandError(f"no such object: {ref}")


def _cmd_inspect(args: argparse.Namespace, client: Client) -> int:
    from pycontainers.cli.output import print_inspected

    return print_inspected(args.objects, lambda r: _inspect(client, r, args.type), args.format)


__all__ = ["LOCAL_ONLY", "each", "run_command", "unsupported"]
