"""The metadata instructions: ENV, ARG, LABEL, MAINTAINER, USER, CMD, ENTRYPOINT, EXPOSE,
VOLUME, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD. Each changes the stage's config (and its
history, as Docker records it) and its cache key; none makes a layer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from pycontainers.builder.expand import ExpandError, expand_word, expand_words
from pycontainers.builder.parse import Instruction
from pycontainers.builder.state import StageState, step_key
from pycontainers.errors import BuildError, SpecError

if TYPE_CHECKING:
    from pycontainers.builder.stages import Builder

__all__ = ["DEFAULT_SHELL", "METADATA", "expand", "pairs"]

DEFAULT_SHELL = ["/bin/sh", "-c"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
          "h": 3600 * 10**9}  # fmt: skip


def fail(b: Builder, inst: Instruction, message: str) -> BuildError:
    """A :class:`BuildError` for ``inst``'s line."""
    return BuildError(message, dockerfile=b.dockerfile.path, line=inst.line)


def expand(b: Builder, inst: Instruction, word: str, state: StageState) -> str:
    """``word`` expanded with what the stage sees (build args, then Env)."""
    used: set[str] = set()
    try:
        out = expand_word(word, state.expansion_env(), escape=b.dockerfile.escape, used=used)
    except ExpandError as exc:
        raise fail(b, inst, f"{inst.cmd}: {exc.reason}") from None
    b.used_args.update(used & set(state.args))
    return out


def pairs(b: Builder, inst: Instruction, state: StageState) -> list[tuple[str, str]]:
    """``key=value`` arguments of ENV/LABEL (both expanded with the env before the line)."""
    args = list(inst.args)
    if len(args) % 2:
        raise fail(b, inst, f"{inst.cmd}: expected key=value pairs")
    return [
        (expand(b, inst, args[i], state), expand(b, inst, args[i + 1], state))
        for i in range(0, len(args), 2)
    ]


def _history(inst: Instruction, text: str) -> str:
    return f"{inst.cmd} {text}".rstrip()


def _commit(
    b: Builder, state: StageState, inst: Instruction, created_by: str, *key: object
) -> None:
    state.key = step_key(state.key, inst.cmd, *key)
    state.add_history(created_by, empty_layer=True, created=b.created(state))


def _env(b: Builder, inst: Instruction, state: StageState) -> None:
    values = pairs(b, inst, state)
    for name, value in values:
        state.set_env(name, value)
    _commit(b, state, inst, _history(inst, " ".join(f"{k}={v}" for k, v in values)), values)


def _label(b: Builder, inst: Instruction, state: StageState) -> None:
    values = pairs(b, inst, state)
    labels = dict(state.config.get("Labels") or {})
    labels.update(values)
    state.config["Labels"] = labels
    _commit(b, state, inst, _history(inst, " ".join(f"{k}={v}" for k, v in values)), values)


def _maintainer(b: Builder, inst: Instruction, state: StageState) -> None:
    who = expand(b, inst, inst.args[0], state)
    state.raw["author"] = who
    state.config["Labels"] = {**(state.config.get("Labels") or {}), "maintainer": who}
    _commit(b, state, inst, _history(inst, who), who)


def _arg(b: Builder, inst: Instruction, state: StageState) -> None:
    names = []
    for word in inst.args:
        name, eq, default = word.partition("=")
        if not name:
            raise fail(b, inst, "ARG names can not be blank")
        value: str | None
        if name in b.build_args:
            value = b.build_args[name]
        elif eq:
            value = expand(b, inst, default, state)
        else:
            value = b.global_args.get(name)
        if value is not None:
            state.args[name] = value
        else:
            state.args.pop(name, None)
        b.declared_args.add(name)
        names.append((name, default if eq else None))
    state.key = step_key(state.key, "ARG", names)  # values count where they are used


def _user(b: Builder, inst: Instruction, state: StageState) -> None:
    user = expand(b, inst, inst.args[0], state)
    state.config["User"] = user
    _commit(b, state, inst, _history(inst, user), user)


def command_form(b: Builder, inst: Instruction, state: StageState) -> list[str]:
    """Exec form as given, or the stage's SHELL with the text (heredocs appended)."""
    if inst.json:
        return list(inst.args)
    text = " ".join(inst.args)
    for doc in inst.heredocs:
        text += f"\n{doc.content}{doc.name}"
    shell = list(state.config.get("Shell") or DEFAULT_SHELL)
    return [*shell, text]


def _cmd(b: Builder, inst: Instruction, state: StageState) -> None:
    argv = command_form(b, inst, state)
    state.config["Cmd"] = argv
    state.cmd_set = True
    _commit(b, state, inst, _history(inst, json.dumps(argv)), argv)


def _entrypoint(b: Builder, inst: Instruction, state: StageState) -> None:
    argv = command_form(b, inst, state)
    state.config["Entrypoint"] = argv
    if not state.cmd_set:  # a Cmd inherited from the base image is reset
        state.config.pop("Cmd", None)
    _commit(b, state, inst, _history(inst, json.dumps(argv)), argv)


def _port(b: Builder, inst: Instruction, spec: str) -> list[str]:
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    lo, dash, hi = port.partition("-")
    if proto not in ("tcp", "udp", "sctp") or not lo.isdigit() or (dash and not hi.isdigit()):
        raise fail(b, inst, f"EXPOSE: invalid port {spec!r}")
    first, last = int(lo), int(hi) if dash else int(lo)
    if not 0 < first <= last <= 65535:
        raise fail(b, inst, f"EXPOSE: invalid port {spec!r}")
    return [f"{p}/{proto}" for p in range(first, last + 1)]


def _expose(b: Builder, inst: Instruction, state: StageState) -> None:
    ports: list[str] = []
    for arg in inst.args:
        for word in expand_words(arg, state.expansion_env(), escape=b.dockerfile.escape):
            ports += _port(b, inst, word)
    exposed = dict(state.config.get("ExposedPorts") or {})
    exposed.update({p: {} for p in ports})
    state.config["ExposedPorts"] = exposed
    shown = " ".join(f"{p}:{{}}" for p in sorted(ports))
    _commit(b, state, inst, f"EXPOSE map[{shown}]", sorted(ports))


def _volume(b: Builder, inst: Instruction, state: StageState) -> None:
    if inst.json:
        paths = [expand(b, inst, a, state) for a in inst.args]
    else:
        paths = []
        for arg in inst.args:
            paths += expand_words(arg, state.expansion_env(), escape=b.dockerfile.escape)
    if not paths or any(not p for p in paths):
        raise fail(b, inst, "VOLUME specified can not be an empty string")
    volumes = dict(state.config.get("Volumes") or {})
    volumes.update({p: {} for p in paths})
    state.config["Volumes"] = volumes
    _commit(b, state, inst, _history(inst, json.dumps(paths)), paths)


def _shell(b: Builder, inst: Instruction, state: StageState) -> None:
    state.config["Shell"] = list(inst.args)
    _commit(b, state, inst, _history(inst, json.dumps(list(inst.args))), list(inst.args))


def _stopsignal(b: Builder, inst: Instruction, state: StageState) -> None:
    from pycontainers.spec import signal_number

    sig = expand(b, inst, inst.args[0], state)
    try:
        signal_number(sig, "STOPSIGNAL")
    except SpecError as exc:
        raise fail(b, inst, str(exc)) from None
    state.config["StopSignal"] = sig
    _commit(b, state, inst, _history(inst, sig), sig)


def duration_ns(b: Builder, inst: Instruction, name: str, text: str) -> int:
    """A Go duration (``30s``, ``1m30s``, ``500ms``) in nanoseconds."""
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        if text == "0":
            return 0
        raise fail(b, inst, f"HEALTHCHECK --{name}: invalid duration {text!r}")
    return int(total)


def _healthcheck(b: Builder, inst: Instruction, state: StageState) -> None:
    kind = inst.args[0].upper()
    if kind == "NONE":
        if len(inst.args) > 1 or inst.flags:
            raise fail(b, inst, "HEALTHCHECK NONE takes no other arguments")
        check: dict[str, object] = {"Test": ["NONE"]}
    elif kind == "CMD":
        rest = list(inst.args[1:])
        if not rest:
            raise fail(b, inst, "HEALTHCHECK CMD needs a command")
        test = ["CMD", *rest] if inst.json else ["CMD-SHELL", " ".join(rest)]
        check = {"Test": test}
        for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                          ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):  # fmt: skip
            value = inst.flag(flag)
            if value is not None:
                check[key] = duration_ns(b, inst, flag, value)
        retries = inst.flag("retries")
        if retries is not None:
            if not retries.isdigit():
                raise fail(b, inst, f"HEALTHCHECK --retries: not a number: {retries!r}")
            check["Retries"] = int(retries)
    else:
        raise fail(b, inst, f"HEALTHCHECK: unknown type {inst.args[0]!r} (CMD or NONE)")
    state.config["Healthcheck"] = check
    _commit(b, state, inst, _history(inst, json.dumps(check, sort_keys=True)), check)


def _onbuild(b: Builder, inst: Instruction, state: StageState) -> None:
    trigger = inst.original.split(None, 1)[1] if " " in inst.original else ""
    state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), trigger]
    _commit(b, state, inst, _history(inst, trigger), trigger)


METADATA: dict[str, Callable[[Builder, Instruction, StageState], None]] = {
    "ENV": _env,
    "LABEL": _label,
    "MAINTAINER": _maintainer,
    "ARG": _arg,
    "USER": _user,
    "CMD": _cmd,
    "ENTRYPOINT": _entrypoint,
    "EXPOSE": _expose,
    "VOLUME": _volume,
    "SHELL": _shell,
    "STOPSIGNAL": _stopsignal,
    "HEALTHCHECK": _healthcheck,
    "ONBUILD": _onbuild,
}
