"""Seccomp profiles without a kernel: parsing, validation, resolution, and compiling with
libseccomp (output shape, caching, skipped names). Loading filters is in integration/."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Sequence
from typing import Any

import pytest

from pycontainers.errors import PyContainersError, SpecError
from pycontainers.security import _seccomp_bpf
from pycontainers.security._seccomp_merge import merge_rules
from pycontainers.security.seccomp import (
    SeccompArg,
    SeccompCondition,
    SeccompError,
    SeccompProfile,
    SeccompRule,
    compile_profile,
    default_profile,
    libseccomp_version,
)


def _libseccomp_loads() -> bool:
    try:
        _seccomp_bpf.load()
    except SeccompError:
        return False
    return True


# CI installs libseccomp2, so there a missing library fails instead of skipping.
needs_libseccomp = pytest.mark.skipif(
    not _libseccomp_loads() and not os.environ.get("CI"),
    reason="libseccomp.so.2 is missing (apt-get install libseccomp2)",
)

DEFAULT_CAPS = frozenset(
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    }
)  # fmt: skip


def allowed(profile: SeccompProfile, name: str) -> list[SeccompRule]:
    """The resolved rules that name ``name``."""
    return [rule for rule in profile.rules if name in rule.names]


def unconditionally_allowed(profile: SeccompProfile) -> set[str]:
    return {
        name
        for rule in profile.rules
        if rule.action == "SCMP_ACT_ALLOW" and not rule.args
        for name in rule.names
    }


def custom(**rule: Any) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}


def spec_error(data: Any) -> str:
    with pytest.raises(SpecError) as info:
        SeccompProfile.from_json(data)
    assert info.value.field == "seccomp"
    return str(info.value)


# -- the default profile ------------------------------------------------------------------


def test_default_profile_is_parsed_once() -> None:
    profile = default_profile()
    assert profile is default_profile()
    assert profile.default_action == "SCMP_ACT_ERRNO"
    assert profile.default_errno_ret == 1  # EPERM
    assert "moby" in profile.comment


def test_default_profile_allows_ordinary_work_and_denies_the_dangerous() -> None:
    resolved = default_profile().resolve(DEFAULT_CAPS, arch="x86_64", kernel=(6, 1))
    allow = unconditionally_allowed(resolved)
    for name in ("read", "openat", "execve", "futex", "mmap", "rt_sigaction", "wait4", "ptrace"):
        assert name in allow, name
    assert {"arch_prctl", "modify_ldt", "chroot"} <= allow  # x86_64; CAP_SYS_CHROOT held
    denied = (
        "mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "bpf",
        "kexec_load", "init_module", "reboot", "swapon", "pivot_root", "io_uring_setup",
        "userfaultfd", "open_by_handle_at", "perf_event_open", "clock_settime", "syslog",
        "acct", "iopl", "kcmp", "set_mempolicy", "vhangup", "fsopen", "clone3", "clone",
        "personality", "socket", "s390_runtime_instr", "cacheflush",
    )  # fmt: skip
    for name in denied:
        assert name not in allow, name


def test_default_profile_argument_filters() -> None:
    resolved = default_profile().resolve(DEFAULT_CAPS, arch="x86_64", kernel=(6, 1))
    (clone,) = allowed(resolved, "clone")
    assert clone.args == (
        SeccompArg(index=0, value=0x7E020000, value_two=0, op="SCMP_CMP_MASKED_EQ"),
    )
    (clone3,) = allowed(resolved, "clone3")
    assert (clone3.action, clone3.errno_ret) == ("SCMP_ACT_ERRNO", 38)  # ENOSYS
    personas = {rule.args[0].value for rule in allowed(resolved, "personality")}
    assert personas == {0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF}
    families = {(r.args[0].op, r.args[0].value) for r in allowed(resolved, "socket")}
    assert families == {("SCMP_CMP_LT", 38), ("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40)}


def test_capabilities_unlock_syscall_groups() -> None:
    profile = default_profile()
    groups = {
        "CAP_SYS_ADMIN": {"mount", "umount2", "unshare", "setns", "sethostname", "clone3"},
        "CAP_SYS_PTRACE": {"kcmp", "pidfd_getfd", "process_madvise"},
        "CAP_SYS_MODULE": {"init_module", "finit_module", "delete_module"},
        "CAP_SYS_BOOT": {"reboot"},
        "CAP_SYS_TIME": {"settimeofday", "clock_settime"},
        "CAP_SYS_NICE": {"mbind", "set_mempolicy"},
        "CAP_SYS_RAWIO": {"iopl", "ioperm"},
        "CAP_SYSLOG": {"syslog"},
        "CAP_BPF": {"bpf"},
        "CAP_PERFMON": {"perf_event_open"},
        "CAP_DAC_READ_SEARCH": {"open_by_handle_at"},
        "CAP_SYS_PACCT": {"acct"},
        "CAP_SYS_TTY_CONFIG": {"vhangup"},
    }
    base = unconditionally_allowed(profile.resolve(DEFAULT_CAPS, arch="x86_64"))
    for cap, names in groups.items():
        more = unconditionally_allowed(profile.resolve(DEFAULT_CAPS | {cap}, arch="x86_64"))
        assert names <= more - base, cap


def test_cap_sys_admin_lifts_the_clone_filters() -> None:
    resolved = default_profile().resolve(["sys_admin"], arch="x86_64")  # short names work too
    assert [(r.action, r.args) for r in allowed(resolved, "clone")] == [("SCMP_ACT_ALLOW", ())]
    assert [(r.action, r.errno_ret) for r in allowed(resolved, "clone3")] == [
        ("SCMP_ACT_ALLOW", None)
    ]


def test_architecture_conditions() -> None:
    profile = default_profile()
    on_arm = profile.resolve(DEFAULT_CAPS, arch="arm64")
    assert "arch_prctl" not in unconditionally_allowed(on_arm)
    assert "cacheflush" in unconditionally_allowed(on_arm)
    assert on_arm.architectures == ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM")
    on_s390 = profile.resolve(DEFAULT_CAPS, arch="SCMP_ARCH_S390X")
    assert [r.args[0].index for r in allowed(on_s390, "clone")] == [1]  # s390 swaps clone's args
    on_x86 = profile.resolve(DEFAULT_CAPS, arch="amd64")
    assert on_x86.architectures == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")
    assert on_x86.arch_map == ()


def test_min_kernel_condition() -> None:
    profile = default_profile()
    assert "ptrace" in unconditionally_allowed(profile.resolve(DEFAULT_CAPS, kernel=(4, 8)))
    assert "ptrace" not in unconditionally_allowed(profile.resolve(DEFAULT_CAPS, kernel=(4, 7)))


def test_round_trip_through_json() -> None:
    profile = default_profile()
    again = SeccompProfile.from_json(json.dumps(profile.to_dict()))
    assert again == profile
    assert hash(again) == hash(profile)
    assert again.comment == profile.comment


# -- custom profiles ----------------------------------------------------------------------


def test_custom_profile_from_text_and_dict() -> None:
    data = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "x86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"name": "umask", "action": "SCMP_ACT_KILL_PROCESS", "args": [
                {"index": 0, "value": 0o77, "valueTwo": 0o77, "op": "SCMP_CMP_MASKED_EQ"}
            ], "includes": {"caps": ["CAP_CHOWN"], "arches": ["amd64"], "minKernel": "3.10"},
             "excludes": {}},
        ],
    }  # fmt: skip
    profile = SeccompProfile.from_json(data)
    assert profile == SeccompProfile.from_json(json.dumps(data))
    assert profile.architectures == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86")
    assert profile.filter_flags == 2
    umask = profile.rules[1]
    assert umask.names == ("umask",)
    assert umask.args[0].value_two == 0o77
    assert umask.includes == SeccompCondition(("CAP_CHOWN",), ("amd64",), (3, 10))
    assert not umask.excludes
    assert allowed(profile.resolve(["CAP_CHOWN"], arch="x86_64"), "umask")
    assert not allowed(profile.resolve([], arch="x86_64"), "umask")


def test_docker_nulls_read_as_absent() -> None:
    profile = SeccompProfile.from_json(
        '{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64",'
        ' "subArchitectures": null}], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",'
        ' "args": null, "includes": {"minKernel": ""}, "excludes": null, "errnoRet": null}]}'
    )
    assert profile.arch_map == (("SCMP_ARCH_X86_64", ()),)
    assert profile.rules[0] == SeccompRule(names=("read",), action="SCMP_ACT_ALLOW")


def test_python_construction_validates() -> None:
    rule = SeccompRule(names=["getpid"], action="SCMP_ACT_ERRNO", errno_ret=38)
    assert rule.names == ("getpid",)
    with pytest.raises(SpecError, match="out of range"):
        SeccompArg(index=6, value=0, op="SCMP_CMP_EQ")
    with pytest.raises(SpecError, match="unknown action"):
        SeccompProfile(default_action="SCMP_ACT_MAYBE")
    with pytest.raises(SpecError, match="list of strings"):
        SeccompRule(names="getpid", action="SCMP_ACT_ALLOW")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("{not json", "not valid JSON"),
        ([], "expected a JSON object"),
        ({"syscalls": []}, "defaultAction: missing"),
        ({"defaultAction": "SCMP_ACT_NOPE"}, "defaultAction: unknown action 'SCMP_ACT_NOPE'"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}, "defaultErrnoRet: only"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000}, "defaultErrnoRet: 5000 is out of range"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": "1"}, "defaultErrnoRet: expected an integer"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "sycalls": []}, "unknown key(s) 'sycalls'"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}, "syscalls: expected a list"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}, "architectures: unknown architecture 'SCMP_ARCH_VAX'"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "x86_64", "subArchitectures": ["z80"]}]}, "archMap: unknown architecture 'z80'"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"subArchitectures": []}]}, "archMap[0].architecture: missing"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86"], "archMap": [{"architecture": "x86"}]}, "either architectures or archMap"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}, "flags: unknown flag"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock"}, "listenerPath: seccomp notify"),
        (custom(names=["getpid"], action="SCMP_ACT_FOO"), "syscalls[0].action: unknown action 'SCMP_ACT_FOO'"),
        (custom(names=["getpid"]), "syscalls[0].action: missing"),
        (custom(action="SCMP_ACT_ERRNO"), "syscalls[0].names: missing or empty"),
        (custom(names=[], action="SCMP_ACT_ERRNO"), "syscalls[0].names: missing or empty"),
        (custom(names=["getpid", 3], action="SCMP_ACT_ERRNO"), "syscalls[0].names[1]: expected a string"),
        (custom(names=[""], action="SCMP_ACT_ERRNO"), "syscalls[0].names: syscall names are non-empty"),
        (custom(name="getpid", names=["getppid"], action="SCMP_ACT_ERRNO"), "either name or names"),
        (custom(names=["getpid"], action="SCMP_ACT_ERRNO", errnoRet=-1), "syscalls[0].errnoRet: -1 is out of range"),
        (custom(names=["getpid"], action="SCMP_ACT_ERRNO", errnoRet=True), "syscalls[0].errnoRet: expected an integer"),
        (custom(names=["getpid"], action="SCMP_ACT_ALLOW", errnoRet=1), "syscalls[0].errnoRet: only SCMP_ACT_ERRNO"),
        (custom(names=["getpid"], action="SCMP_ACT_ERRNO", nmes=[]), "syscalls[0]: unknown key(s) 'nmes'"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", args=[{"index": 0, "value": 1, "op": "SCMP_CMP_SIMILAR"}]), "syscalls[0].args[0].op: unknown operator 'SCMP_CMP_SIMILAR'"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", args=[{"index": 0, "value": 1}]), "syscalls[0].args[0].op: missing"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", args=[{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]), "syscalls[0].args[0].index: 6 is out of range 0..5"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", args=[{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]), "syscalls[0].args[0].value: -1 is out of range"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", args=[{"index": 0, "value": 2**64, "op": "SCMP_CMP_EQ"}]), "syscalls[0].args[0].value: 18446744073709551616 is out of range"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", args=[{"index": 0, "value": 1.5, "op": "SCMP_CMP_EQ"}]), "syscalls[0].args[0].value: expected an integer"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", args=["x"]), "syscalls[0].args[0]: expected a JSON object"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", includes={"caps": ["sys_admin"]}), "syscalls[0].includes.caps: 'sys_admin' is not a capability"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", includes={"arches": ["vax"]}), "syscalls[0].includes.arches: unknown architecture 'vax'"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", excludes={"minKernel": "4"}), "syscalls[0].excludes.minKernel: expected '<version>.<major>'"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", excludes={"minKernel": "0.0"}), "syscalls[0].excludes.minKernel: expected (version, major)"),
        (custom(names=["kill"], action="SCMP_ACT_ERRNO", excludes={"kernel": "4.8"}), "syscalls[0].excludes: unknown key(s) 'kernel'"),
    ],
)  # fmt: skip
def test_invalid_profiles_name_the_problem(data: Any, expected: str) -> None:
    message = spec_error(data)
    assert expected in message
    assert message.startswith("seccomp: ")


def test_spec_error_is_a_library_error() -> None:
    with pytest.raises(PyContainersError):
        SeccompProfile.from_json("{}")


def test_args_on_one_argument_are_alternatives() -> None:
    eq = [SeccompArg(index=0, value=v, op="SCMP_CMP_EQ") for v in (1, 2)]
    either = SeccompRule(names=["kill"], action="SCMP_ACT_ERRNO", args=eq)
    assert either.arg_sets() == ((eq[0],), (eq[1],))
    both = SeccompRule(
        names=["kill"],
        action="SCMP_ACT_ERRNO",
        args=[eq[0], SeccompArg(index=1, value=9, op="SCMP_CMP_EQ")],
    )
    assert both.arg_sets() == (both.args,)
    assert SeccompRule(names=["kill"], action="SCMP_ACT_ERRNO").arg_sets() == ((),)


def test_comments_do_not_change_equality() -> None:
    a = SeccompProfile.from_json({"defaultAction": "SCMP_ACT_ALLOW", "comment": "a"})
    b = SeccompProfile.from_json({"defaultAction": "SCMP_ACT_ALLOW", "comment": "b"})
    assert a == b
    assert hash(a) == hash(b)


# -- compiling ----------------------------------------------------------------------------


def instructions(bpf: bytes) -> list[tuple[int, int, int, int]]:
    return list(struct.iter_unpack("=HBBI", bpf))


@needs_libseccomp
def test_libseccomp_version() -> None:
    assert libseccomp_version() >= (2, 4, 0)


@needs_libseccomp
def test_compile_default_profile() -> None:
    bpf = compile_profile(default_profile(), capabilities=DEFAULT_CAPS)
    assert isinstance(bpf, bytes)
    assert len(bpf) % 8 == 0
    assert 100 < len(bpf) // 8 <= 4096
    insns = instructions(bpf)
    # the first instruction loads seccomp_data.arch; then x86_64, x86 and x32 are checked
    assert insns[0] == (0x20, 0, 0, 4)
    arches = {k for code, _, _, k in insns if code == 0x15}
    assert {0xC000003E, 0x40000003} <= arches  # AUDIT_ARCH_X86_64, AUDIT_ARCH_I386
    # the last answer of the filter is the default action, ERRNO(EPERM)
    returns = {k for code, _, _, k in insns if code == 0x06}
    assert 0x00050001 in returns
    assert 0x00050026 in returns  # clone3: ERRNO(ENOSYS)


@needs_libseccomp
def test_compile_is_cached_per_profile_and_capabilities() -> None:
    profile = default_profile()
    first = compile_profile(profile, capabilities=frozenset({"CAP_CHOWN", "CAP_KILL"}))
    assert compile_profile(profile, capabilities=frozenset({"CAP_KILL", "CAP_CHOWN"})) is first
    assert compile_profile(profile, capabilities=["chown", "KILL"]) is first
    # an equal profile parsed again shares the cache entry
    again = SeccompProfile.from_json(profile.to_dict())
    assert compile_profile(again, capabilities={"CAP_CHOWN", "CAP_KILL"}) is first
    admin = compile_profile(profile, capabilities={"CAP_SYS_ADMIN"})
    assert admin != first


@needs_libseccomp
def test_unknown_syscall_names_are_skipped() -> None:
    plain = SeccompProfile.from_json(custom(names=["getpid"], action="SCMP_ACT_ERRNO", errnoRet=38))
    extra = SeccompProfile.from_json(
        custom(
            names=["getpid", "no_such_syscall", "s390_runtime_instr"],
            action="SCMP_ACT_ERRNO",
            errnoRet=38,
        )
    )
    assert compile_profile(extra) == compile_profile(plain)


@needs_libseccomp
def test_rule_with_the_default_action_changes_nothing() -> None:
    base = SeccompProfile.from_json({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})  # fmt: skip
    same = SeccompProfile.from_json({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})  # fmt: skip
    assert compile_profile(same) == compile_profile(base)


@needs_libseccomp
def test_compile_for_another_architecture() -> None:
    arm = compile_profile(default_profile(), capabilities=DEFAULT_CAPS, arch="aarch64")
    arches = {k for code, _, _, k in instructions(arm) if code == 0x15}
    assert 0xC00000B7 in arches  # AUDIT_ARCH_AARCH64
    assert 0xC000003E not in arches


# -- several rules for one syscall: libseccomp's semantics, as runc and crun use them -----


def rule(
    names: str,
    action: str = "SCMP_ACT_ALLOW",
    errno: int | None = None,
    args: Sequence[tuple[int, str, int, int]] = (),
) -> dict[str, Any]:
    out: dict[str, Any] = {"names": names.split(), "action": action}
    if errno is not None:
        out["errnoRet"] = errno
    if args:
        out["args"] = [
            {"index": i, "op": f"SCMP_CMP_{op}", "value": v, "valueTwo": v2}
            for i, op, v, v2 in args
        ]
    return out


def merged(
    default: str,
    *rules: dict[str, Any],
    errno: int | None = None,
    arch: str = "x86_64",
    arches: tuple[str, ...] = (),
) -> dict[str, list[str]]:
    """{syscall: ["ACTION(errno) args...", ...]} of the rules that take effect."""
    data: dict[str, Any] = {"defaultAction": default, "syscalls": list(rules)}
    if errno is not None:
        data["defaultErrnoRet"] = errno
    if arches:
        data["architectures"] = list(arches)
    out: dict[str, list[str]] = {}
    for r in merge_rules(SeccompProfile.from_json(data), arch=arch).rules:
        text = r.action + ("" if r.errno_ret is None else f"({r.errno_ret})")
        text += "".join(f" a{a.index}{a.op[9:]}{a.value:#x}" for a in r.args)
        for name in r.names:
            out.setdefault(name, []).append(text)
    return out


def refused(default: str, *rules: dict[str, Any], **kw: Any) -> str:
    with pytest.raises(SpecError) as info:
        merged(default, *rules, **kw)
    assert info.value.field == "seccomp"
    return str(info.value)


MASK_NS = 0x7E020000  # the CLONE_NEW* flags Docker's profile tests
NEWUTS = 0x04000000


def test_the_first_unconditional_rule_decides() -> None:
    # podman's profile: setns in its allow-list, then denied unless CAP_SYS_ADMIN; libseccomp
    # keeps the first and drops the second (db_rule_add), so runc and crun allow setns
    got = merged(
        "SCMP_ACT_ERRNO",
        rule("setns getpid"),
        rule("setns kcmp", "SCMP_ACT_ERRNO", 1),
        rule("clone", "SCMP_ACT_ERRNO", 1, [(0, "MASKED_EQ", NEWUTS, NEWUTS)]),
        rule("clone"),  # unconditional after conditional: replaces it
        rule("clone", "SCMP_ACT_ERRNO", 5, [(0, "EQ", 0, 0)]),  # after: dropped
        errno=38,
    )
    assert got == {
        "setns": ["SCMP_ACT_ALLOW"],
        "getpid": ["SCMP_ACT_ALLOW"],
        "kcmp": ["SCMP_ACT_ERRNO(1)"],
        "clone": ["SCMP_ACT_ALLOW"],
    }


def test_conditional_rules_combine_when_they_cannot_disagree() -> None:
    # podman's socket rules: EINVAL for (AF_NETLINK, NETLINK_AUDIT), allowed otherwise
    got = merged(
        "SCMP_ACT_ERRNO",
        rule("socket", "SCMP_ACT_ERRNO", 22, [(0, "EQ", 16, 0), (2, "EQ", 9, 0)]),
        rule("socket", args=[(2, "NE", 9, 0)]),
        rule("socket", args=[(0, "NE", 16, 0)]),
        rule("clone", args=[(0, "MASKED_EQ", MASK_NS, 0)]),
        rule("clone", "SCMP_ACT_ERRNO", 1, [(0, "MASKED_EQ", NEWUTS, NEWUTS)]),
        rule("personality", args=[(0, "EQ", 0, 0)]),
        rule("personality", args=[(0, "LE", 8, 0)]),  # overlaps, same action: fine
        errno=38,
    )
    assert got["socket"] == ["SCMP_ACT_ERRNO(22) a0EQ0x10 a2EQ0x9", "SCMP_ACT_ALLOW a2NE0x9",
                             "SCMP_ACT_ALLOW a0NE0x10"]  # fmt: skip
    assert got["clone"] == [f"SCMP_ACT_ALLOW a0MASKED_EQ{MASK_NS:#x}",
                            f"SCMP_ACT_ERRNO(1) a0MASKED_EQ{NEWUTS:#x}"]  # fmt: skip
    assert len(got["personality"]) == 2


def test_rules_with_the_default_action_are_skipped_unless_they_would_decide() -> None:
    got = merged(
        "SCMP_ACT_ERRNO",
        rule("chmod"),
        rule("chmod", "SCMP_ACT_ERRNO"),  # the default (EPERM): after the allow, no effect
        rule("mkdir", "SCMP_ACT_ERRNO", 1, [(0, "EQ", 5, 0)]),  # nothing but the default
        rule("uname", "SCMP_ACT_ERRNO"),
    )
    assert got == {"chmod": ["SCMP_ACT_ALLOW"]}
    # runc and crun skip the deny, so chown would be allowed; in libseccomp's order the deny
    # comes first: the profile means two things
    text = refused("SCMP_ACT_ERRNO", rule("chmod"), rule("chown", "SCMP_ACT_ERRNO", 1),
                   rule("chown"), errno=1)  # fmt: skip
    assert "syscalls[1]: syscall 'chown' gets the default action (SCMP_ACT_ERRNO(1))" in text
    assert "syscalls[2] gives it SCMP_ACT_ALLOW" in text
    text = refused("SCMP_ACT_ERRNO", rule("chown", args=[(0, "EQ", 0, 0)]),
                   rule("chown", "SCMP_ACT_ERRNO"))  # fmt: skip
    assert text.startswith("seccomp: syscalls[1]: syscall 'chown'"), text


def test_conditional_rules_that_one_call_matches_are_refused() -> None:
    text = refused(
        "SCMP_ACT_ALLOW",
        rule("getpid"),
        rule("clone", "SCMP_ACT_ERRNO", 1, [(0, "MASKED_EQ", NEWUTS, NEWUTS)]),
        rule("clone", "SCMP_ACT_TRAP", args=[(0, "GT", 0x100, 0)]),
    )
    assert text == (
        "seccomp: syscalls[2]: syscall 'clone' gets SCMP_ACT_TRAP here and SCMP_ACT_ERRNO(1) "
        "at syscalls[1] for the same call clone(args[0]=0x4000000); libseccomp refuses such "
        "rules or picks one by its internal order: make their args exclusive"
    )
    # the same conditions twice (libseccomp: EEXIST); args on different indexes
    assert "clone(args[0]=0x5)" in refused(
        "SCMP_ACT_ALLOW", rule("clone", "SCMP_ACT_ERRNO", 1, [(0, "EQ", 5, 0)]),
        rule("clone", "SCMP_ACT_KILL", args=[(0, "EQ", 5, 0)]),
    )  # fmt: skip
    assert "clone(args[0]=0x0, args[1]=0x7)" in refused(
        "SCMP_ACT_ALLOW", rule("clone", "SCMP_ACT_ERRNO", 1, [(0, "LT", 3, 0)]),
        rule("clone", "SCMP_ACT_KILL", args=[(1, "GE", 7, 0), (0, "NE", 9, 0)]),
    )  # fmt: skip
    # a rule with one argument named twice: alternatives, each checked
    assert "syscalls[1]" in refused(
        "SCMP_ACT_ALLOW", rule("clone", "SCMP_ACT_ERRNO", 1, [(0, "EQ", 5, 0)]),
        rule("clone", "SCMP_ACT_KILL", args=[(0, "EQ", 4, 0), (0, "EQ", 5, 0)]),
    )  # fmt: skip


def test_32_bit_architectures_compare_the_low_half() -> None:
    rules = (rule("clone", "SCMP_ACT_ERRNO", 1, [(0, "EQ", 5, 0)]),
             rule("clone", "SCMP_ACT_KILL", args=[(0, "EQ", 2**32 + 5, 0)]))  # fmt: skip
    assert len(merged("SCMP_ACT_ALLOW", *rules, arch="aarch64")["clone"]) == 2
    assert "clone(args[0]=0x5)" in refused(
        "SCMP_ACT_ALLOW", *rules, arch="x86_64", arches=("SCMP_ARCH_X86_64", "SCMP_ARCH_X86")
    )


def test_next_masked_value_is_exact() -> None:
    from pycontainers.security._seccomp_merge import _next_masked

    top = 63
    for low in range(top + 1):
        for mask in range(0, top + 1, 3):
            for datum in range(top + 1):
                datum &= mask
                for high in (low, (low + top) // 2, top):
                    want = next((x for x in range(low, high + 1) if x & mask == datum), None)
                    assert _next_masked(low, mask, datum, high) == want, (low, mask, datum)


@needs_libseccomp
def test_the_filter_is_the_one_runc_builds() -> None:
    """runc and crun add each rule to libseccomp in JSON order, skipping the default action;
    compile_bpf does the same with what it is given: unmerged, the bytes must not change."""
    profiles = [
        default_profile(),
        SeccompProfile.from_json({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                                  "syscalls": [
            rule("setns getpid read write exit_group"), rule("setns", "SCMP_ACT_ERRNO", 1),
            rule("clone", "SCMP_ACT_ERRNO", 1, [(0, "MASKED_EQ", NEWUTS, NEWUTS)]),
            rule("clone"), rule("clone", "SCMP_ACT_ERRNO", 5, [(0, "EQ", 0, 0)]),
            rule("socket", "SCMP_ACT_ERRNO", 22, [(0, "EQ", 16, 0), (2, "EQ", 9, 0)]),
            rule("socket", args=[(2, "NE", 9, 0)]), rule("socket", args=[(0, "NE", 16, 0)]),
            rule("socket", args=[(2, "NE", 9, 0)])]}),
    ]  # fmt: skip
    for profile in profiles:
        for caps in (DEFAULT_CAPS, DEFAULT_CAPS | {"CAP_SYS_ADMIN"}):
            runc = _seccomp_bpf.compile_bpf(profile.resolve(caps, "x86_64"), "x86_64")
            assert compile_profile(profile, caps, arch="x86_64") == runc


def test_missing_libseccomp_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_seccomp_bpf, "LIBRARY", "libseccomp-missing.so.99")
    _seccomp_bpf.load.cache_clear()
    try:
        profile = SeccompProfile.from_json(custom(names=["uname"], action="SCMP_ACT_LOG"))
        with pytest.raises(SeccompError, match="libseccomp2") as info:
            compile_profile(profile)
        assert isinstance(info.value, PyContainersError)
    finally:
        _seccomp_bpf.load.cache_clear()


def test_notify_is_an_action_whose_listener_is_the_runtimes_business() -> None:
    """SCMP_ACT_NOTIFY compiles to SECCOMP_RET_USER_NOTIF; where its fd goes (OCI
    listenerPath) is not part of a profile (without a listener the kernel says ENOSYS)."""
    from pycontainers.security._seccomp_bpf import action_value

    profile = SeccompProfile.from_json(custom(names=["getpid"], action="SCMP_ACT_NOTIFY"))
    assert profile.rules[0].action == "SCMP_ACT_NOTIFY"
    assert action_value("SCMP_ACT_NOTIFY", None) == 0x7FC00000
