"""Seccomp profiles without a kernel: parsing, validation, resolution, and compiling with
libseccomp (output shape, caching, skipped names). Loading filters is in integration/."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import pytest

from pycontainers.errors import PyContainersError, SpecError
from pycontainers.security import _seccomp_bpf
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
        (custom(names=["getpid"], action="SCMP_ACT_NOTIFY"), "SCMP_ACT_NOTIFY is not supported"),
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


@needs_libseccomp
def test_conflicting_rules_raise_spec_error() -> None:
    profile = SeccompProfile.from_json({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
        {"names": ["getpid"], "action": "SCMP_ACT_KILL"}]})  # fmt: skip
    with pytest.raises(
        SpecError, match=r"'getpid' has two rules .* SCMP_ACT_ERRNO\(5\) and SCMP_ACT_KILL"
    ):
        compile_profile(profile)
    # runc would silently drop this deny (it equals the default action) and allow chmod
    copied = default_profile().to_dict()
    copied["syscalls"].append({"names": ["chmod"], "action": "SCMP_ACT_ERRNO"})
    with pytest.raises(SpecError, match="'chmod'"):
        compile_profile(SeccompProfile.from_json(copied))


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
