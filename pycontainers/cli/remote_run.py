"""``run``/``create`` flags as Docker's create body (Config + HostConfig +
NetworkingConfig), for a daemon. A flag the translation does not carry is refused by name,
never dropped.
"""

from __future__ import annotations

import argparse
from typing import Any

from pycontainers.errors import CommandError

# flags that carry over (the rest, when given, are refused)
_CARRIED = frozenset(
    [
        "detach",
        "rm",
        "name",
        "interactive",
        "tty",
        "env",
        "env_file",
        "label",
        "volume",
        "mount",
        "tmpfs",
        "publish",
        "network",
        "network_alias",
        "dns",
        "add_host",
        "hostname",
        "memory",
        "memory_swap",
        "memory_reservation",
        "memory_swappiness",
        "oom_kill_disable",
        "cpus",
        "cpu_quota",
        "cpu_period",
        "cpu_rt_runtime",
        "cpu_rt_period",
        "blkio_weight_device",
        "cpuset_cpus",
        "cpu_shares",
        "pids_limit",
        "user",
        "workdir",
        "entrypoint",
        "read_only",
        "init",
        "stop_signal",
        "privileged",
        "cap_add",
        "cap_drop",
        "security_opt",
        "restart",
        "health_cmd",
        "health_interval",
        "health_timeout",
        "health_retries",
        "health_start_period",
        "no_healthcheck",
        "expose",
        "publish_all",
        "pull",
        "image",
        "cmd",
        "shm_size",
        "domainname",
        "ulimit",
    ]
)


def _defaults() -> dict[str, Any]:
    from pycontainers.cli.runflags import add_run_flags

    p = argparse.ArgumentParser(add_help=False)
    add_run_flags(p, run=True)
    return vars(p.parse_args(["image"]))


def refuse_uncarried(args: argparse.Namespace) -> None:
    """CommandError naming the first given flag a daemon would not get."""
    for key, default in _defaults().items():
        if key not in _CARRIED and getattr(args, key, default) != default:
            flag = "--" + key.replace("_", "-")
            raise CommandError(f"{flag} is not supported with a remote daemon (--host)")


def _ns(value: str) -> int:
    from pycontainers.cli.output import parse_duration

    return int(parse_duration(value, "health") * 1e9)


def _bytes(field: str, value: str) -> int:
    from pycontainers.cgroups._units import parse_bytes

    return parse_bytes(field, value)


def _mount(text: str) -> dict[str, Any]:
    fields = dict(
        ([*part.split("=", 1), ""])[:2] for part in text.split(",") if part
    )  # type=bind,src=..,dst=..
    kind = fields.get("type", "volume")
    source = fields.get("source") or fields.get("src") or ""
    target = fields.get("target") or fields.get("destination") or fields.get("dst") or ""
    if not target:
        raise CommandError(f"--mount {text!r}: no target")
    readonly = fields.get("readonly", fields.get("ro", "false")) in ("", "true", "1")
    return {"Type": kind, "Source": source, "Target": target, "ReadOnly": readonly}


def _ports(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in args.expose:
        port = spec if "/" in spec else f"{spec}/tcp"
        exposed[port] = {}
    for spec in args.publish:
        text, _, proto = spec.partition("/")
        parts = text.rsplit(":", 2) if not text.startswith("[") else [text]
        if len(parts) == 3:
            ip, host_port, ctr = parts
        elif len(parts) == 2:
            ip, (host_port, ctr) = "", parts
        else:
            ip, host_port, ctr = "", "", parts[0]
        key = f"{ctr}/{proto or 'tcp'}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": host_port})
    return exposed, bindings


def create_body(args: argparse.Namespace) -> dict[str, Any]:
    """Docker's ``POST /containers/create`` body for parsed run/create flags."""
    from pycontainers.cli.runflags import command_of, parse_env, parse_labels

    refuse_uncarried(args)
    if args.rm and args.restart not in ("no", ""):
        raise CommandError("--restart and --rm conflict")
    env = parse_env(args.env, args.env_file)
    exposed, bindings = _ports(args)
    host: dict[str, Any] = {
        "Binds": list(args.volume),
        "Mounts": [_mount(m) for m in args.mount],
        "Tmpfs": dict(([*t.split(":", 1), ""])[:2] for t in args.tmpfs),
        "PortBindings": bindings,
        "PublishAllPorts": args.publish_all,
        "AutoRemove": args.rm,
        "Privileged": args.privileged,
        "CapAdd": list(args.cap_add),
        "CapDrop": list(args.cap_drop),
        "SecurityOpt": list(args.security_opt),
        "ReadonlyRootfs": args.read_only,
        "Init": args.init or None,
        "Dns": list(args.dns),
        "ExtraHosts": [h.replace("=", ":", 1) for h in args.add_host],
        "RestartPolicy": _restart(args.restart),
    }
    if args.network:
        host["NetworkMode"] = args.network
    limits = {
        "Memory": args.memory and _bytes("memory", args.memory),
        "MemorySwap": args.memory_swap and _bytes("memory_swap", args.memory_swap),
        "NanoCpus": args.cpus and int(float(args.cpus) * 1e9),
        "CpusetCpus": args.cpuset_cpus,
        "CpuShares": args.cpu_shares,
        "PidsLimit": args.pids_limit,
        "ShmSize": args.shm_size and _bytes("shm_size", args.shm_size),
        "MemoryReservation": args.memory_reservation
        and _bytes("memory_reservation", args.memory_reservation),
        "MemorySwappiness": args.memory_swappiness,
        "OomKillDisable": args.oom_kill_disable or None,
        "CpuQuota": args.cpu_quota,
        "CpuPeriod": args.cpu_period,
        "CpuRealtimeRuntime": args.cpu_rt_runtime,
        "CpuRealtimePeriod": args.cpu_rt_period,
        "BlkioWeightDevice": [_weight_device(w) for w in args.blkio_weight_device] or None,
    }
    host.update({k: v for k, v in limits.items() if v is not None})
    if args.ulimit:
        host["Ulimits"] = [_ulimit(u) for u in args.ulimit]
    body: dict[str, Any] = {
        "Image": args.image,
        "Env": [f"{k}={v}" for k, v in env.items()],
        "Labels": parse_labels(args.label),
        "Tty": args.tty,
        "OpenStdin": args.interactive,
        "StdinOnce": args.interactive,
        "AttachStdin": args.interactive,
        "AttachStdout": not args.detach if "detach" in args else False,
        "AttachStderr": not args.detach if "detach" in args else False,
        "ExposedPorts": exposed,
        "HostConfig": host,
    }
    cmd = command_of(args)
    if cmd:
        body["Cmd"] = cmd
    optional = {
        "Hostname": args.hostname, "Domainname": args.domainname, "User": args.user,
        "WorkingDir": args.workdir, "StopSignal": args.stop_signal,
    }  # fmt: skip
    body.update({k: v for k, v in optional.items() if v})
    if args.entrypoint is not None:
        body["Entrypoint"] = [args.entrypoint] if args.entrypoint else []
    if args.no_healthcheck:
        body["Healthcheck"] = {"Test": ["NONE"]}
    elif args.health_cmd:
        body["Healthcheck"] = {
            "Test": ["CMD-SHELL", args.health_cmd], "Interval": _ns(args.health_interval),
            "Timeout": _ns(args.health_timeout), "Retries": args.health_retries,
            "StartPeriod": _ns(args.health_start_period),
        }  # fmt: skip
    if args.network and args.network_alias:
        body["NetworkingConfig"] = {
            "EndpointsConfig": {args.network: {"Aliases": list(args.network_alias)}}
        }
    elif args.network_alias:
        raise CommandError("--network-alias needs --network (a user network)")
    return body


def _weight_device(text: str) -> dict[str, Any]:
    """``--blkio-weight-device /dev/sda:200`` as Docker's ``{"Path", "Weight"}``."""
    path, sep, weight = text.rpartition(":")
    if not sep or not path or not weight.isdigit():
        raise CommandError(f"--blkio-weight-device {text!r}: expected DEVICE:WEIGHT")
    return {"Path": path, "Weight": int(weight)}


def update_body(args: argparse.Namespace) -> dict[str, Any]:
    """Docker's ``POST /containers/{id}/update`` body for ``update``'s flags."""
    body = {
        "Memory": args.memory and _bytes("memory", args.memory),
        "MemorySwap": args.memory_swap and _bytes("memory_swap", args.memory_swap),
        "MemoryReservation": args.memory_reservation
        and _bytes("memory_reservation", args.memory_reservation),
        "NanoCpus": args.cpus and round(float(args.cpus) * 1e9),
        "CpuShares": args.cpu_shares,
        "CpuQuota": args.cpu_quota,
        "CpuPeriod": args.cpu_period,
        "CpuRealtimeRuntime": args.cpu_rt_runtime,
        "CpuRealtimePeriod": args.cpu_rt_period,
        "CpusetCpus": args.cpuset_cpus,
        "CpusetMems": args.cpuset_mems,
        "PidsLimit": args.pids_limit,
        "BlkioWeight": args.blkio_weight,
        "RestartPolicy": _restart(args.restart) if args.restart else None,
    }
    return {k: v for k, v in body.items() if v is not None}


def _restart(policy: str) -> dict[str, Any]:
    name, _, count = policy.partition(":")
    return {"Name": "" if name == "no" else name, "MaximumRetryCount": int(count or 0)}


def _ulimit(text: str) -> dict[str, Any]:
    name, _, values = text.partition("=")
    soft, _, hard = values.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError:
        raise CommandError(f"--ulimit {text!r}: NAME=SOFT[:HARD]") from None


__all__ = ["create_body", "refuse_uncarried", "update_body"]
