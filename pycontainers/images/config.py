"""The runtime part of an OCI image config (Env, Cmd, Entrypoint, WorkingDir, User, ...)
and Docker's rules for turning it into a container's process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from pycontainers.errors import SpecError


def _strs(field: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise SpecError(field, f"expected a list of strings, got {value!r}")
    return tuple(value)


@attrs.frozen
class ImageConfig:
    """``config`` of an OCI image configuration: the defaults a container starts with."""

    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    stop_signal: str = ""

    @classmethod
    def from_oci(cls, raw: Mapping[str, Any] | None) -> ImageConfig:
        """Read the ``config`` object of an image configuration (OCI or Docker names)."""
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise SpecError("config", f"expected an object, got {type(raw).__name__}")
        return cls(
            env=_strs("Env", raw.get("Env")) or (),
            cmd=_strs("Cmd", raw.get("Cmd")),
            entrypoint=_strs("Entrypoint", raw.get("Entrypoint")),
            working_dir=str(raw.get("WorkingDir") or ""),
            user=str(raw.get("User") or ""),
            exposed_ports=tuple(sorted(raw.get("ExposedPorts") or {})),
            volumes=tuple(sorted(raw.get("Volumes") or {})),
            labels=tuple(sorted((str(k), str(v)) for k, v in (raw.get("Labels") or {}).items())),
            stop_signal=str(raw.get("StopSignal") or ""),
        )

    def to_oci(self) -> dict[str, Any]:
        """The ``config`` object as an image configuration holds it (empty fields left out)."""
        out: dict[str, Any] = {}
        if self.env:
            out["Env"] = list(self.env)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        return out

    def command(
        self, args: Sequence[str] | None = None, entrypoint: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        """Docker's rule: the entrypoint (given, else the image's) followed by the args
        (given, else the image's Cmd — but not when the entrypoint was given).
        """
        entry = tuple(entrypoint) if entrypoint is not None else (self.entrypoint or ())
        if args:
            rest = tuple(args)
        elif entrypoint is not None:
            rest = ()
        else:
            rest = self.cmd or ()
        return entry + rest

    def environ(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        """The image's Env as a dict, with ``overrides`` on top."""
        env = dict(e.partition("=")[::2] for e in self.env)
        env.update(overrides or {})
        return env
