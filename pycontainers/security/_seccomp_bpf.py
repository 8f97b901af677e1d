"""Compiling a resolved seccomp profile to classic BPF with libseccomp, through cffi in ABI
mode (``dlopen("libseccomp.so.2")``, no C compiler needed; Debian package ``libseccomp2``).

The result is what ``seccomp_export_bpf`` writes: an array of ``struct sock_filter``
(8 bytes each, native byte order), ready for ``seccomp(SECCOMP_SET_MODE_FILTER, ...)``.
"""

from __future__ import annotations

import errno
import functools
import importlib
import os
from typing import Any

from pycontainers.errors import SpecError
from pycontainers.security._seccomp_profile import (
    FIELD,
    OPERATORS,
    SeccompError,
    SeccompProfile,
    SeccompRule,
)

LIBRARY = "libseccomp.so.2"
DEBIAN_PACKAGE = "libseccomp2"
BPF_MAXINSNS = 4096  # the kernel refuses longer filters
SOCK_FILTER_SIZE = 8  # sizeof(struct sock_filter)

_NR_SCMP_ERROR = -1  # what seccomp_syscall_resolve_name returns for an unknown name
_SCMP_FLTATR_CTL_NNP = 3
_SCMP_FLTATR_CTL_OPTIMIZE = 8  # libseccomp >= 2.5: 2 = syscalls in a binary tree

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}

_CDEF = """
typedef void *scmp_filter_ctx;
struct scmp_version { unsigned int major; unsigned int minor; unsigned int micro; };
struct scmp_arg_cmp { unsigned int arg; int op; uint64_t datum_a; uint64_t datum_b; };
const struct scmp_version *seccomp_version(void);
scmp_filter_ctx seccomp_init(uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
uint32_t seccomp_arch_native(void);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
int seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
int seccomp_export_bpf_mem(const scmp_filter_ctx ctx, void *buf, size_t *len);
"""


@functools.cache
def load() -> tuple[Any, Any]:
    """Load libseccomp once; return cffi's ``(ffi, lib)``, or raise ``SeccompError``."""
    cffi: Any = importlib.import_module("cffi")
    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    try:
        lib = ffi.dlopen(LIBRARY)
    except OSError as exc:
        raise SeccompError(
            f"cannot load {LIBRARY} ({exc}); seccomp filters need libseccomp: install the "
            f"Debian package {DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE})",
            errno=exc.errno,
            path=LIBRARY,
        ) from None
    return ffi, lib


def libseccomp_version() -> tuple[int, int, int]:
    """The version of the libseccomp that compiles filters, e.g. ``(2, 5, 4)``."""
    _, lib = load()
    v = lib.seccomp_version()
    return (v.major, v.minor, v.micro)


def action_value(action: str, errno_ret: int | None) -> int:
    """The ``SCMP_ACT_*`` value of ``action``; ERRNO and TRACE default to EPERM, as in runc."""
    value = _ACTIONS[action]
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise SeccompError(f"libseccomp: {what} failed: {os.strerror(-rc)}")


def _arch_token(lib: Any, name: str) -> int:
    token: int = lib.seccomp_arch_resolve_name(name.encode())
    return token  # 0 when this libseccomp does not know the architecture


OPTIMIZE_TREE = True


def compile_bpf(profile: SeccompProfile, arch: str) -> bytes:
    """Compile ``profile``, already resolved for ``arch`` (libseccomp's name), to BPF.

    Rules are added in order, as runc and crun add them; give a profile from
    ``merge_rules`` so that no two of them disagree. Syscall names this libseccomp does
    not know are skipped.
    """
    ffi, lib = load()
    default = action_value(profile.default_action, profile.default_errno_ret)
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise SeccompError("libseccomp: seccomp_init failed")
    try:
        # the runtime sets no_new_privs itself (or loads the filter with CAP_SYS_ADMIN)
        _check(lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set(CTL_NNP)")
        if OPTIMIZE_TREE:
            lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_OPTIMIZE, 2)  # older libseccomp: ignored
        _add_arches(lib, ctx, profile, arch)
        for rule in profile.rules:
            _add_rule(ffi, lib, ctx, rule, default)
        bpf = _export(ffi, lib, ctx)
    finally:
        lib.seccomp_release(ctx)
    count = len(bpf) // SOCK_FILTER_SIZE
    if len(bpf) % SOCK_FILTER_SIZE or count == 0:
        raise SeccompError(f"libseccomp exported {len(bpf)} bytes, not a sock_filter array")
    if count > BPF_MAXINSNS:
        raise SpecError(
            FIELD,
            f"the filter compiles to {count} BPF instructions; the kernel takes at most {BPF_MAXINSNS}",
        )
    return bpf


def _add_arches(lib: Any, ctx: Any, profile: SeccompProfile, arch: str) -> None:
    native = lib.seccomp_arch_native()
    target = _arch_token(lib, arch)
    if target == 0:
        raise SeccompError(
            f"libseccomp {libseccomp_version()} does not know the architecture {arch}"
        )
    wanted = [target]
    for name in profile.architectures:  # OCI names: SCMP_ARCH_X86 -> x86
        token = _arch_token(lib, name.removeprefix("SCMP_ARCH_").lower())
        if token and token not in wanted:  # unknown to this libseccomp: skipped, like a syscall
            wanted.append(token)
    for token in wanted:
        if lib.seccomp_arch_exist(ctx, token) != 0:
            _check(lib.seccomp_arch_add(ctx, token), f"seccomp_arch_add({token:#x})")
    if native not in wanted:
        _check(lib.seccomp_arch_remove(ctx, native), "seccomp_arch_remove(native)")


def _add_rule(ffi: Any, lib: Any, ctx: Any, rule: SeccompRule, default: int) -> None:
    action = action_value(rule.action, rule.errno_ret)
    if action == default:  # libseccomp refuses it; runc and crun skip it too
        return
    for name in rule.names:
        # numbers are the native architecture's; libseccomp translates them for the others
        # (pseudo numbers < -1 stand for syscalls that exist only on other architectures)
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr == _NR_SCMP_ERROR:
            continue  # unknown to this libseccomp: skipped, as Docker does
        for args in rule.arg_sets():
            array = ffi.new("struct scmp_arg_cmp[]", max(len(args), 1))
            for i, arg in enumerate(args):
                array[i].arg = arg.index
                array[i].op = OPERATORS[arg.op]
                array[i].datum_a = arg.value
                array[i].datum_b = arg.value_two
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(args), array)
            if rc < 0:
                raise SpecError(
                    FIELD,
                    f"syscall {name!r} ({rule.action}): libseccomp refused the rule: "
                    f"{os.strerror(-rc)}",
                )


def _export(ffi: Any, lib: Any, ctx: Any) -> bytes:
    if libseccomp_version() >= (2, 6, 0):
        try:
            export_mem = lib.seccomp_export_bpf_mem
        except AttributeError:
            pass
        else:
            size = ffi.new("size_t *", 0)
            _check(export_mem(ctx, ffi.NULL, size), "seccomp_export_bpf_mem")
            buf = ffi.new("unsigned char[]", size[0])
            _check(export_mem(ctx, buf, size), "seccomp_export_bpf_mem")
            return bytes(ffi.buffer(buf, size[0]))
    fd = os.memfd_create("pycontainers-seccomp", os.MFD_CLOEXEC)
    try:
        _check(lib.seccomp_export_bpf(ctx, fd), "seccomp_export_bpf")
        size = os.lseek(fd, 0, os.SEEK_CUR)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)
