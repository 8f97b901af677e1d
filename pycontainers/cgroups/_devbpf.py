"""Device rules on cgroup v2: the v1 devices controller's rule semantics, compiled into a
``BPF_PROG_TYPE_CGROUP_DEVICE`` program attached to the group's cgroup2 directory.

:func:`device_policy` replays a rule list the way the v1 controller applies writes to
``devices.deny`` and ``devices.allow`` (starting, like a new v1 group under an allow-all
parent, from "everything allowed"), giving a default and exceptions; :func:`compile_policy`
turns that into instructions; :func:`attach_device_rules` loads and attaches them. A group
with the program allows exactly what a v1 group given the same rules allows.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import struct
import sys
from collections.abc import Iterable

import attrs

from pycontainers._log import get_logger
from pycontainers.cgroups._devices import DeviceRule
from pycontainers.cgroups._errors import CgroupError, CgroupNotSupported

log = get_logger("pycontainers.cgroups")

# the kernel's access bits (v1 DEVCG_ACC_* and BPF_DEVCG_ACC_* alike) and device types
ACCESS_BITS = {"m": 1, "r": 2, "w": 4}
ALL_ACCESS = 7
DEVICE_TYPES = {"b": 1, "c": 2}


@attrs.frozen
class DeviceException:
    """One exception of a :class:`DevicePolicy`: ``type`` ``"b"``/``"c"``, ``major`` and
    ``minor`` (``None``: any) and ``access``, the kernel's bits (m 1, r 2, w 4).
    """

    type: str
    major: int | None
    minor: int | None
    access: int

    def matches(self, kind: str, major: int, minor: int) -> bool:
        """Whether this exception names the device ``kind`` ``major``:``minor``."""
        return self.type == kind and self.major in (None, major) and self.minor in (None, minor)


@attrs.frozen
class DevicePolicy:
    """What a v1 devices group holds: a default (``allow``) and the exceptions to it."""

    allow: bool
    exceptions: tuple[DeviceException, ...] = ()

    def permits(self, kind: str, major: int, minor: int, access: int) -> bool:
        """The v1 controller's verdict on ``access`` (bits) to a device: with a default of
        allow, denied if an exception shares any bit; with deny, allowed if one exception
        holds every bit.
        """
        found = [e for e in self.exceptions if e.matches(kind, major, minor)]
        if self.allow:
            return not any(access & e.access for e in found)
        return any(not access & ~e.access for e in found)


def _bits(access: str) -> int:
    return sum(ACCESS_BITS[a] for a in access)


def device_policy(
    deny: Iterable[DeviceRule], allow: Iterable[DeviceRule], *, start: DevicePolicy | None = None
) -> DevicePolicy:
    """Replay ``deny`` then ``allow`` (the order pycontainers writes them to a v1 group) on
    ``start`` (default: everything allowed, a new group under an allow-all parent).

    As the kernel does: an ``a`` rule resets the group (``deny``: nothing allowed, ``allow``:
    everything) and drops every exception; a ``b``/``c`` rule that goes against the default
    adds an exception (or adds its bits to one naming the same devices), one that goes with
    it removes its bits from the exception naming exactly the same devices.
    """
    policy = start or DevicePolicy(allow=True)
    allowed = policy.allow
    # (type, major, minor) -> access bits, in the order the kernel keeps its list
    exceptions = {(e.type, e.major, e.minor): e.access for e in policy.exceptions}
    for grants, rules in ((False, deny), (True, allow)):
        for rule in rules:
            if rule.type == "a":
                allowed, exceptions = grants, {}
                continue
            key, bits = (rule.type, rule.major, rule.minor), _bits(rule.access)
            if grants != allowed:  # an exception to the default
                exceptions[key] = exceptions.get(key, 0) | bits
            elif key in exceptions:  # with the default: take the bits out of the exception
                exceptions[key] &= ~bits
                if not exceptions[key]:
                    del exceptions[key]
    return DevicePolicy(
        allowed, tuple(DeviceException(*key, access) for key, access in exceptions.items())
    )


# -- the program -------------------------------------------------------------------------------

# eBPF opcodes (linux/bpf_common.h, linux/bpf.h)
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_MOV32_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
_MOV64_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_AND32_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
_RSH32_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_EXIT = 0x95  # BPF_JMP | BPF_EXIT

# registers: r1 the context (struct bpf_cgroup_dev_ctx: access_type, major, minor, u32 each),
# then scratch once it is read
_CTX, _TYPE, _ACCESS, _MAJOR, _MINOR, _SCRATCH = 1, 3, 2, 4, 5, 1

Insn = tuple[int, int, int, int, int]  # (code, dst, src, off, imm)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> Insn:
    return (code, dst, src, off, imm)


def _verdict(allow: bool) -> list[Insn]:
    return [_insn(_MOV64_K, 0, imm=int(allow)), _insn(_EXIT)]


def _block(exception: DeviceException, allow_default: bool) -> list[Insn]:
    """Instructions that return the exception's verdict if it applies, else fall through
    (each test jumps past the end of the block when it fails).
    """
    skip = -1  # a test's offset, set once the block's length is known
    body = [_insn(_JNE_K, _TYPE, off=skip, imm=DEVICE_TYPES[exception.type])]
    if exception.major is not None:
        body.append(_insn(_JNE_K, _MAJOR, off=skip, imm=exception.major))
    if exception.minor is not None:
        body.append(_insn(_JNE_K, _MINOR, off=skip, imm=exception.minor))
    if allow_default:  # a deny exception applies if the access shares a bit with it
        body += [
            _insn(_MOV32_X, _SCRATCH, _ACCESS),
            _insn(_AND32_K, _SCRATCH, imm=exception.access),
            _insn(_JEQ_K, _SCRATCH, off=skip, imm=0),
        ]
    elif exception.access != ALL_ACCESS:  # an allow exception must hold every bit asked for
        body += [
            _insn(_MOV32_X, _SCRATCH, _ACCESS),
            _insn(_AND32_K, _SCRATCH, imm=ALL_ACCESS & ~exception.access),
            _insn(_JNE_K, _SCRATCH, off=skip, imm=0),
        ]
    body += _verdict(not allow_default)
    return [
        (code, dst, src, len(body) - i - 1 if off == skip else off, imm)
        for i, (code, dst, src, off, imm) in enumerate(body)
    ]


def program(policy: DevicePolicy) -> list[Insn]:
    """The instructions of ``policy`` as ``(code, dst, src, off, imm)`` tuples: read the
    context, one block per exception (the exception's verdict if it names the device and
    the access), then the default.
    """
    insns = [
        _insn(_LDX_W, _ACCESS, _CTX, 0),
        _insn(_MOV32_X, _TYPE, _ACCESS),
        _insn(_AND32_K, _TYPE, imm=0xFFFF),
        _insn(_RSH32_K, _ACCESS, imm=16),
        _insn(_LDX_W, _MAJOR, _CTX, 4),
        _insn(_LDX_W, _MINOR, _CTX, 8),
    ]
    for exception in policy.exceptions:
        insns += _block(exception, policy.allow)
    return insns + _verdict(policy.allow)


def encode(insns: Iterable[Insn]) -> bytes:
    """``struct bpf_insn`` bytes in this machine's byte order (the registers share a byte:
    dst in the low nibble on little-endian machines, the high one on big-endian).
    """
    little = sys.byteorder == "little"
    out = bytearray()
    for code, dst, src, off, imm in insns:
        regs = (dst | src << 4) if little else (dst << 4 | src)
        out += struct.pack("=BBhi", code, regs, off, imm)
    return bytes(out)


def compile_policy(policy: DevicePolicy) -> bytes:
    """The program bytes for ``policy``, ready for ``BPF_PROG_LOAD``."""
    return encode(program(policy))


# -- the kernel ----------------------------------------------------------------------------------

_HINTS = {
    errno.EPERM: " (loading a device program needs CAP_SYS_ADMIN or CAP_BPF, and no parent "
    "group may hold a device program attached without BPF_F_ALLOW_MULTI)",
    errno.EACCES: " (loading a device program needs CAP_SYS_ADMIN or CAP_BPF)",
    errno.EBADF: " (not a cgroup2 directory)",
    errno.E2BIG: " (too many device rules for one program)",
}


POLICY_XATTR = "trusted.pycontainers.devices"
"""The extended attribute of a group's cgroup2 directory that records its device policy (the
kernel keeps only the program): an update starts from it, as a v1 group's rules do."""


def policy_record(policy: DevicePolicy) -> bytes:
    """The bytes :func:`attach_device_rules` records for ``policy`` (:data:`POLICY_XATTR`)."""
    rows = [[e.type, e.major, e.minor, e.access] for e in policy.exceptions]
    return json.dumps({"allow": policy.allow, "exceptions": rows}).encode()


def stored_policy(directory: str) -> DevicePolicy | None:
    """The device policy recorded on the cgroup2 ``directory`` (None: no record, or one this
    version cannot read).
    """
    try:
        doc = json.loads(os.getxattr(directory, POLICY_XATTR))
        return DevicePolicy(
            bool(doc["allow"]),
            tuple(DeviceException(t, ma, mi, int(a)) for t, ma, mi, a in doc["exceptions"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@functools.lru_cache(maxsize=32)
def _compiled(
    deny: tuple[DeviceRule, ...], allow: tuple[DeviceRule, ...], start: DevicePolicy
) -> tuple[DevicePolicy, bytes]:
    """The policy and program of a rule list (most containers share Docker's)."""
    policy = device_policy(deny, allow, start=start)
    return policy, compile_policy(policy)


def attach_device_rules(
    directory: str, deny: Iterable[DeviceRule], allow: Iterable[DeviceRule]
) -> DevicePolicy:
    """Apply ``deny`` then ``allow`` (v1 semantics) to the group's recorded policy (a new
    group: everything allowed), attach the program to the cgroup2 ``directory`` and record
    the policy (:data:`POLICY_XATTR`). The program replaces the device programs attached
    there before (the new one is attached first: the group is never without one).

    Raise :class:`CgroupError` naming the step that failed (the group is then as it was, or
    at least as strict: an older program that could not be detached stays), and
    :class:`CgroupNotSupported` for rules that would add to a policy nobody recorded (a
    device program is there, but not ours): give a list that starts over with ``a``.
    """
    from pycontainers import _sys

    deny, allow = tuple(deny), tuple(allow)
    resets = any(r.type == "a" for r in (*deny, *allow))  # the start does not matter then
    start = None if resets else stored_policy(directory)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise CgroupError(
            f"cannot open {directory} to attach its device program: {exc.strerror}",
            path=directory,
            errno=exc.errno,
        ) from exc
    try:
        if start is None and not resets and _sys.bpf_device_programs(fd, directory)[0]:
            raise CgroupNotSupported(
                f"{directory} has a device program but no record of its rules "
                f"({POLICY_XATTR}): device rules that add to them are refused; give the "
                "whole list, starting with an 'a' rule",
                path=directory,
            )
        policy, code = _compiled(deny, allow, start or DevicePolicy(allow=True))
        _sys.bpf_device_attach(fd, code, directory)
    except OSError as exc:
        hint = _HINTS.get(exc.errno or 0, "")
        raise CgroupError(
            f"cannot enforce device rules on {directory}: {exc.strerror}{hint}",
            path=directory,
            errno=exc.errno,
        ) from exc
    finally:
        os.close(fd)
    _record(directory, policy)
    log.debug(
        "cgroup.device_program",
        path=directory,
        default="allow" if policy.allow else "deny",
        exceptions=len(policy.exceptions),
    )
    return policy


def _record(directory: str, policy: DevicePolicy) -> None:
    """Record ``policy`` on the directory; failing that, remove the old record, so that no
    later update starts from rules the program no longer has.
    """
    try:
        os.setxattr(directory, POLICY_XATTR, policy_record(policy))
        return
    except OSError as exc:
        log.warning("cgroup.device_policy_unrecorded", path=directory, error=exc.strerror)
    try:
        os.removexattr(directory, POLICY_XATTR)
    except OSError as exc:
        if exc.errno != errno.ENODATA:
            raise CgroupError(
                f"cannot record the device rules of {directory} nor remove the old record: "
                f"{exc.strerror}",
                path=directory,
                errno=exc.errno,
            ) from exc


def device_programs(directory: str) -> tuple[int, ...]:
    """The ids of the device programs attached to the cgroup2 ``directory`` (itself, not its
    ancestors).
    """
    from pycontainers import _sys

    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _sys.bpf_device_programs(fd, directory)[0]
    finally:
        os.close(fd)
