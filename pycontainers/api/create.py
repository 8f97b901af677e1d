"""``POST /containers/create``: Docker's Config + HostConfig + NetworkingConfig as the
docker CLI, docker-py and compose send them, translated into :meth:`Container.create`
keywords (the CLI's own flag parsers do the Binds, Mounts, Tmpfs and SecurityOpt).

A field of the wrong type is a 400 naming it; a setting the library cannot honour is a 400
too, never silently dropped (security settings least of all).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from pycontainers.api.errors import bad_request

_DEFAULT_NETWORKS = ("", "default", "bridge")
_ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "fond",
    "keen",
    "lucid",
    "merry",
    "quiet",
    "swift",
    "tender",
    "vivid",
    "witty",
    "zen",
    "bold",
    "clever",
    "gentle",
)
_NOUNS = (
    "hopper",
    "turing",
    "lovelace",
    "knuth",
    "ritchie",
    "thompson",
    "torvalds",
    "hamilton",
    "liskov",
    "dijkstra",
    "kay",
    "curie",
    "noether",
    "euler",
)


def random_name() -> str:
    """A Docker-like name such as ``keen_turing_3f2a`` for a container created unnamed."""
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{secrets.token_hex(2)}"


def _typed(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = doc.get(key)
    if value is None:
        return None
    if (isinstance(value, bool) and kind in (int, float)) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise bad_request(
            f"json: cannot unmarshal {type(value).__name__} into {where}.{key} of type {names}"
        )
    return value


def _strings(doc: Mapping[str, Any], key: str, where: str) -> list[str] | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, str) and key in ("Cmd", "Entrypoint", "Dns", "CapAdd", "CapDrop"):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{where}.{key} must be a list of strings, got {value!r}")
    return list(value)


def _str_map(doc: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise bad_request(f"{where}.{key} must be an object of strings")
    return dict(value)


def _healthcheck(hc: Any) -> Any:
    if hc is None:
        return None
    if not isinstance(hc, dict):
        raise bad_request("Config.Healthcheck must be an object")
    test = hc.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise bad_request("Config.Healthcheck.Test must be a list of strings")
    if not test:
        return None  # the image's, if it has one
    if test[0] == "NONE":
        return "none"  # not even the image's
    from pycontainers.runtime.detach import HealthCheck

    if test[0] == "CMD-SHELL":
        cmd: Any = " ".join(test[1:])
    elif test[0] == "CMD":
        cmd = tuple(test[1:])
    else:
        raise bad_request(f"Config.Healthcheck.Test: unknown kind {test[0]!r}")

    def seconds(key: str, default: float) -> float:
        ns = _typed(hc, key, int, "Config.Healthcheck")
        return ns / 1e9 if ns else default

    return HealthCheck(
        test=cmd,
        interval=seconds("Interval", 30),
        timeout=seconds("Timeout", 30),
        retries=_typed(hc, "Retries", int, "Config.Healthcheck") or 3,
        start_period=seconds("StartPeriod", 0),
    )


def _mount(m: Any) -> Any:
    """One HostConfig.Mounts entry (Docker's mount.Mount) as the CLI's --mount text."""
    from pycontainers.runtime.flagparse import parse_mount

    if not isinstance(m, dict):
        raise bad_request("HostConfig.Mounts entries must be objects")
    kind = (m.get("Type") or "volume").lower()
    parts = [f"type={kind}", f"target={m.get('Target') or ''}"]
    if m.get("Source"):
        parts.append(f"source={m['Source']}")
    if m.get("ReadOnly"):
        parts.append("readonly")
    prop = (m.get("BindOptions") or {}).get("Propagation")
    if kind == "bind" and prop:
        parts.append(f"bind-propagation={prop}")
    if kind == "volume" and (m.get("VolumeOptions") or {}).get("NoCopy"):
        parts.append("volume-nocopy=true")
    tmpfs = m.get("TmpfsOptions") or {}
    if kind == "tmpfs" and tmpfs.get("SizeBytes"):
        parts.append(f"tmpfs-size={int(tmpfs['SizeBytes'])}")
    if kind == "tmpfs" and tmpfs.get("Mode"):
        parts.append(f"tmpfs-mode={int(tmpfs['Mode']):o}")
    return parse_mount(",".join(parts))


def _security(opts: list[str]) -> dict[str, Any]:
    """SecurityOpt: the CLI sends ``seccomp=<the profile's JSON>``; apparmor and SELinux
    labels have nothing to apply to here (no LSM policy is loaded by us), as on a Docker host
    without them; anything else is refused.
    """
    import json

    from pycontainers.runtime.flagparse import parse_security_opts

    out: dict[str, Any] = {}
    rest = []
    for opt in opts:
        key, _, value = opt.replace(":", "=", 1).partition("=")
        if key == "seccomp" and value.lstrip().startswith("{"):
            try:
                out["seccomp"] = json.loads(value)
            except ValueError as exc:
                raise bad_request(f"HostConfig.SecurityOpt: bad seccomp profile: {exc}") from None
        elif key in ("apparmor", "label"):
            continue
        else:
            rest.append(opt)
    out.update(parse_security_opts(rest))
    return out


def _restart(policy: Any) -> str:
    if not policy:
        return "no"
    if not isinstance(policy, dict):
        raise bad_request("HostConfig.RestartPolicy must be an object")
    name = policy.get("Name") or "no"
    retries = policy.get("MaximumRetryCount") or 0
    if name == "on-failure" and retries:
        return f"on-failure:{int(retries)}"
    return str(name)


def _ulimits(items: Any) -> dict[str, tuple[int, int]]:
    if not isinstance(items, list):
        raise bad_request("HostConfig.Ulimits must be a list")
    out = {}
    for u in items:
        if not isinstance(u, dict) or not isinstance(u.get("Name"), str):
            raise bad_request("HostConfig.Ulimits entries need a Name")
        soft, hard = u.get("Soft", 0), u.get("Hard", 0)
        if not isinstance(soft, int) or not isinstance(hard, int):
            raise bad_request(f"HostConfig.Ulimits {u['Name']}: Soft and Hard must be integers")
        out[u["Name"]] = (soft, hard)
    return out


def translate(body: dict[str, Any], image_config: Any) -> tuple[list[str] | None, dict[str, Any]]:
    """``(args, Container.create keywords)`` for a create request's body; ``image_config``
    is the image's (for ExposedPorts with PublishAllPorts), or None.
    """
    from pycontainers.runtime.flagparse import parse_tmpfs, parse_volume

    host = body.get("HostConfig") or {}
    if not isinstance(host, dict):
        raise bad_request("HostConfig must be an object")
    netcfg = body.get("NetworkingConfig") or {}
    if not isinstance(netcfg, dict):
        raise bad_request("NetworkingConfig must be an object")
    c = "Config"
    args = _strings(body, "Cmd", c)
    kw: dict[str, Any] = {
        "detach": True,
        "tty": bool(_typed(body, "Tty", bool, c)),
        "interactive": bool(_typed(body, "OpenStdin", bool, c)),
        "labels": _str_map(body, "Labels", c),
        "env": _strings(body, "Env", c) or [],
        "hostname": _typed(body, "Hostname", str, c) or None,
        "domainname": _typed(body, "Domainname", str, c) or None,
        "cwd": _typed(body, "WorkingDir", str, c) or None,
        "user": _typed(body, "User", str, c) or None,
        "stop_signal": _typed(body, "StopSignal", str, c) or None,
        "restart": _restart(host.get("RestartPolicy")),
        "auto_remove": bool(_typed(host, "AutoRemove", bool, "HostConfig")),
        "init": bool(_typed(host, "Init", bool, "HostConfig")),
        "readonly_rootfs": bool(_typed(host, "ReadonlyRootfs", bool, "HostConfig")),
        "privileged": bool(_typed(host, "Privileged", bool, "HostConfig")),
        "cap_add": _strings(host, "CapAdd", "HostConfig") or [],
        "cap_drop": _strings(host, "CapDrop", "HostConfig") or [],
    }
    if "Entrypoint" in body and body["Entrypoint"] is not None:
        kw["entrypoint"] = _strings(body, "Entrypoint", c)
    health = _healthcheck(body.get("Healthcheck"))
    if health is not None:
        kw["healthcheck"] = health
    kw.update(_security(_strings(host, "SecurityOpt", "HostConfig") or []))
    mounts = [parse_volume(b) for b in _strings(host, "Binds", "HostConfig") or []]
    mounts += [_mount(m) for m in host.get("Mounts") or []]
    mounts += [
        parse_tmpfs(f"{k}:{v}" if v else k)
        for k, v in _str_map(host, "Tmpfs", "HostConfig").items()
    ]
    anonymous = body.get("Volumes") or {}
    if not isinstance(anonymous, dict):
        raise bad_request("Config.Volumes must be an object")
    targets = {m.target for m in mounts}
    mounts += [parse_volume(t) for t in anonymous if t not in targets]
    if mounts:
        kw["mounts"] = mounts
    kw.update(_network(body, host, netcfg, image_config))
    kw.update(_run_extras(body, host, netcfg))
    kw.update(_limits(host))
    log_config = host.get("LogConfig") or {}
    if isinstance(log_config, dict) and log_config.get("Config"):
        from pycontainers.runtime.flagparse import parse_log_opts

        opts = log_config["Config"]
        kw.update(parse_log_opts([f"{k}={v}" for k, v in opts.items()]))
    return args, {k: v for k, v in kw.items() if v is not None}


def _run_extras(
    body: dict[str, Any], host: dict[str, Any], netcfg: dict[str, Any]
) -> dict[str, Any]:
    """GroupAdd, Sysctls, Devices, DnsSearch, DnsOptions, VolumesFrom, OomScoreAdj, LogConfig.Type,
    Config.StopTimeout and an endpoint's IPAMConfig.IPv4Address (``--ip``).
    """
    h = "HostConfig"
    out: dict[str, Any] = {}
    for key, field in (("GroupAdd", "group_add"), ("DnsSearch", "dns_search"),
                       ("DnsOptions", "dns_options"), ("VolumesFrom", "volumes_from")):  # fmt: skip
        values = _strings(host, key, h)
        if values:
            out[field] = values
    sysctls = _str_map(host, "Sysctls", h)
    if sysctls:
        out["sysctls"] = sysctls
    devices = host.get("Devices") or []
    if not isinstance(devices, list) or not all(isinstance(d, dict) for d in devices):
        raise bad_request("HostConfig.Devices must be a list of objects")
    if devices:  # Docker's DeviceMapping objects, as --device strings
        out["devices"] = [
            f"{d.get('PathOnHost')}:{d.get('PathInContainer') or d.get('PathOnHost')}:"
            f"{d.get('CgroupPermissions') or 'rwm'}"
            for d in devices
        ]
    oom = _typed(host, "OomScoreAdj", int, h)
    if oom:
        out["oom_score_adj"] = oom
    stop_timeout = _typed(body, "StopTimeout", int, "Config")
    if stop_timeout is not None:
        out["stop_timeout"] = stop_timeout
    log_config = host.get("LogConfig") or {}
    driver = log_config.get("Type") if isinstance(log_config, dict) else None
    if driver:
        out["log_driver"] = "json-file" if driver == "local" else driver
    for ep in (netcfg.get("EndpointsConfig") or {}).values():
        ipam = ep.get("IPAMConfig") if isinstance(ep, dict) else None
        if isinstance(ipam, dict) and ipam.get("IPv4Address"):
            out["ip"] = str(ipam["IPv4Address"])
    return out


def _network(
    body: dict[str, Any], host: dict[str, Any], netcfg: dict[str, Any], image_config: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    mode = _typed(host, "NetworkMode", str, "HostConfig") or "default"
    endpoints = netcfg.get("EndpointsConfig") or {}
    if not isinstance(endpoints, dict):
        raise bad_request("NetworkingConfig.EndpointsConfig must be an object")
    if mode in _DEFAULT_NETWORKS:
        network = next(iter(endpoints), None) if endpoints else None
        network = network if network not in (None, *_DEFAULT_NETWORKS) else "bridge"
    else:
        network = mode
    if len(endpoints) > 1:
        raise bad_request(
            "a container joins one network at create here "
            f"(got {sorted(endpoints)}): connect more later"
        )
    out["network"] = "bridge" if network == "default" else network
    aliases: list[str] = []
    for ep in endpoints.values():
        if isinstance(ep, dict):
            aliases += [a for a in ep.get("Aliases") or [] if isinstance(a, str)]
    if aliases and network not in ("none", "host") and not network.startswith("container:"):
        out["aliases"] = sorted(set(aliases))
    bindings = host.get("PortBindings") or {}
    if not isinstance(bindings, dict):
        raise bad_request("HostConfig.PortBindings must be an object")
    ports = {k: v for k, v in bindings.items() if v}
    if _typed(host, "PublishAllPorts", bool, "HostConfig"):
        exposed = list((body.get("ExposedPorts") or {}).keys())
        exposed += list(getattr(image_config, "exposed_ports", ()) or ())
        for port in exposed:
            key = port if "/" in port else f"{port}/tcp"
            ports.setdefault(key, [{"HostIp": "", "HostPort": ""}])
    if ports and network not in ("none", "host"):
        out["ports"] = ports
    dns = _strings(host, "Dns", "HostConfig")
    if dns:
        out["dns"] = dns
    hosts = _strings(host, "ExtraHosts", "HostConfig")
    if hosts:
        out["extra_hosts"] = [h.replace("=", ":", 1) if "=" in h else h for h in hosts]
    return out


def _limits(host: dict[str, Any]) -> dict[str, Any]:
    out = resource_fields(host, "HostConfig")
    ulimits = host.get("Ulimits")
    if ulimits:
        out["rlimits"] = _ulimits(ulimits)
    shm = _typed(host, "ShmSize", int, "HostConfig")
    if shm:
        out["shm_size"] = shm
    return out


def resource_fields(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """The :class:`~pycontainers.cgroups.Resources` fields of a HostConfig (``where``
    "HostConfig") or an update body (``where`` ""), checked together and against this host's
    cgroups: a 400 naming the key (``HostConfig.MemorySwap: ...``) otherwise.
    """
    from pycontainers.cgroups._dockerapi import from_host_config
    from pycontainers.cgroups._resources import Resources
    from pycontainers.errors import SpecError

    try:
        fields = from_host_config(doc, where)
        res = Resources(**fields)
    except SpecError as exc:
        raise bad_request(named(exc, where)) from None
    from pycontainers.cgroups._resources import HOST_DEPENDENT

    if any(getattr(res, f) not in (None, ()) for f in HOST_DEPENDENT):
        from pycontainers.cgroups._layout import detect_layout
        from pycontainers.cgroups._resfields import refusal

        refused = refusal(res, detect_layout())
        if refused is not None:
            raise bad_request(named(SpecError(refused[0], f"not supported here: {refused[1]}"),
                                    where))  # fmt: skip
    return fields


def named(exc: Exception, where: str) -> str:
    """The message of ``exc`` (``memory_swap: ...``) naming the HostConfig key of its field
    (``HostConfig.MemorySwap: ...``).
    """
    from pycontainers.cgroups._dockerapi import KEYS

    field, sep, why = str(exc).partition(": ")
    if not sep or field not in KEYS:
        return str(exc)
    return f"{where + '.' if where else ''}{KEYS[field]}: {why}"


__all__ = ["named", "random_name", "resource_fields", "translate"]
