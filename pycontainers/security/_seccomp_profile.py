"""Seccomp profiles as data: Docker's JSON format parsed into frozen attrs, validated, and
resolved for one container (capabilities, architecture, kernel) into unconditional rules.

Nothing here needs libseccomp; compiling to BPF lives in ``_seccomp_bpf``. Validation
messages name fields as the JSON does (``errnoRet``, ``valueTwo``, ``minKernel``...), and
:meth:`SeccompProfile.from_json` prefixes them with where they are
(``syscalls[3].args[0].op: ...``).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import struct
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pycontainers.errors import SeccompError as SeccompError
from pycontainers.errors import SpecError

FIELD = "seccomp"

#: Actions of Docker's (and the OCI runtime-spec's) seccomp format. ``SCMP_ACT_KILL`` is
#: ``SCMP_ACT_KILL_THREAD``, as in runc. ``SCMP_ACT_NOTIFY`` hands the call to a listener
#: (pycontainers-runtime's ``listenerPath``); with none, the kernel fails it with ENOSYS.
ACTIONS = (
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
)
#: Argument comparison operators and their ``enum scmp_compare`` values.
OPERATORS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
#: A profile's ``flags``: ``SECCOMP_FILTER_FLAG_*`` for the seccomp(2) call that loads it.
FILTER_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
}
MAX_ERRNO = 4095  # the kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO
MAX_ARGS = 6
_U64 = 2**64 - 1

# libseccomp's name of each architecture -> (its OCI name, other names Docker profiles use).
_ARCHES: dict[str, tuple[str, tuple[str, ...]]] = {
    "x86": ("SCMP_ARCH_X86", ("386", "i386", "i686")),
    "x86_64": ("SCMP_ARCH_X86_64", ("amd64",)),
    "x32": ("SCMP_ARCH_X32", ()),
    "arm": ("SCMP_ARCH_ARM", ()),
    "aarch64": ("SCMP_ARCH_AARCH64", ("arm64",)),
    "loongarch64": ("SCMP_ARCH_LOONGARCH64", ("loong64",)),
    "m68k": ("SCMP_ARCH_M68K", ()),
    "mips": ("SCMP_ARCH_MIPS", ()),
    "mips64": ("SCMP_ARCH_MIPS64", ()),
    "mips64n32": ("SCMP_ARCH_MIPS64N32", ()),
    "mipsel": ("SCMP_ARCH_MIPSEL", ("mipsle",)),
    "mipsel64": ("SCMP_ARCH_MIPSEL64", ("mips64le",)),
    "mipsel64n32": ("SCMP_ARCH_MIPSEL64N32", ()),
    "parisc": ("SCMP_ARCH_PARISC", ()),
    "parisc64": ("SCMP_ARCH_PARISC64", ()),
    "ppc": ("SCMP_ARCH_PPC", ()),
    "ppc64": ("SCMP_ARCH_PPC64", ()),
    "ppc64le": ("SCMP_ARCH_PPC64LE", ()),
    "riscv64": ("SCMP_ARCH_RISCV64", ()),
    "s390": ("SCMP_ARCH_S390", ()),
    "s390x": ("SCMP_ARCH_S390X", ()),
    "sh": ("SCMP_ARCH_SH", ()),
    "sheb": ("SCMP_ARCH_SHEB", ()),
}
_ARCH_ALIASES = {a: name for name, (oci, more) in _ARCHES.items() for a in (name, oci, *more)}
_CAP = re.compile(r"CAP_[A-Z0-9_]+")


def spec_error(message: str) -> SpecError:
    return SpecError(FIELD, message)


def error_detail(exc: SpecError) -> str:
    text = str(exc)
    prefix = f"{FIELD}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def arch_name(value: str) -> str:
    """Return libseccomp's name (``x86_64``) of an architecture given by any of its names.

    ``SCMP_ARCH_X86_64``, ``amd64`` and ``x86_64`` all work; ``SpecError`` if unknown.
    """
    if not isinstance(value, str) or value not in _ARCH_ALIASES:
        raise spec_error(f"unknown architecture {value!r}; known: {', '.join(_ARCHES)}")
    return _ARCH_ALIASES[value]


def oci_arch(value: str) -> str:
    """The OCI name (``SCMP_ARCH_X86_64``) of an architecture given by any of its names."""
    return _ARCHES[arch_name(value)][0]


def arch_aliases(value: str) -> frozenset[str]:
    """Every name of the architecture ``value`` names: ``{"x86_64", "SCMP_ARCH_X86_64", "amd64"}``."""
    name = arch_name(value)
    oci, more = _ARCHES[name]
    return frozenset((name, oci, *more))


@functools.cache
def native_arch() -> str:
    """Return libseccomp's name of the architecture this Python runs as (``x86_64``...)."""
    machine = platform.machine().lower()
    bits32 = struct.calcsize("P") == 4
    little = sys.byteorder == "little"
    if machine in ("x86_64", "amd64"):
        return "x86" if bits32 else "x86_64"
    if machine in ("aarch64", "arm64"):
        return "arm" if bits32 else "aarch64"
    if machine.startswith("arm"):
        return "arm"
    if machine.startswith("mips"):
        return ("mipsel" if little else "mips") + ("" if bits32 else "64")
    if machine.startswith("ppc64"):
        return "ppc64le" if little else "ppc64"
    if machine not in _ARCH_ALIASES:
        raise SeccompError(
            f"this machine ({machine}) has no known seccomp architecture; pass arch="
        )
    return _ARCH_ALIASES[machine]


@functools.cache
def kernel_version() -> tuple[int, int]:
    """The running kernel's (version, major revision): ``(6, 8)`` for ``6.8.0-31-generic``."""
    match = re.match(r"(\d+)\.(\d+)", os.uname().release)
    if match is None:
        raise SeccompError(f"cannot parse the kernel release {os.uname().release!r}")
    return int(match[1]), int(match[2])


def capability_name(name: str) -> str:
    """``sys_admin``, ``SYS_ADMIN`` or ``CAP_SYS_ADMIN`` → ``CAP_SYS_ADMIN``."""
    if not isinstance(name, str):
        raise spec_error(f"capability names are strings, got {name!r}")
    upper = name.upper()
    return upper if upper.startswith("CAP_") else f"CAP_{upper}"


# -- validation helpers ---------------------------------------------------------------------


def _check_int(key: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise spec_error(f"{key}: expected an integer, got {value!r}")
    if not low <= value <= high:
        raise spec_error(f"{key}: {value} is out of range {low}..{high}")


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise spec_error(f"expected a list of strings, got the string {value!r}")
    return tuple(value)


def _args(value: Iterable[SeccompArg]) -> tuple[SeccompArg, ...]:
    return tuple(value)


def _rules(value: Iterable[SeccompRule]) -> tuple[SeccompRule, ...]:
    return tuple(value)


def _arch_map(
    value: Iterable[tuple[str, Iterable[str]]],
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    try:
        return tuple((oci_arch(arch), tuple(oci_arch(s) for s in subs)) for arch, subs in value)
    except SpecError as exc:
        raise spec_error(f"archMap: {error_detail(exc)}") from None


def _oci_arches(value: Iterable[str]) -> tuple[str, ...]:
    try:
        return tuple(oci_arch(a) for a in _strings(value))
    except SpecError as exc:
        raise spec_error(f"architectures: {error_detail(exc)}") from None


def _check_action(key: str, action: object, errno_key: str, errno_ret: int | None) -> None:
    if action not in ACTIONS:
        raise spec_error(f"{key}: unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if errno_ret is None:
        return
    if action == "SCMP_ACT_ERRNO":
        _check_int(errno_key, errno_ret, 0, MAX_ERRNO)
    elif action == "SCMP_ACT_TRACE":
        _check_int(errno_key, errno_ret, 0, 0xFFFF)
    else:
        raise spec_error(
            f"{errno_key}: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one, not {action}"
        )


# -- the model ------------------------------------------------------------------------------


@attrs.frozen
class SeccompArg:
    """A condition on a syscall argument: ``args[index] <op> value``.

    For ``SCMP_CMP_MASKED_EQ`` it is ``args[index] & value == value_two``.
    """

    index: int
    value: int
    op: str
    value_two: int = 0

    def __attrs_post_init__(self) -> None:
        _check_int("index", self.index, 0, MAX_ARGS - 1)
        _check_int("value", self.value, 0, _U64)
        _check_int("valueTwo", self.value_two, 0, _U64)
        if self.op not in OPERATORS:
            raise spec_error(
                f"op: unknown operator {self.op!r}; expected one of {', '.join(OPERATORS)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the condition in Docker's JSON format."""
        out: dict[str, Any] = {"index": self.index, "value": self.value}
        if self.value_two:
            out["valueTwo"] = self.value_two
        out["op"] = self.op
        return out


@attrs.frozen
class SeccompCondition:
    """When a rule applies, as Docker's ``includes`` / ``excludes`` say it.

    As ``includes``, every part given must hold: all of ``caps`` held, the target
    architecture among ``arches``, the kernel at least ``min_kernel``. As ``excludes``,
    any one part that holds excludes the rule. Empty means no condition.
    """

    caps: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    arches: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    min_kernel: tuple[int, int] | None = None

    def __attrs_post_init__(self) -> None:
        for cap in self.caps:
            if not isinstance(cap, str) or not _CAP.fullmatch(cap):
                raise spec_error(f"caps: {cap!r} is not a capability name like 'CAP_SYS_ADMIN'")
        for arch in self.arches:
            try:
                arch_name(arch)
            except SpecError as exc:
                raise spec_error(f"arches: {error_detail(exc)}") from None
        if self.min_kernel is not None:
            version = self.min_kernel
            if not (isinstance(version, tuple) and len(version) == 2) or version == (0, 0):
                raise spec_error(f"minKernel: expected (version, major), got {version!r}")
            for part in version:
                _check_int("minKernel", part, 0, 255)

    def __bool__(self) -> bool:
        return bool(self.caps or self.arches or self.min_kernel)

    def _arch_in(self, aliases: frozenset[str]) -> bool:
        return not aliases.isdisjoint(self.arches)

    def included(
        self, caps: frozenset[str], arches: frozenset[str], kernel: tuple[int, int]
    ) -> bool:
        """Whether a rule with this as its ``includes`` applies."""
        if self.arches and not self._arch_in(arches):
            return False
        if not caps.issuperset(self.caps):
            return False
        return self.min_kernel is None or kernel >= self.min_kernel

    def excluded(
        self, caps: frozenset[str], arches: frozenset[str], kernel: tuple[int, int]
    ) -> bool:
        """Whether a rule with this as its ``excludes`` is left out."""
        if self.arches and self._arch_in(arches):
            return True
        if not caps.isdisjoint(self.caps):
            return True
        return self.min_kernel is not None and kernel >= self.min_kernel

    def to_dict(self) -> dict[str, Any]:
        """Return the condition in Docker's JSON format."""
        out: dict[str, Any] = {}
        if self.caps:
            out["caps"] = list(self.caps)
        if self.arches:
            out["arches"] = list(self.arches)
        if self.min_kernel is not None:
            out["minKernel"] = "{}.{}".format(*self.min_kernel)
        return out


@attrs.frozen
class SeccompRule:
    """One entry of a profile's ``syscalls``: what ``action`` to take on ``names``.

    Conditions in ``args`` on different arguments must all hold; several conditions on the
    same argument are alternatives (each becomes a rule of its own), as in runc.
    ``errno_ret`` is the errno of ``SCMP_ACT_ERRNO`` (EPERM if unset) or the message of
    ``SCMP_ACT_TRACE``.
    """

    names: tuple[str, ...] = attrs.field(converter=_strings)
    action: str
    errno_ret: int | None = None
    args: tuple[SeccompArg, ...] = attrs.field(default=(), converter=_args)
    includes: SeccompCondition = attrs.field(factory=SeccompCondition)
    excludes: SeccompCondition = attrs.field(factory=SeccompCondition)
    comment: str = attrs.field(default="", eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.names:
            raise spec_error("names: a rule needs at least one syscall name")
        for name in self.names:
            if not isinstance(name, str) or not name:
                raise spec_error(f"names: syscall names are non-empty strings, got {name!r}")
        _check_action("action", self.action, "errnoRet", self.errno_ret)
        for arg in self.args:
            if not isinstance(arg, SeccompArg):
                raise spec_error(f"args: expected SeccompArg, got {arg!r}")

    def applies(self, caps: frozenset[str], arch: str, kernel: tuple[int, int]) -> bool:
        """Whether this rule is part of the filter of a container with ``caps`` on ``arch``."""
        aliases = arch_aliases(arch)
        if self.excludes and self.excludes.excluded(caps, aliases, kernel):
            return False
        return not self.includes or self.includes.included(caps, aliases, kernel)

    def arg_sets(self) -> tuple[tuple[SeccompArg, ...], ...]:
        """Group ``args`` into libseccomp rules, as runc does.

        One rule with all of them; or, where an argument is named twice, one rule each.
        """
        indexes = [arg.index for arg in self.args]
        if len(set(indexes)) == len(indexes):
            return (self.args,)
        return tuple((arg,) for arg in self.args)

    def to_dict(self) -> dict[str, Any]:
        """Return the rule in Docker's JSON format."""
        out: dict[str, Any] = {}
        if self.comment:
            out["comment"] = self.comment
        out["names"] = list(self.names)
        out["action"] = self.action
        if self.errno_ret is not None:
            out["errnoRet"] = self.errno_ret
        if self.args:
            out["args"] = [arg.to_dict() for arg in self.args]
        if self.includes:
            out["includes"] = self.includes.to_dict()
        if self.excludes:
            out["excludes"] = self.excludes.to_dict()
        return out


@attrs.frozen(cache_hash=True)
class SeccompProfile:
    """A seccomp profile in Docker's format: a default action and conditional rules.

    Build one with :meth:`from_json`, or :func:`default_profile` for Docker's default.
    Profiles are immutable and hashable (comments aside, equal profiles compare equal), so
    compiled filters can be cached per profile. ``architectures`` and ``arch_map`` hold OCI
    names (``SCMP_ARCH_X86_64``); at most one of them is given.
    """

    default_action: str
    default_errno_ret: int | None = None
    rules: tuple[SeccompRule, ...] = attrs.field(default=(), converter=_rules)
    architectures: tuple[str, ...] = attrs.field(default=(), converter=_oci_arches)
    arch_map: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(default=(), converter=_arch_map)
    flags: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    comment: str = attrs.field(default="", eq=False)

    def __attrs_post_init__(self) -> None:
        _check_action(
            "defaultAction", self.default_action, "defaultErrnoRet", self.default_errno_ret
        )
        if self.architectures and self.arch_map:
            raise spec_error("give either architectures or archMap, not both")
        for flag in self.flags:
            if flag not in FILTER_FLAGS:
                raise spec_error(
                    f"flags: unknown flag {flag!r}; expected one of {', '.join(FILTER_FLAGS)}"
                )
        for rule in self.rules:
            if not isinstance(rule, SeccompRule):
                raise spec_error(f"syscalls: expected SeccompRule, got {rule!r}")

    @classmethod
    def from_json(cls, source: str | bytes | Mapping[str, Any]) -> SeccompProfile:
        """Parse a profile in Docker's JSON format (text, or already decoded).

        Raises ``SpecError("seccomp", ...)`` naming what is wrong and where. Unknown keys
        are errors (a typo must not silently weaken a filter); ``comment`` keys are allowed.
        """
        from pycontainers.security._seccomp_json import parse_profile

        if isinstance(source, str | bytes | bytearray):
            try:
                source = json.loads(source)
            except ValueError as exc:
                raise spec_error(f"not valid JSON: {exc}") from None
        return parse_profile(source)

    @property
    def filter_flags(self) -> int:
        """The ``SECCOMP_FILTER_FLAG_*`` bits for seccomp(SECCOMP_SET_MODE_FILTER, flags, ...)."""
        bits = 0
        for flag in self.flags:
            bits |= FILTER_FLAGS[flag]
        return bits

    def applicable_rules(
        self,
        capabilities: Iterable[str] = (),
        arch: str | None = None,
        kernel: tuple[int, int] | None = None,
    ) -> tuple[tuple[int, SeccompRule], ...]:
        """The rules that apply to one container, as (index in ``rules``, rule without its
        ``includes`` / ``excludes``), in order; see :meth:`resolve`.
        """
        target = arch_name(arch) if arch is not None else native_arch()
        caps = frozenset(capability_name(c) for c in capabilities)
        version = kernel if kernel is not None else kernel_version()
        plain = SeccompCondition()
        return tuple(
            (i, attrs.evolve(rule, includes=plain, excludes=plain))
            for i, rule in enumerate(self.rules)
            if rule.applies(caps, target, version)
        )

    def resolve(
        self,
        capabilities: Iterable[str] = (),
        arch: str | None = None,
        kernel: tuple[int, int] | None = None,
    ) -> SeccompProfile:
        """Return the profile as it applies to one container, resolved as Docker does.

        Rules whose ``includes`` / ``excludes`` do not fit ``capabilities``, ``arch``
        (default: this machine) and ``kernel`` (default: the running one) are dropped, the
        conditions of the others removed, and ``arch_map`` becomes ``architectures``.
        """
        target = arch_name(arch) if arch is not None else native_arch()
        rules = tuple(rule for _, rule in self.applicable_rules(capabilities, target, kernel))
        architectures = self.architectures
        for main, subs in self.arch_map:
            if arch_name(main) == target:
                architectures = (main, *subs)
        return attrs.evolve(self, rules=rules, architectures=architectures, arch_map=())

    def to_dict(self) -> dict[str, Any]:
        """Return the profile in Docker's JSON format (``from_json`` reads it back)."""
        out: dict[str, Any] = {}
        if self.comment:
            out["comment"] = self.comment
        out["defaultAction"] = self.default_action
        if self.default_errno_ret is not None:
            out["defaultErrnoRet"] = self.default_errno_ret
        if self.architectures:
            out["architectures"] = list(self.architectures)
        if self.arch_map:
            out["archMap"] = [
                {"architecture": a, "subArchitectures": list(subs)} for a, subs in self.arch_map
            ]
        if self.flags:
            out["flags"] = list(self.flags)
        out["syscalls"] = [rule.to_dict() for rule in self.rules]
        return out
