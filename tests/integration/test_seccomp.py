"""Compiled seccomp filters on the real kernel: a child Python loads the BPF (no_new_privs +
prctl(PR_SET_SECCOMP)) and reports what its syscalls return. The container start does not
load filters here; these tests prove the bytes the runtime will hand to its C child."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pycontainers.security import _seccomp_bpf
from pycontainers.security.seccomp import (
    SeccompError,
    SeccompProfile,
    compile_profile,
    default_profile,
)


def _libseccomp_loads() -> bool:
    try:
        _seccomp_bpf.load()
    except SeccompError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(
        not _libseccomp_loads() and not os.environ.get("CI"),
        reason="libseccomp.so.2 is missing (apt-get install libseccomp2)",
    ),
    pytest.mark.skipif(platform.machine() != "x86_64", reason="probes use x86_64 syscall numbers"),
]

DEFAULT_CAPS = frozenset(
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    }
)  # fmt: skip

# The child: load the filter from argv[1], then run the probes named in argv[2:] and print
# {probe: "ok" | errno name}. Syscalls go through libc's syscall() so Python's own
# wrappers (and caches) stay out of the way.
CHILD = r"""
import ctypes, errno, json, os, subprocess, sys, threading

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

with open(sys.argv[1], "rb") as f:
    bpf = f.read()
buf = ctypes.create_string_buffer(bpf, len(bpf))
prog = SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")

def sys_(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return rc, ctypes.get_errno()

def result(rc, err):
    return "ok" if rc != -1 else errno.errorcode.get(err, str(err))

def socket_probe(family, kind=1):
    rc, err = sys_(41, family, kind, 0)
    if rc >= 0:
        os.close(rc)
    return result(rc, err)

def clone_probe(flags):
    rc, err = sys_(56, flags | 17, 0, 0, 0, 0)  # | SIGCHLD; no new stack: fork-like
    if rc == 0:
        os._exit(0)
    if rc > 0:
        os.waitpid(rc, 0)
    return result(rc, err)

def thread_probe():
    out = []
    t = threading.Thread(target=lambda: out.append(sum(range(1000))))
    t.start()
    t.join()
    return "ok" if out == [499500] else "broken"

def subprocess_probe():
    r = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return "ok" if r.returncode == 0 and r.stdout.strip().isdigit() else f"status {r.returncode}"

def read_probe():
    with open(sys.executable, "rb") as f:
        return "ok" if f.read(4) == b"\x7fELF" else "broken"

PROBES = {
    "getpid": lambda: result(*sys_(39)),
    "getppid": lambda: result(*sys_(110)),
    "unshare_uts": lambda: result(*sys_(272, 0x04000000)),
    "clone_newuts": lambda: clone_probe(0x04000000),
    "clone_plain": lambda: clone_probe(0),
    "clone3": lambda: result(*sys_(435, 0, 0)),
    "mount": lambda: result(*sys_(165, b"none", b"/nonexistent-pycontainers", b"tmpfs", 0, 0)),
    "umount2": lambda: result(*sys_(166, b"/nonexistent-pycontainers", 0)),
    "keyctl": lambda: result(*sys_(250, 0, -3, 0)),  # KEYCTL_GET_KEYRING_ID, session keyring
    "add_key": lambda: result(*sys_(248, b"user", b"pycontainers", b"x", 1, -2)),
    "socket_inet": lambda: socket_probe(2),
    "socket_unix": lambda: socket_probe(1),
    "socket_alg": lambda: socket_probe(38, 5),
    "socket_vsock": lambda: socket_probe(40),
    "personality_query": lambda: result(*sys_(135, 0xFFFFFFFF)),
    "personality_linux": lambda: result(*sys_(135, 0)),
    "personality_no_aslr": lambda: result(*sys_(135, 0x0040000)),
    "umask_022": lambda: result(*sys_(95, 0o022)),
    "umask_077": lambda: result(*sys_(95, 0o077)),
    "getpriority_self": lambda: result(*sys_(140, 0, 0)),
    "getpriority_both": lambda: result(*sys_(140, 0, 999999)),
    "getpriority_one": lambda: result(*sys_(140, 1, 999999)),
    "getpgid_11111": lambda: result(*sys_(121, 11111)),
    "getpgid_22222": lambda: result(*sys_(121, 22222)),
    "getpgid_33333": lambda: result(*sys_(121, 33333)),
    "threads": thread_probe,
    "subprocess": subprocess_probe,
    "read_file": read_probe,
}
print(json.dumps({name: PROBES[name]() for name in sys.argv[2:]}))
"""


def run_probes(
    tmp_path: Path, bpf: bytes, probes: Iterable[str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "filter.bpf"
    path.write_bytes(bpf)
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(path), *probes],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def probe(tmp_path: Path, bpf: bytes, *probes: str) -> dict[str, str]:
    out = run_probes(tmp_path, bpf, probes)
    result: dict[str, str] = json.loads(out.stdout)
    return result


def compiled(data: dict[str, Any], caps: Iterable[str] = ()) -> bytes:
    return compile_profile(SeccompProfile.from_json(data), capabilities=frozenset(caps))


# -- Docker's default profile ---------------------------------------------------------------


def test_default_profile_lets_ordinary_work_run(tmp_path: Path) -> None:
    bpf = compile_profile(default_profile(), capabilities=DEFAULT_CAPS)
    got = probe(
        tmp_path, bpf, "read_file", "threads", "subprocess", "getpid", "socket_inet", "socket_unix",
        "personality_query", "personality_linux", "clone_plain", "umask_022",
    )  # fmt: skip
    assert got == dict.fromkeys(got, "ok")


def test_default_profile_denies_with_eperm(tmp_path: Path) -> None:
    bpf = compile_profile(default_profile(), capabilities=DEFAULT_CAPS)
    got = probe(
        tmp_path, bpf, "keyctl", "add_key", "socket_vsock", "socket_alg", "personality_no_aslr",
        "unshare_uts", "clone_newuts",
    )  # fmt: skip
    assert got == dict.fromkeys(got, "EPERM")


def test_default_profile_clone3_is_enosys(tmp_path: Path) -> None:
    bpf = compile_profile(default_profile(), capabilities=DEFAULT_CAPS)
    assert probe(tmp_path, bpf, "clone3") == {"clone3": "ENOSYS"}
    # the same call without a filter reaches the kernel, which rejects the NULL args
    admin = compile_profile(default_profile(), capabilities=DEFAULT_CAPS | {"CAP_SYS_ADMIN"})
    assert probe(tmp_path, admin, "clone3") == {"clone3": "EINVAL"}


@pytest.mark.root
def test_default_profile_denies_mounts_even_to_root(tmp_path: Path) -> None:
    bpf = compile_profile(default_profile(), capabilities=DEFAULT_CAPS)
    got = probe(tmp_path, bpf, "mount", "umount2", "unshare_uts", "clone_newuts")
    assert got == dict.fromkeys(got, "EPERM")


@pytest.mark.root
def test_cap_sys_admin_unlocks_namespaces_and_mounts(tmp_path: Path) -> None:
    bpf = compile_profile(default_profile(), capabilities=DEFAULT_CAPS | {"CAP_SYS_ADMIN"})
    got = probe(tmp_path, bpf, "unshare_uts", "clone_newuts", "mount", "umount2", "keyctl")
    # mount and umount2 reach the kernel, which finds no such mount point
    assert got == {
        "unshare_uts": "ok",
        "clone_newuts": "ok",
        "mount": "ENOENT",
        "umount2": "ENOENT",
        "keyctl": "EPERM",
    }


# -- custom profiles ------------------------------------------------------------------------


def test_custom_profile_errno_and_args(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77},
            {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [
                {"index": 0, "value": 0o077, "valueTwo": 0o077, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [
                {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 999999, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [
                {"index": 0, "value": 11111, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 22222, "op": "SCMP_CMP_EQ"}]},
            {"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"},
        ],
    }  # fmt: skip
    got = probe(
        tmp_path, compiled(profile), "getpid", "getppid", "umask_022", "umask_077",
        "getpriority_self", "getpriority_both", "getpriority_one",
        "getpgid_11111", "getpgid_22222", "getpgid_33333", "keyctl",
    )  # fmt: skip
    assert got == {
        "getpid": "EBADFD",  # 77
        "getppid": "ok",
        "umask_022": "ok",
        "umask_077": "EACCES",  # the mask's bits all set
        "getpriority_self": "ok",
        "getpriority_both": "EACCES",  # args on different indexes: all must match
        "getpriority_one": "ESRCH",  # only one matched: the kernel answered
        "getpgid_11111": "EACCES",  # args on one index: either may match
        "getpgid_22222": "EACCES",
        "getpgid_33333": "ESRCH",
        "keyctl": "ok",
    }


def test_default_errno_ret_and_capability_conditions(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_KILL"]}},
        ],
    }
    assert probe(tmp_path, compiled(profile), "getppid", "getpid") == {
        "getppid": "ENOSYS",
        "getpid": "EPERM",  # ERRNO without errnoRet means EPERM
    }
    assert probe(tmp_path, compiled(profile, ["CAP_KILL"]), "getpid") == {"getpid": "ok"}


def test_kill_process_action(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}],
    }
    out = run_probes(tmp_path, compiled(profile), ["getpid", "getppid"], check=False)
    assert out.returncode == -signal.SIGSYS
    assert out.stdout == ""


def test_deny_by_default_profile(tmp_path: Path) -> None:
    # the probes need Python to keep running: take the default profile's allow-list and
    # answer everything else with a distinctive errno
    data = default_profile().to_dict()
    data["defaultErrnoRet"] = 121  # EREMOTEIO
    got = probe(tmp_path, compiled(data, DEFAULT_CAPS), "keyctl", "getpid", "clone3")
    assert got == {"keyctl": "EREMOTEIO", "getpid": "ok", "clone3": "ENOSYS"}


# -- several rules for one syscall: as under runc and crun ----------------------------------


@pytest.mark.root
def test_rules_for_one_syscall_combine_as_under_runc(tmp_path: Path) -> None:
    """The default profile's allow-list, everything else EREMOTEIO, plus podman-like rules
    that disagree with it: the first unconditional rule decides; conditional rules that
    cannot match the same call combine (the clone flags rule)."""
    data = default_profile().to_dict()
    data["defaultErrnoRet"] = 121  # EREMOTEIO
    data["syscalls"] = [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77},  # before: wins
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,  # replaced by the
         "args": [{"index": 0, "value": 11111, "op": "SCMP_CMP_EQ"}]},  # allow-list's rule
        *data["syscalls"],
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},  # after: dropped
        {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [  # CLONE_NEWUTS
            {"index": 0, "value": 0x04000000, "valueTwo": 0x04000000, "op": "SCMP_CMP_MASKED_EQ"}]},
    ]  # fmt: skip
    got = probe(
        tmp_path, compiled(data, DEFAULT_CAPS), "getpid", "getppid", "getpgid_11111",
        "clone_plain", "clone_newuts", "unshare_uts", "keyctl",
    )  # fmt: skip
    assert got == {
        "getpid": "EBADFD",  # 77
        "getppid": "ok",
        "getpgid_11111": "ESRCH",  # the kernel answered
        "clone_plain": "ok",  # the allow rule: no namespace flags
        "clone_newuts": "EPERM",  # the added rule
        "unshare_uts": "EREMOTEIO",  # no rule for unshare without CAP_SYS_ADMIN: the default
        "keyctl": "EREMOTEIO",
    }
