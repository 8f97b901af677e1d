"""Specs of what runs in a container: :class:`Process` and the :class:`User` it runs as.

Part of :mod:`pycontainers.spec`, which re-exports the public names.
"""

from __future__ import annotations

import re
import resource
from collections.abc import Iterable, Mapping

import attrs

from pycontainers._specchecks import check_container_path
from pycontainers._specchecks import fail as _fail

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ENV_NAME = re.compile(r"^[^=\x00]+$")


@attrs.frozen
class User:
    """The identity the payload runs as. ``name`` is resolved in the rootfs's /etc/passwd."""

    uid: int | None = None
    gid: int | None = None
    additional_gids: tuple[int, ...] = ()
    name: str | None = None

    @classmethod
    def parse(cls, value: str | int | User) -> User:
        """Parse Docker's ``--user`` forms: ``uid``, ``uid:gid``, ``name``, ``name:group``."""
        if isinstance(value, User):
            return value
        if isinstance(value, int):
            if value < 0:
                raise _fail("user", f"uid must be >= 0, got {value}")
            return cls(uid=value)
        if not isinstance(value, str) or not value:
            raise _fail("user", f"expected uid[:gid] or a name, got {value!r}")
        user, _, group = value.partition(":")
        if not user:
            raise _fail("user", f"missing user in {value!r}")
        gid: int | None = None
        if group:
            if not group.isdigit():
                raise _fail(
                    "user", f"group names are not supported yet, use a numeric gid: {value!r}"
                )
            gid = int(group)
        if user.isdigit():  # a numeric user is never looked up as a name (CVE-2016-3697)
            return cls(uid=int(user), gid=gid)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*\$?$", user):
            raise _fail("user", f"invalid user name {user!r}")
        return cls(name=user, gid=gid)


# -- process ------------------------------------------------------------------------------

_RLIMITS = {
    name[len("RLIMIT_") :].lower(): getattr(resource, name)
    for name in dir(resource)
    if name.startswith("RLIMIT_")
}


def _env(
    value: Mapping[str, str] | Iterable[str | tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    items: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        items = [(str(k), str(v)) for k, v in value.items()]
    else:
        for entry in value:
            if (  # the converted form itself (attrs.evolve passes it again)
                isinstance(entry, tuple)
                and len(entry) == 2
                and all(isinstance(x, str) for x in entry)
            ):
                items.append(entry)
                continue
            if not isinstance(entry, str) or "=" not in entry:
                raise _fail("env", f"entries must look like NAME=value, got {entry!r}")
            k, _, v = entry.partition("=")
            items.append((k, v))
    for k, v in items:
        if not _ENV_NAME.match(k):
            raise _fail("env", f"invalid variable name {k!r}")
        if "\x00" in v:
            raise _fail("env", f"value of {k} contains a NUL byte")
    return tuple(items)


def _rlimits(
    value: Mapping[str, int | tuple[int, int]] | Iterable[tuple[str, int, int]] | None,
) -> tuple[tuple[str, int, int], ...]:
    # a mapping of name -> limit or (soft, hard), or this converter's own output: triples
    # (attrs.evolve passes a field's converted value through its converter again)
    if value is None or isinstance(value, Mapping):
        items = list((value or {}).items())
    else:
        items = []
        for item in value:
            if isinstance(item, str) or len(item) != 3:
                raise _fail("rlimits", f"expected a mapping or (name, soft, hard), got {item!r}")
            items.append((item[0], (item[1], item[2])))
    out = []
    for name, limit in items:
        if not isinstance(name, str):
            raise _fail("rlimits", f"a resource name must be a string, got {name!r}")
        key = name.lower().removeprefix("rlimit_")
        if key not in _RLIMITS:
            raise _fail("rlimits", f"unknown resource {name!r}; one of {sorted(_RLIMITS)}")
        soft, hard = (limit, limit) if isinstance(limit, int) else limit
        if soft < 0 or hard < 0 or soft > hard:
            raise _fail("rlimits", f"{name}: need 0 <= soft <= hard, got {soft}, {hard}")
        out.append((key, soft, hard))
    return tuple(out)


def _args(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise _fail("args", "must be a list of strings, not one string (use ['sh', '-c', ...])")
    return tuple(value)


@attrs.frozen
class Process:
    """What runs in the container: command, environment, working directory and identity."""

    args: tuple[str, ...] = attrs.field(converter=_args)
    env: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_env)
    cwd: str = "/"
    user: User | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(User.parse),  # type: ignore[misc]
    )
    rlimits: tuple[tuple[str, int, int], ...] = attrs.field(default=(), converter=_rlimits)
    umask: int = 0o022
    no_new_privs: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.args:
            raise _fail("args", "the command must not be empty")
        for a in self.args:
            if not isinstance(a, str) or "\x00" in a:
                raise _fail("args", f"arguments must be strings without NUL bytes, got {a!r}")
        check_container_path("cwd", self.cwd)
        if not 0 <= self.umask <= 0o777:
            raise _fail("umask", f"must be between 0 and 0o777, got {self.umask!r}")

    def environ(self) -> dict[str, str]:
        """The environment as a dict, with PATH defaulted as Docker does."""
        env = dict(self.env)
        env.setdefault("PATH", DEFAULT_PATH)
        return env


__all__ = ["DEFAULT_PATH", "Process", "User"]
