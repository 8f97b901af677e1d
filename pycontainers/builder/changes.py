"""Docker's ``--change``: Dockerfile instructions applied to an image's config without a build
(``commit --change``, ``import --change``).

The instructions are parsed by the builder's parser and applied by the builder's own steps
(the same semantics as in a build: ``CMD`` in shell form gets ``/bin/sh -c``, ``EXPOSE``
ranges, ``STOPSIGNAL`` checked...). Allowed, as in Docker: CMD, ENTRYPOINT, ENV, EXPOSE,
HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from pycontainers.errors import BuildError, SpecError

ALLOWED = frozenset({"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD",
                     "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"})  # fmt: skip
"""The instructions ``--change`` accepts (Docker's list)."""


class _Changes:
    """What the builder's metadata steps read from a Builder, for a build of no files."""

    def __init__(self, dockerfile: Any) -> None:
        self.dockerfile = dockerfile
        self.used_args: set[str] = set()
        self.declared_args: set[str] = set()
        self.build_args: dict[str, str] = {}
        self.global_args: dict[str, str] = {}

    def created(self, state: Any) -> str:
        return ""


def apply_changes(config: Mapping[str, Any] | None, changes: Sequence[str]) -> dict[str, Any]:
    """The image ``config`` object (``Cmd``, ``Env``...) with ``changes`` applied, in order.

    A change that is not one instruction of :data:`ALLOWED` is a :class:`SpecError` naming
    it (field ``change``).
    """
    from pycontainers.builder.parse import parse_dockerfile
    from pycontainers.builder.state import StageState
    from pycontainers.builder.steps import METADATA, expand

    raw: dict[str, Any] = {"config": copy.deepcopy(dict(config or {})), "history": []}
    state = StageState(raw=raw, layers=[], key="")
    for change in changes:
        text = change.strip()
        word = text.split(None, 1)[0].upper() if text else ""
        if word not in ALLOWED:
            raise SpecError(
                "change", f"{word or change!r} is not a valid change command (one of "
                f"{', '.join(sorted(ALLOWED))})",
            )  # fmt: skip
        try:
            parsed = parse_dockerfile(f"FROM scratch\n{text}\n", "--change")
        except BuildError as exc:
            raise SpecError("change", f"{change!r}: {exc}") from None
        instructions = parsed.stages[0].instructions
        if len(instructions) != 1:
            raise SpecError("change", f"{change!r}: expected one instruction")
        inst = instructions[0]
        b = _Changes(parsed)
        try:
            if inst.cmd == "WORKDIR":
                path = expand(b, inst, inst.args[0], state)  # type: ignore[arg-type]
                base = state.config.get("WorkingDir") or "/"
                state.config["WorkingDir"] = posixpath.normpath(posixpath.join(base, path))
            else:
                METADATA[inst.cmd](b, inst, state)  # type: ignore[arg-type]
        except BuildError as exc:
            raise SpecError("change", f"{change!r}: {exc}") from None
    return dict(state.config)


__all__ = ["ALLOWED", "apply_changes"]
