"""Reading Docker's seccomp JSON into :class:`SeccompProfile`, strictly: every error names
where it is (``syscalls[3].args[0].op: ...``), unknown keys included. JSON ``null`` reads as
absent, as in Docker's Go decoder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pycontainers.errors import SpecError
from pycontainers.security._seccomp_profile import (
    SeccompArg,
    SeccompCondition,
    SeccompProfile,
    SeccompRule,
    error_detail,
    spec_error,
)

_T = TypeVar("_T")

_PROFILE_KEYS = frozenset(
    {
        "comment",
        "defaultAction",
        "defaultErrnoRet",
        "architectures",
        "archMap",
        "flags",
        "syscalls",
        "listenerPath",
        "listenerMetadata",
    }
)
_ARCH_MAP_KEYS = frozenset({"architecture", "subArchitectures"})
_RULE_KEYS = frozenset(
    {"comment", "names", "name", "action", "errnoRet", "args", "includes", "excludes"}
)
_ARG_KEYS = frozenset({"index", "value", "valueTwo", "op"})
_CONDITION_KEYS = frozenset({"caps", "arches", "minKernel"})


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _build(path: str, factory: Callable[..., _T], **kwargs: Any) -> _T:
    try:
        return factory(**kwargs)
    except SpecError as exc:
        raise spec_error(_where(path, error_detail(exc))) from None


def _object(value: object, path: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise spec_error(f"{path or 'the profile'}: expected a JSON object, got {_show(value)}")
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise spec_error(
            f"{path or 'the profile'}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(keys))}"
        )
    return value


def _list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)  # JSON null reads as absent, as in Go
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise spec_error(f"{_where(path, key)}: expected a list, got {_show(value)}")
    return list(value)


def _string_list(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    items = _list(obj, key, path)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise spec_error(f"{_where(path, key)}[{i}]: expected a string, got {_show(item)}")
    return tuple(items)


def _string(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise spec_error(f"{_where(path, key)}: expected a string, got {_show(value)}")
    return value


def _integer(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise spec_error(f"{_where(path, key)}: expected an integer, got {_show(value)}")
    return value


def parse_profile(data: object) -> SeccompProfile:
    """Build a profile from decoded JSON; ``SpecError`` naming the first problem."""
    obj = _object(data, "", _PROFILE_KEYS)
    action = _string(obj, "defaultAction", "")
    if not action:
        raise spec_error("defaultAction: missing (for no filter at all, use seccomp=None)")
    if obj.get("listenerPath") or obj.get("listenerMetadata"):
        raise spec_error("listenerPath: seccomp notify listeners are not supported")
    arch_map = []
    for i, entry in enumerate(_list(obj, "archMap", "")):
        path = f"archMap[{i}]"
        entry = _object(entry, path, _ARCH_MAP_KEYS)
        main = _string(entry, "architecture", path)
        if not main:
            raise spec_error(f"{path}.architecture: missing")
        arch_map.append((main, _string_list(entry, "subArchitectures", path)))
    comment = _string(obj, "comment", "") or ""
    rules = tuple(
        _parse_rule(rule, f"syscalls[{i}]") for i, rule in enumerate(_list(obj, "syscalls", ""))
    )
    return _build(
        "",
        SeccompProfile,
        default_action=action,
        default_errno_ret=_integer(obj, "defaultErrnoRet", ""),
        rules=rules,
        architectures=_string_list(obj, "architectures", ""),
        arch_map=arch_map,
        flags=_string_list(obj, "flags", ""),
        comment=comment,
    )


def _parse_rule(data: object, path: str) -> SeccompRule:
    obj = _object(data, path, _RULE_KEYS)
    names = _string_list(obj, "names", path)
    name = _string(obj, "name", path)
    if name is not None:
        if names:
            raise spec_error(f"{path}: give either name or names, not both")
        names = (name,)
    if not names:
        raise spec_error(f"{path}.names: missing or empty; a rule needs at least one syscall name")
    action = _string(obj, "action", path)
    if not action:
        raise spec_error(f"{path}.action: missing")
    args = tuple(
        _parse_arg(arg, f"{path}.args[{i}]") for i, arg in enumerate(_list(obj, "args", path))
    )
    return _build(
        path,
        SeccompRule,
        names=names,
        action=action,
        errno_ret=_integer(obj, "errnoRet", path),
        args=args,
        includes=_parse_condition(obj.get("includes"), _where(path, "includes")),
        excludes=_parse_condition(obj.get("excludes"), _where(path, "excludes")),
        comment=_string(obj, "comment", path) or "",
    )


def _parse_arg(data: object, path: str) -> SeccompArg:
    obj = _object(data, path, _ARG_KEYS)
    for key in ("index", "value", "op"):
        if obj.get(key) is None:
            raise spec_error(f"{path}.{key}: missing")
    return _build(
        path,
        SeccompArg,
        index=_integer(obj, "index", path),
        value=_integer(obj, "value", path),
        value_two=_integer(obj, "valueTwo", path) or 0,
        op=_string(obj, "op", path),
    )


def _parse_condition(data: object, path: str) -> SeccompCondition:
    if data is None:
        return SeccompCondition()
    obj = _object(data, path, _CONDITION_KEYS)
    min_kernel = None
    text = _string(obj, "minKernel", path)
    if text:  # "" means none, as in Docker
        match = re.fullmatch(r"(\d+)\.(\d+)", text)
        if match is None:
            raise spec_error(
                f"{path}.minKernel: expected '<version>.<major>' like '4.8', got {text!r}"
            )
        min_kernel = (int(match[1]), int(match[2]))
    return _build(
        path,
        SeccompCondition,
        caps=_string_list(obj, "caps", path),
        arches=_string_list(obj, "arches", path),
        min_kernel=min_kernel,
    )
