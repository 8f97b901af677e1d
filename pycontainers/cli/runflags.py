"""The flags of ``run`` and ``create``: argparse definitions and their translation into
:meth:`Container.create` keywords (mounts, ports, env files, security options, health).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pycontainers.errors import SpecError
from pycontainers.runtime.flagparse import (
    parse_log_opts,
    parse_mount,
    parse_security_opts,
    parse_tmpfs,
    parse_volume,
)

if TYPE_CHECKING:  # argparse is loaded only to build a parser (run's plain forms need none)
    import argparse


def add_run_flags(p: argparse.ArgumentParser, *, run: bool) -> None:
    """Add the flags ``run`` and ``create`` share (``run`` adds -d and --rm semantics)."""
    import argparse

    a = p.add_argument
    if run:
        a("-d", "--detach", action="store_true", help="run in the background, print the id")
    a("--rm", action="store_true", help="remove the container when it exits")
    a("--name", help="assign a name to the container")
    a("-i", "--interactive", action="store_true", help="keep stdin open and attach it")
    a("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    a(
        "-e",
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="set a variable (K alone: from here)",
    )
    a("--env-file", action="append", default=[], metavar="FILE", help="read variables from a file")
    a("-l", "--label", action="append", default=[], metavar="K=V", help="set a label")
    a("-v", "--volume", action="append", default=[], metavar="SRC:DST[:OPTS]",
      help="bind-mount a host path (absolute SRC), a named volume (NAME:DST) or an anonymous volume (DST)")  # fmt: skip
    a("--mount", action="append", default=[], metavar="type=...,src=...,dst=...",
      help="a bind, volume or tmpfs mount in Docker's --mount syntax")  # fmt: skip
    a("--tmpfs", action="append", default=[], metavar="DST[:OPTS]", help="mount a tmpfs")
    a("-p", "--publish", action="append", default=[], metavar="[IP:]HOST:CTR[/PROTO]",
      help="publish a container port on the host")  # fmt: skip
    a("--network", "--net", dest="network", metavar="NET",
      help="bridge (default as root), none, host, container:<name>, ns:<path> or a network name")  # fmt: skip
    a(
        "--network-alias",
        action="append",
        default=[],
        metavar="ALIAS",
        help="another name on the network",
    )
    a("--dns", action="append", default=[], metavar="IP", help="a DNS server for /etc/resolv.conf")
    a("--add-host", action="append", default=[], metavar="HOST:IP", help="add to /etc/hosts")
    a("--bandwidth", metavar="RATE", help="tc limit: 1mbit, or egress=1mbit,ingress=10mbit (ours)")
    a("-h", "--hostname", help="container host name")
    a("-m", "--memory", metavar="BYTES", help="memory limit (64m, 1g)")
    a("--memory-swap", metavar="BYTES", help="memory plus swap limit")
    a("--cpus", metavar="N", help="number of CPUs (0.5)")
    a("--cpuset-cpus", metavar="LIST", help="CPUs to run on (0-2,4)")
    a("--cpu-shares", type=int, metavar="N", help="relative CPU weight")
    a("--pids-limit", type=int, metavar="N", help="process limit (-1: unlimited)")
    a("-u", "--user", metavar="UID[:GID]", help="user to run as (uid[:gid] or name)")
    a("-w", "--workdir", metavar="DIR", help="working directory inside")
    a("--entrypoint", help="override the image's entrypoint")
    a("--read-only", action="store_true", help="mount the rootfs read-only")
    a("--init", action="store_true", help="run a tiny init as PID 1")
    a("--stop-signal", help="the signal that stops the container first (default: the "
      "image's StopSignal, else SIGTERM)")  # fmt: skip
    a("--privileged", action="store_true", help="all capabilities, no seccomp, all devices")
    a("--cap-add", action="append", default=[], metavar="CAP", help="add a capability")
    a("--cap-drop", action="append", default=[], metavar="CAP", help="drop a capability")
    a("--security-opt", action="append", default=[], metavar="OPT",
      help="seccomp=unconfined|<profile.json>, no-new-privileges[=true|false]")  # fmt: skip
    a("--userns", metavar="MODE", help="auto (map root to subordinate ids) or host")
    a(
        "--restart",
        default="no",
        metavar="POLICY",
        help="no, always, unless-stopped, on-failure[:N]",
    )
    a("--health-cmd", metavar="CMD", help="command (sh -c) that checks health")
    a("--health-interval", metavar="DUR", default="30s", help="time between checks (30s)")
    a("--health-timeout", metavar="DUR", default="30s", help="longest a check may run (30s)")
    a("--health-retries", type=int, default=3, metavar="N", help="failures until unhealthy (3)")
    a("--health-start-period", metavar="DUR", default="0", help="grace period at start (0)")
    a("--no-healthcheck", action="store_true", help="no health check")
    a("--log-opt", action="append", default=[], metavar="max-size=10m|max-file=3",
      help="json-file log rotation")  # fmt: skip
    from pycontainers.cli.runextra import add_extra_flags

    add_extra_flags(p)
    a("--help", action="help", help="show this help message and exit")
    a("image", metavar="IMAGE", help="an image, a rootfs directory, or 'host'")
    a("cmd", nargs=argparse.REMAINDER, metavar="CMD")


def _env_file(path: str) -> list[str]:
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise SpecError(
            "env-file", f"cannot read {path}: {exc.strerror}", errno=exc.errno, path=path
        ) from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line)
    return out


def parse_env(env: Sequence[str], files: Sequence[str]) -> dict[str, str]:
    """``-e``/``--env-file`` entries as a dict (``K`` alone takes this process's value)."""
    out: dict[str, str] = {}
    for entry in [*(e for f in files for e in _env_file(f)), *env]:
        key, sep, value = entry.partition("=")
        if not key:
            raise SpecError("env", f"invalid variable {entry!r}")
        if sep:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def parse_labels(labels: Sequence[str]) -> dict[str, str]:
    """``--label K=V`` (``K`` alone: an empty value)."""
    out = {}
    for entry in labels:
        key, _, value = entry.partition("=")
        if not key:
            raise SpecError("label", f"invalid label {entry!r}")
        out[key] = value
    return out


def resolve_image(
    image: str, data_root: str | None, *, pull: str = "missing", platform: str | None = None
) -> Any:
    """IMAGE as Container.create takes it: 'host', a rootfs directory, or a store image
    (``pull``: ``missing`` pulls it when the store has none, ``always`` first, ``never``
    not at all).
    """
    if image == "host":
        return image
    if image.startswith(("/", "./", "../")) or (os.sep in image and os.path.isdir(image)):
        return os.path.abspath(image)
    from pycontainers.cli.registry import ensure_image
    from pycontainers.images import default_store

    store = default_store(data_root)
    if pull == "never":
        return store.get(image)
    if pull == "always":
        return store.pull(image, platform=platform)
    return ensure_image(store, image, platform=platform)


def command_of(args: argparse.Namespace) -> list[str]:
    """The CMD after IMAGE (a leading ``--`` dropped); ``host`` defaults to /bin/sh."""
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd and args.image == "host":
        cmd = ["/bin/sh"]
    return cmd


def create_kwargs(args: argparse.Namespace, *, foreground: bool = False) -> dict[str, Any]:
    """Container.create keywords (after rootfs and args) for parsed run/create flags.

    ``foreground``: a ``run`` without -d, whose removal (--rm) the CLI does itself.
    """
    from pycontainers.runtime.detach import HealthCheck

    kw: dict[str, Any] = {
        "detach": True,
        "name": args.name,
        "tty": args.tty,
        "interactive": args.interactive,
        "restart": args.restart,
        "labels": parse_labels(args.label),
        "auto_remove": args.rm and not foreground,
        "env": parse_env(args.env, args.env_file),
        "hostname": args.hostname,
        "cwd": args.workdir,
        "user": args.user,
        "init": args.init,
        "stop_signal": args.stop_signal,
        "readonly_rootfs": args.read_only,
        "privileged": args.privileged,
        "cap_add": args.cap_add,
        "cap_drop": args.cap_drop,
        "image_root": args.root,
        **parse_security_opts(args.security_opt),
        **parse_log_opts(args.log_opt),
    }
    if args.rm and args.restart not in ("no", ""):
        raise SpecError("restart", "--restart and --rm conflict")
    if args.entrypoint is not None:
        kw["entrypoint"] = [args.entrypoint] if args.entrypoint else []
    if args.userns:
        kw["userns"] = args.userns
    mounts = [parse_volume(v) for v in args.volume]
    mounts += [parse_mount(m) for m in args.mount]
    mounts += [parse_tmpfs(t) for t in args.tmpfs]
    if mounts:
        kw["mounts"] = mounts
    network = args.network or ("bridge" if os.geteuid() == 0 or args.publish else "none")
    kw["network"] = network
    if args.publish:
        kw["ports"] = list(args.publish)
    for key, value in (("aliases", args.network_alias), ("dns", args.dns)):
        if value:
            kw[key] = list(value)
    if args.add_host:
        kw["extra_hosts"] = [h.replace("=", ":", 1) for h in args.add_host]
    if args.bandwidth:
        kw["bandwidth"] = args.bandwidth
    limits = {
        "memory": args.memory,
        "memswap_limit": args.memory_swap,
        "cpus": args.cpus,
        "cpuset_cpus": args.cpuset_cpus,
        "cpu_shares": args.cpu_shares,
        "pids_limit": args.pids_limit,
    }
    kw.update({k: v for k, v in limits.items() if v is not None})
    if args.no_healthcheck:
        kw["healthcheck"] = "none"  # not even the image's
    elif args.health_cmd:
        kw["healthcheck"] = HealthCheck(
            test=args.health_cmd,
            interval=args.health_interval,
            timeout=args.health_timeout,
            retries=args.health_retries,
            start_period=args.health_start_period,
        )
    from pycontainers.cli.runextra import extra_kwargs

    extra_kwargs(args, kw)
    return kw


__all__ = [
    "add_run_flags",
    "command_of",
    "create_kwargs",
    "parse_env",
    "parse_labels",
    "parse_mount",
    "parse_security_opts",
    "parse_tmpfs",
    "parse_volume",
    "resolve_image",
]
