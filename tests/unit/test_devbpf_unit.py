"""Device rules → cgroup device program: the v1 controller's rule semantics (replayed by
``device_policy``) and the generated instructions, run here by a small interpreter of the
instructions the compiler emits, agree on every device and access. The kernel side (the
program loaded, attached and enforced, and checked against a real v1 group given the same
rules) is in tests/integration/test_cgroup_devices_bpf.py.
"""

from __future__ import annotations

import itertools
import struct
import sys

import pytest

from pycontainers.cgroups import DeviceRule
from pycontainers.cgroups._devbpf import (
    DeviceException,
    DevicePolicy,
    compile_policy,
    device_policy,
    program,
)
from pycontainers.runtime.devrules import DEFAULT_DEVICE_RULES

M, R, W = 1, 2, 4


def rules(*texts: str) -> tuple[DeviceRule, ...]:
    return tuple(DeviceRule.parse("rules", t) for t in texts)


def run(code: bytes, kind: str, major: int, minor: int, access: int) -> int:
    """Run the program on one context (struct bpf_cgroup_dev_ctx) and return r0. Knows the
    instructions the compiler uses; anything else fails the test.
    """
    ctx = struct.pack("=III", access << 16 | {"b": 1, "c": 2}[kind], major, minor)
    regs = [0] * 11
    regs[1] = -1  # the context pointer: only ever read through LDX
    pc, steps = 0, 0
    insns = [struct.unpack_from("=BBhi", code, i) for i in range(0, len(code), 8)]
    while True:
        steps += 1
        assert steps < 10_000, "the program loops"
        op, packed, off, imm = insns[pc]
        dst, src = (
            (packed & 15, packed >> 4) if sys.byteorder == "little" else (packed >> 4, packed & 15)
        )
        pc += 1
        if op == 0x61:  # LDX W from the context
            assert regs[src] == -1 and off in (0, 4, 8)
            regs[dst] = struct.unpack_from("=I", ctx, off)[0]
        elif op == 0xBC:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif op == 0xB7:
            regs[dst] = imm
        elif op == 0x54:
            regs[dst] = regs[dst] & imm & 0xFFFFFFFF
        elif op == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif op == 0x55:
            pc += off if regs[dst] != imm else 0
        elif op == 0x15:
            pc += off if regs[dst] == imm else 0
        elif op == 0x95:
            return regs[0]
        else:
            pytest.fail(f"unexpected opcode {op:#x}")


DEVICES = [(k, ma, mi) for k in "bc" for ma in (1, 5, 8, 136) for mi in (0, 3, 5, 9)]
ACCESSES = list(range(1, 8))


def check_program(policy: DevicePolicy) -> None:
    code = compile_policy(policy)
    for (kind, major, minor), access in itertools.product(DEVICES, ACCESSES):
        want = policy.permits(kind, major, minor, access)
        assert run(code, kind, major, minor, access) == int(want), (kind, major, minor, access)


def test_a_new_group_allows_everything_and_a_resets() -> None:
    assert device_policy((), ()) == DevicePolicy(allow=True)
    assert device_policy(rules("a"), ()) == DevicePolicy(allow=False)
    # 'a' with numbers or access is still the whole switch, and drops every exception
    assert device_policy(rules("c 1:3 rwm", "a *:* r"), ()) == DevicePolicy(allow=False)
    assert device_policy(rules("a"), rules("c 1:3 r", "a")) == DevicePolicy(allow=True)
    assert program(DevicePolicy(allow=True))[-2:] == [(0xB7, 0, 0, 0, 1), (0x95, 0, 0, 0, 0)]


def test_exceptions_merge_their_bits_and_removal_takes_bits_away() -> None:
    policy = device_policy(rules("a"), rules("c 1:3 r", "c 1:3 w", "c 1:* m"))
    assert policy.exceptions == (
        DeviceException("c", 1, 3, R | W),
        DeviceException("c", 1, None, M),
    )
    # allow-all default: a deny adds an exception, an allow takes bits from the one naming
    # exactly the same devices (c 1:* is not c 1:3) and drops it when none are left
    policy = device_policy(rules("c 1:3 rwm", "c 1:* w"), rules("c 1:3 rw", "c 1:* w", "b 8:0 r"))
    assert policy == DevicePolicy(allow=True, exceptions=(DeviceException("c", 1, 3, M),))


def test_wildcards_and_numbers() -> None:
    policy = device_policy(rules("a"), rules("c *:* m", "c 1:* r", "b 8:3 rw"))
    assert policy.permits("c", 136, 0, M) and policy.permits("c", 1, 9, R)
    assert not policy.permits("c", 1, 9, W) and not policy.permits("b", 1, 9, R)
    assert policy.permits("b", 8, 3, R | W) and not policy.permits("b", 8, 0, R)
    assert not policy.permits("b", 5, 3, M)  # c *:* is not b
    check_program(policy)


def test_access_must_be_held_by_one_exception_when_the_default_is_deny() -> None:
    """v1's match_exception: read+write on a device allowed r by one rule and w by another
    is denied; on an allow-all default, a deny sharing any bit denies.
    """
    policy = device_policy(rules("a"), rules("b *:* r", "b 8:* w"))
    assert policy.permits("b", 8, 0, R) and policy.permits("b", 8, 0, W)
    assert not policy.permits("b", 8, 0, R | W)
    check_program(policy)
    policy = device_policy(rules("c 1:5 w"), ())
    assert policy.permits("c", 1, 5, R) and not policy.permits("c", 1, 5, R | W)
    check_program(policy)


@pytest.mark.parametrize(
    ("deny", "allow"),
    [
        (("a",), DEFAULT_DEVICE_RULES),
        ((), ()),
        (("a",), ()),
        (("c 1:3 rwm", "b *:* w", "c *:5 m"), ()),
        (("a",), ("c 1:* r", "c 1:* w", "b 8:* rwm", "c 136:3 m", "c 5:0 rw")),
        (("c 1:* rwm",), ("c 1:* r", "b 5:9 m")),
        (("a",), ("c *:* rwm",)),
    ],
)
def test_program_agrees_with_the_v1_semantics(
    deny: tuple[str, ...], allow: tuple[str, ...]
) -> None:
    check_program(device_policy(rules(*deny), rules(*allow)))


def test_docker_defaults() -> None:
    policy = device_policy(rules("a"), rules(*DEFAULT_DEVICE_RULES))
    assert not policy.allow
    assert policy.permits("b", 8, 0, M) and not policy.permits("b", 8, 0, R)
    assert policy.permits("c", 1, 3, R | W) and policy.permits("c", 136, 7, R | W)
    assert not policy.permits("c", 1, 1, R)  # /dev/mem
    assert not policy.permits("c", 10, 237, W)
