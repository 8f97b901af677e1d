"""More flags of ``run`` and ``create``, as Docker spells them: limits (``--ulimit``,
``--shm-size``, ``--memory-reservation``, ``--cpu-quota``/``--cpu-period``,
``--cgroup-parent``), namespaces shared with the host (``--pid``/``--ipc``/``--uts host``),
``--domainname``, ``--label-file``, ``--cidfile``, ``-P``/``--expose``, ``--pull`` and
``--platform``, ``--stop-timeout``, ``--group-add``, ``--ip``, ``--sysctl``,
``--dns-search``/``--dns-option``, ``--volumes-from``, ``--oom-score-adj``, ``--log-driver``,
``--device``; what a foreground ``run`` attaches (``-a``, ``--detach-keys``, ``--sig-proxy``);
and the flag we refuse with a reason (``--gpus``).
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from pycontainers.errors import SpecError

if TYPE_CHECKING:  # argparse is loaded only to build a parser (run's plain forms need none)
    import argparse

_SHARED = ("pid", "ipc", "uts")


def add_extra_flags(p: argparse.ArgumentParser) -> None:
    """Add these flags to a ``run`` or ``create`` parser."""
    import argparse

    a = p.add_argument
    a("--ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]",
      help="a resource limit (nofile=1024:2048; -1 or unlimited: no limit)")  # fmt: skip
    a("--shm-size", metavar="BYTES", help="size of /dev/shm (64m)")
    a("--memory-reservation", metavar="BYTES", help="memory soft limit")
    a("--cpu-quota", type=int, metavar="US", help="CPU time per period, microseconds")
    a("--cpu-period", type=int, metavar="US", help="CPU period, microseconds (100000)")
    a("--cpu-rt-runtime", type=int, metavar="US", help="real-time CPU time per period (v1)")
    a("--cpu-rt-period", type=int, metavar="US", help="real-time CPU period, microseconds (v1)")
    a("--memory-swappiness", type=int, metavar="N", help="0-100 (-1: the kernel's; v1)")
    a("--oom-kill-disable", action="store_true", help="the OOM killer leaves it alone (v1)")
    a("--blkio-weight-device", action="append", default=[], metavar="DEVICE:WEIGHT",
      help="block IO weight of one device (10-1000)")  # fmt: skip
    a("--cgroup-parent", metavar="PATH", help="parent cgroup of the container's (pycontainers)")
    for kind in _SHARED:
        a(f"--{kind}", metavar="MODE", help=f"host: share the host's {kind} namespace")
    a("--domainname", metavar="NAME", help="container NIS domain name")
    a("--label-file", action="append", default=[], metavar="FILE", help="read labels from a file")
    a("--cidfile", metavar="FILE", help="write the container id to FILE (must not exist)")
    a("-P", "--publish-all", action="store_true",
      help="publish every exposed port on a random host port")  # fmt: skip
    a("--expose", action="append", default=[], metavar="PORT[/PROTO]",
      help="expose a port (published by -P)")  # fmt: skip
    a("--pull", default="missing", choices=["always", "missing", "never"],
      help="pull the image before creating (missing)")  # fmt: skip
    a("--platform", metavar="OS/ARCH", help="the platform of the image to pull")
    a("--stop-timeout", type=int, metavar="SECONDS",
      help="seconds to wait before killing it on stop (10)")  # fmt: skip
    a("--group-add", action="append", default=[], metavar="GID",
      help="add supplementary groups")  # fmt: skip
    a("--ip", metavar="IPV4", help="the container's address on a user-defined network")
    a("--sysctl", action="append", default=[], metavar="NAME=VALUE",
      help="a namespaced kernel parameter (net.*, kernel.shm*, ...)")  # fmt: skip
    a("--dns-search", action="append", default=[], metavar="DOMAIN",
      help="a DNS search domain ('.' for none)")  # fmt: skip
    a("--dns-option", "--dns-opt", dest="dns_option", action="append", default=[],
      metavar="OPT", help="a resolv.conf option (ndots:2)")  # fmt: skip
    a("--volumes-from", action="append", default=[], metavar="CONTAINER[:ro|rw]",
      help="mount the volumes of another container")  # fmt: skip
    a(
        "--oom-score-adj",
        type=int,
        metavar="N",
        help="tune the OOM killer's preference (-1000..1000)",
    )
    a("--log-driver", default="json-file", choices=["json-file", "local", "none"],
      help="logging driver (json-file)")  # fmt: skip
    a("--detach-keys", metavar="KEYS", help="keys that detach from the container (ctrl-p,ctrl-q)")
    a("-a", "--attach", action="append", default=[], choices=["stdin", "stdout", "stderr"],
      help="attach to stdin, stdout or stderr")  # fmt: skip
    a("--sig-proxy", default="true", choices=["true", "false"], metavar="BOOL",
      help="proxy received signals to the process (true)")  # fmt: skip
    a("--gpus", metavar="GPUS", help=argparse.SUPPRESS)
    a("--device", action="append", default=[], metavar="HOST[:CONTAINER[:PERMS]]",
      help="add a host device (permissions: some of r, w, m; rwm)")  # fmt: skip


def _ulimit(entry: str) -> tuple[str, tuple[int, int]]:
    import resource

    name, sep, values = entry.partition("=")
    soft_text, _, hard_text = values.partition(":")

    def number(text: str) -> int:
        if text in ("-1", "unlimited"):
            return resource.RLIM_INFINITY
        try:
            n = int(text)
        except ValueError:
            raise SpecError("ulimit", f"{entry!r}: {text!r} is not a number") from None
        if n < 0:
            raise SpecError("ulimit", f"{entry!r}: limits are not negative")
        return n

    if not sep or not name or not soft_text:
        raise SpecError("ulimit", f"expected NAME=SOFT[:HARD], got {entry!r}")
    soft = number(soft_text)
    hard = number(hard_text) if hard_text else soft
    return name, (soft, hard)


def _weight_device(entry: str) -> tuple[str, str]:
    """Docker's ``--blkio-weight-device /dev/sda:200``."""
    device, sep, weight = entry.rpartition(":")
    if not sep or not device:
        raise SpecError("blkio_weight_device", f"expected DEVICE:WEIGHT, got {entry!r}")
    return device, weight


def _sysctl(entry: str) -> tuple[str, str]:
    name, sep, value = entry.partition("=")
    if not sep or not name:
        raise SpecError("sysctl", f"expected NAME=VALUE, got {entry!r}")
    return name, value


def _label_file(path: str) -> dict[str, str]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise SpecError(
            "label-file", f"cannot read {path}: {exc.strerror}", errno=exc.errno, path=path
        ) from None
    out = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def extra_kwargs(args: argparse.Namespace, kw: dict[str, Any]) -> None:
    """Add these flags' :meth:`Container.create` keywords to ``kw`` (refusing what we
    cannot do with a clear reason).
    """
    from pycontainers.spec import DEFAULT_NAMESPACES

    if args.gpus:
        raise SpecError("gpus", "GPUs are not supported by pycontainers")
    if args.device:
        from pycontainers.spec import DeviceMapping

        kw["devices"] = [DeviceMapping.parse("device", d) for d in args.device]
    if args.ulimit:
        kw["rlimits"] = dict(_ulimit(u) for u in args.ulimit)
    if args.sysctl:
        kw["sysctls"] = dict(_sysctl(s) for s in args.sysctl)
    for key, values in (
        ("group_add", args.group_add),
        ("dns_search", args.dns_search),
        ("dns_options", args.dns_option),
        ("volumes_from", args.volumes_from),
    ):
        if values:
            kw[key] = list(values)
    if args.ip:
        kw["ip"] = args.ip
    if args.log_driver != "json-file":
        kw["log_driver"] = args.log_driver
    for key, value in (
        ("shm_size", args.shm_size),
        ("memory_reservation", args.memory_reservation),
        ("cpu_quota", args.cpu_quota),
        ("cpu_period", args.cpu_period),
        ("cpu_rt_runtime", args.cpu_rt_runtime),
        ("cpu_rt_period", args.cpu_rt_period),
        ("mem_swappiness", args.memory_swappiness),
        ("oom_kill_disable", args.oom_kill_disable or None),
        ("blkio_weight_device", [_weight_device(w) for w in args.blkio_weight_device] or None),
        ("cgroup_parent", args.cgroup_parent),
        ("domainname", args.domainname),
        ("stop_timeout", args.stop_timeout),
        ("oom_score_adj", args.oom_score_adj),
    ):
        if value is not None:
            kw[key] = value
    shared = set()
    for kind in _SHARED:
        mode = getattr(args, kind)
        if mode is None or mode == "private":
            continue
        if mode != "host":
            raise SpecError(kind, f"--{kind} {mode!r}: only 'host' or 'private' are supported")
        shared.add(kind)
    if shared:
        kw["namespaces"] = DEFAULT_NAMESPACES - shared
    if args.label_file:
        labels: dict[str, str] = {}
        for path in args.label_file:
            labels.update(_label_file(path))
        kw["labels"] = {**labels, **kw.get("labels", {})}  # --label wins
    if args.cidfile and os.path.exists(args.cidfile):
        raise SpecError(
            "cidfile",
            f"container ID file {args.cidfile} exists: make sure the other container is not "
            "running, or delete it",
        )


def exposed_ports(args: argparse.Namespace, image: Any) -> list[str]:
    """``-P``: every port the image exposes and ``--expose`` names, on a random host port."""
    if not args.publish_all:
        return []
    ports = list(getattr(getattr(image, "config", None), "exposed_ports", ()) or ())
    ports += args.expose
    return [p if "/" in p else f"{p}/tcp" for p in dict.fromkeys(ports)]


def write_cidfile(args: argparse.Namespace, container_id: str) -> None:
    """``--cidfile``: the new container's id, in a file that did not exist."""
    if not args.cidfile:
        return
    try:
        fd = os.open(args.cidfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise SpecError(
            "cidfile", f"cannot create {args.cidfile}: {exc.strerror}", errno=exc.errno,
            path=args.cidfile,
        ) from None  # fmt: skip
    with os.fdopen(fd, "w") as f:
        f.write(container_id)


def attached_streams(args: argparse.Namespace) -> set[str]:
    """What a foreground run attaches: ``-a`` streams, else stdout, stderr (and stdin
    with -i), as Docker does.
    """
    if args.attach:
        return set(args.attach)
    return {"stdout", "stderr", *(["stdin"] if args.interactive else [])}


_PROXIED = ("SIGHUP", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCONT",
            "SIGPIPE", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGXCPU", "SIGXFSZ", "SIGVTALRM",
            "SIGPROF", "SIGIO", "SIGPWR", "SIGSYS")  # fmt: skip


def proxy_signals(c: Any) -> Any:
    """``--sig-proxy``: signals this process receives go to the container's process (SIGINT
    too, which then also stops it as before); returns a function restoring the handlers.
    """
    import signal

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(Exception):
            c.kill(signum)

    saved = {}
    for name in _PROXIED:
        sig = getattr(signal, name, None)
        if sig is not None:
            saved[sig] = signal.signal(sig, forward)

    def restore() -> None:
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    return restore


__all__ = [
    "add_extra_flags",
    "attached_streams",
    "exposed_ports",
    "extra_kwargs",
    "proxy_signals",
    "write_cidfile",
]
