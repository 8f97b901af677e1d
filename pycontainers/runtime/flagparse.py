"""Docker's textual mount, tmpfs, security and log options (``-v``, ``--mount``,
``--tmpfs``, ``--security-opt``, ``--log-opt``) parsed into spec values.

Shared by every front end that takes Docker's spellings (the CLI's ``run``/``create``, the
API server's ``HostConfig``), so neither imports the other.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from typing import Any

from pycontainers.errors import SpecError

_PROPAGATION = {"private", "rprivate", "shared", "rshared", "slave", "rslave"}


def _volume_mount(name: str | None, target: str, read_only: bool, nocopy: bool = False) -> Any:
    """A named (or anonymous, ``name`` None) volume mount (see runtime.volumes)."""
    from pycontainers.spec import Mount

    options = ("nocopy",) if nocopy else ()
    return Mount(type="volume", source=name, target=target, read_only=read_only, options=options)


def parse_volume(text: str) -> Any:
    """``-v SRC:DST[:OPTS]``: a bind (absolute SRC, created if missing, as Docker does), a
    named volume (NAME:DST) or an anonymous volume (DST).
    """
    from pycontainers.spec import Mount

    parts = text.split(":")
    if len(parts) == 1:
        return _volume_mount(None, parts[0], False)
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise SpecError("volume", f"expected [SRC:]DST[:OPTS], got {text!r}")
    src, dst = parts[0], parts[1]
    opts = [o for o in (parts[2].split(",") if len(parts) == 3 else []) if o]
    read_only = nocopy = False
    options = []
    for o in opts:
        if o in ("ro", "rw"):
            read_only = o == "ro"
        elif o in _PROPAGATION:
            options.append(o)
        elif o == "nocopy":
            nocopy = True
        elif o in ("z", "Z"):
            continue  # SELinux relabels: nothing to do here
        else:
            raise SpecError("volume", f"unknown option {o!r} in {text!r}")
    if src.startswith("/") or src.startswith("."):
        src = os.path.abspath(src)  # created if missing, as Docker's -v does
        opts_ = ("rbind", *options)
        return Mount(target=dst, source=src, options=opts_, read_only=read_only, create=True)
    return _volume_mount(src, dst, read_only, nocopy)


def parse_mount(text: str) -> Any:
    """``--mount type=bind|volume|tmpfs,source=...,target=...,readonly,...``."""
    from pycontainers.spec import Mount

    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep and key in ("readonly", "ro"):
            value = "true"
        fields[key] = value
    kind = fields.pop("type", "volume")
    src = fields.pop("source", None) or fields.pop("src", None)
    dst = fields.pop("target", None) or fields.pop("destination", None) or fields.pop("dst", None)
    ro = fields.pop("readonly", fields.pop("ro", "false")).lower() in ("true", "1", "")
    if not dst:
        raise SpecError("mount", f"no target in {text!r}")
    if kind == "bind":
        if not src or not os.path.isabs(src):
            raise SpecError("mount", f"a bind mount needs an absolute source, got {src!r}")
        if not os.path.exists(src):
            raise SpecError(
                "mount", f"bind source path does not exist: {src}", errno=errno.ENOENT, path=src
            )
        options = ["rbind"]
        prop = fields.pop("bind-propagation", None)
        if prop:
            if prop not in _PROPAGATION:
                raise SpecError("mount", f"unknown bind-propagation {prop!r}")
            options.append(prop)
        mount = Mount(target=dst, source=src, options=tuple(options), read_only=ro)
    elif kind == "volume":
        nocopy = fields.pop("volume-nocopy", "false").lower() in ("true", "1", "")
        mount = _volume_mount(src, dst, ro, nocopy)
    elif kind == "tmpfs":
        options = ["nosuid", "nodev"]
        if "tmpfs-size" in fields:
            options.append(f"size={fields.pop('tmpfs-size')}")
        if "tmpfs-mode" in fields:
            options.append(f"mode={fields.pop('tmpfs-mode')}")
        mount = Mount(
            target=dst, type="tmpfs", source="tmpfs", options=tuple(options), read_only=ro
        )
    else:
        raise SpecError("mount", f"unknown type {kind!r}: bind, volume or tmpfs")
    if fields:
        raise SpecError("mount", f"unknown keys {sorted(fields)} in {text!r}")
    return mount


def parse_tmpfs(text: str) -> Any:
    """``--tmpfs DST[:size=64m,mode=1777,...]`` (noexec, nosuid, nodev by default, as Docker)."""
    from pycontainers.spec import Mount

    dst, _, opts = text.partition(":")
    options = ["noexec", "nosuid", "nodev", *(o for o in opts.split(",") if o)]
    return Mount(target=dst, type="tmpfs", source="tmpfs", options=tuple(options))


def parse_security_opts(opts: Sequence[str]) -> dict[str, Any]:
    """``--security-opt``: seccomp=unconfined|FILE, no-new-privileges[:|=true|false]."""
    out: dict[str, Any] = {}
    for opt in opts:
        key, sep, value = opt.replace(":", "=", 1).partition("=")
        if key == "seccomp" and sep:
            if value == "unconfined":
                out["seccomp"] = None
            else:
                import json

                try:
                    with open(value) as f:
                        out["seccomp"] = json.load(f)
                except (OSError, ValueError) as exc:
                    raise SpecError(
                        "security-opt",
                        f"cannot load seccomp profile {value}: {exc}",
                        errno=exc.errno if isinstance(exc, OSError) else None,
                        path=value,
                    ) from None
        elif key == "no-new-privileges":
            if value not in ("", "true", "false"):
                raise SpecError(
                    "security-opt", f"no-new-privileges takes true or false, got {value!r}"
                )
            out["no_new_privs"] = value != "false"
        else:
            raise SpecError(
                "security-opt", f"unsupported option {opt!r} (seccomp=, no-new-privileges)"
            )
    return out


def parse_log_opts(opts: Sequence[str]) -> dict[str, int]:
    """``--log-opt max-size=10m|max-file=3`` as the ``log_max_size``/``log_max_files``
    keywords of :meth:`Container.create`.
    """
    out: dict[str, int] = {}
    for opt in opts:
        key, _, value = opt.partition("=")
        if key == "max-size":
            from pycontainers.network.tc import parse_size

            out["log_max_size"] = parse_size(
                value.lower().rstrip("b") + "b" if value[-1:].isalpha() else value, "log-opt"
            )
        elif key == "max-file":
            if not value.isdigit() or int(value) < 1:
                raise SpecError("log-opt", f"max-file must be a positive integer, got {value!r}")
            out["log_max_files"] = int(value)
        else:
            raise SpecError("log-opt", f"unsupported log option {opt!r} (max-size, max-file)")
    return out


__all__ = [
    "parse_log_opts",
    "parse_mount",
    "parse_security_opts",
    "parse_tmpfs",
    "parse_volume",
]
