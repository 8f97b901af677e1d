"""How several rules for one syscall combine, decided before anything reaches libseccomp.

runc and crun add a profile's rules to libseccomp one by one in JSON order, skipping those
whose action is the default action (libseccomp refuses them with EACCES). libseccomp's
``db_rule_add`` (2.5 and 2.6) then keeps, for each syscall:

- the *first unconditional rule* (no ``args``): it replaces conditional rules added before
  it, and every rule added after it is dropped;
- without one, the conditional rules together: a call gets the action of the rule whose
  ``args`` it matches, else the default action. Two rules with the same conditions and
  different actions fail with EEXIST; rules whose conditions merely overlap get the action
  that libseccomp's internal decision tree happens to test first.

:func:`merge_rules` keeps exactly the rules that take effect under those semantics (so the
filter is the one runc and crun build for the same profile, without relying on
libseccomp's order of insertion) and refuses, with a ``SpecError`` naming the syscall and
the rules' JSON paths, the two cases where a profile says two things at once:

1. an unconditional rule with the default action comes first among a syscall's
   unconditional rules while another rule gives the syscall a different action: runc and
   crun skip it (the other rule applies), in libseccomp's order it would win;
2. two conditional rules with different actions that one call can match both (the error
   shows such a call). Conditions are compared on 64-bit values and, if the filter covers
   a 32-bit architecture, on their low 32 bits as libseccomp compares them there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from pycontainers.security._seccomp_bpf import action_value
from pycontainers.security._seccomp_profile import (
    SeccompArg,
    SeccompProfile,
    SeccompRule,
    arch_name,
    capability_name,
    native_arch,
    spec_error,
)

# libseccomp's architectures whose syscall arguments it compares as 32-bit values
_ARCH_32 = frozenset(
    {"x86", "x32", "arm", "m68k", "mips", "mipsel", "mips64n32", "mipsel64n32", "parisc",
     "ppc", "s390", "sh", "sheb"}
)  # fmt: skip
_U32 = 2**32 - 1
_U64 = 2**64 - 1


@attrs.frozen
class _Use:
    """One syscall name of one applicable rule: where it is and what it does."""

    index: int  # in the profile's ``syscalls``
    rule: SeccompRule
    action: int  # the SCMP_ACT_* value

    @property
    def path(self) -> str:
        return f"syscalls[{self.index}]"

    @property
    def label(self) -> str:
        if self.rule.errno_ret is None:
            return self.rule.action
        return f"{self.rule.action}({self.rule.errno_ret})"


def merge_rules(
    profile: SeccompProfile,
    capabilities: Iterable[str] = (),
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> SeccompProfile:
    """Resolve ``profile`` for one container (see :meth:`SeccompProfile.resolve`) and keep
    only the rules that take effect, as described in this module's docstring.

    No rule of the result has the default action, and no syscall has two rules that
    disagree, so the result compiles the same whatever the order libseccomp sees it in.
    Raises ``SpecError("seccomp", "syscalls[i]: ...")`` for an ambiguous profile.
    """
    target = arch_name(arch) if arch is not None else native_arch()
    caps = frozenset(capability_name(c) for c in capabilities)
    resolved = profile.resolve(caps, target, kernel)
    default = action_value(profile.default_action, profile.default_errno_ret)
    uses: dict[str, list[_Use]] = {}
    applicable = profile.applicable_rules(caps, target, kernel)
    for index, rule in applicable:
        value = action_value(rule.action, rule.errno_ret)
        for name in dict.fromkeys(rule.names):
            uses.setdefault(name, []).append(_Use(index, rule, value))
    arches = {target, *(arch_name(a) for a in resolved.architectures)}
    widths = (64, 32) if arches & _ARCH_32 else (64,)
    kept = {
        (use.index, name)
        for name, group in uses.items()
        for use in _effective(name, group, default, widths)
    }
    rules = []
    for index, rule in applicable:
        names = tuple(n for n in dict.fromkeys(rule.names) if (index, n) in kept)
        if names:
            rules.append(attrs.evolve(rule, names=names))
    return attrs.evolve(resolved, rules=tuple(rules))


def _effective(name: str, uses: Sequence[_Use], default: int, widths: Sequence[int]) -> list[_Use]:
    """The uses of one syscall that take effect; ``SpecError`` if they are ambiguous."""
    unconditional = [use for use in uses if not use.rule.args]
    if unconditional:
        first = unconditional[0]
        if first.action != default:
            return [first]  # the first unconditional rule decides every call
        other = next((use for use in uses if use.action != default), None)
        if other is not None:
            raise spec_error(
                f"{first.path}: syscall {name!r} gets the default action ({first.label}) "
                f"for every call here, but {other.path} gives it {other.label}: runc and crun "
                f"skip a rule with the default action, in libseccomp's order it would win; "
                f"remove one of the two"
            )
        return []
    chains = [(use, chain) for use in uses for chain in use.rule.arg_sets()]
    for i, (a, chain_a) in enumerate(chains):
        for b, chain_b in chains[i + 1 :]:
            if a.action == b.action:
                continue
            call = _overlap(chain_a, chain_b, widths)
            if call is not None:
                shown = ", ".join(f"args[{k}]={v:#x}" for k, v in sorted(call.items()))
                raise spec_error(
                    f"{b.path}: syscall {name!r} gets {b.label} here and {a.label} at "
                    f"{a.path} for the same call {name}({shown}); libseccomp refuses such "
                    f"rules or picks one by its internal order: make their args exclusive"
                )
    return [use for use in uses if use.action != default]


# -- can one call match two chains of conditions? -------------------------------------------


@attrs.frozen
class _Range:
    """The values ``x`` with ``low <= x <= high``, ``x & mask == datum`` and x not in
    ``excluded``: what one or more conditions on one argument allow.
    """

    low: int
    high: int
    mask: int = 0
    datum: int = 0
    excluded: frozenset[int] = frozenset()

    def meet(self, other: _Range) -> _Range | None:
        if (self.datum ^ other.datum) & self.mask & other.mask:
            return None
        return _Range(
            max(self.low, other.low),
            min(self.high, other.high),
            self.mask | other.mask,
            self.datum | other.datum,
            self.excluded | other.excluded,
        )

    def example(self) -> int | None:
        """The smallest value allowed, or None if there is none."""
        x = _next_masked(self.low, self.mask, self.datum, self.high)
        while x is not None and x in self.excluded:
            x = _next_masked(x + 1, self.mask, self.datum, self.high)
        return x


def _condition(arg: SeccompArg, top: int) -> _Range | None:
    value, op = arg.value & top, arg.op
    if op == "SCMP_CMP_EQ":
        return _Range(value, value)
    if op == "SCMP_CMP_NE":
        return _Range(0, top, excluded=frozenset({value}))
    if op == "SCMP_CMP_LT":
        return _Range(0, value - 1) if value else None
    if op == "SCMP_CMP_LE":
        return _Range(0, value)
    if op == "SCMP_CMP_GT":
        return _Range(value + 1, top) if value < top else None
    if op == "SCMP_CMP_GE":
        return _Range(value, top)
    if op == "SCMP_CMP_MASKED_EQ":  # libseccomp compares x & value with valueTwo & value
        return _Range(0, top, value, arg.value_two & value)
    raise spec_error(f"op: unknown operator {op!r}")  # fail closed on anything new


def _overlap(
    a: Sequence[SeccompArg], b: Sequence[SeccompArg], widths: Sequence[int]
) -> dict[int, int] | None:
    """Arguments of a call that matches both chains, or None if no call does."""
    for bits in widths:
        top = (1 << bits) - 1
        ranges: dict[int, _Range | None] = {}
        for arg in (*a, *b):
            cond = _condition(arg, top)
            seen = ranges.get(arg.index, _Range(0, top))
            ranges[arg.index] = None if cond is None or seen is None else seen.meet(cond)
        call = {}
        for index, allowed in ranges.items():
            value = allowed.example() if allowed is not None else None
            if value is None:
                break
            call[index] = value
        else:
            return call
    return None


def _next_masked(low: int, mask: int, datum: int, high: int) -> int | None:
    """The smallest ``x`` with ``low <= x <= high`` and ``x & mask == datum``, or None."""
    if low > high:
        return None
    found: int | None = None
    bump: int | None = None  # the smallest candidate above ``low`` seen so far
    x = 0  # the bits above ``bit``, equal to those of ``low``
    for bit in reversed(range(max(low, high, mask, datum, 1).bit_length())):
        b = 1 << bit
        want = low & b
        below = datum & (b - 1)
        if not mask & b:  # a free bit
            if not want:
                bump = x | b | below
            x |= want
            continue
        have = datum & b
        if have and not want:
            found = x | b | below  # above ``low`` from here on, smallest below
            break
        if want and not have:
            found = bump  # cannot stay at ``low``: the last place to go above it
            break
        x |= have
    else:
        found = x  # == low
    return found if found is not None and found <= high else None
