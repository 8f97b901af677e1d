"""cffi build script for pycontainers._native (API mode, out of line).

Run by setuptools through ``cffi_modules`` in pyproject.toml; the header ``shim.h`` is both
the C interface and the cdef, and :data:`CONSTANTS` names the kernel constants (from
``sysconsts.h``) that the module exports.
"""

from __future__ import annotations

import pathlib
import re

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent


#: Kernel constants Python reads from the built module (``lib.NAME``): their values come
#: from the kernel headers through ``sysconsts.h`` when the module is compiled.
CONSTANTS = (
    "AT_FDCWD",
    "AT_EMPTY_PATH",
    "AT_RECURSIVE",
    "FSOPEN_CLOEXEC",
    "FSCONFIG_SET_FLAG",
    "FSCONFIG_SET_STRING",
    "FSCONFIG_SET_FD",
    "FSCONFIG_CMD_CREATE",
    "FSMOUNT_CLOEXEC",
    "MOUNT_ATTR_RDONLY",
    "MOUNT_ATTR_NOSUID",
    "MOUNT_ATTR_NODEV",
    "MOVE_MOUNT_F_EMPTY_PATH",
    "OPEN_TREE_CLONE",
    "OPEN_TREE_CLOEXEC",
    "RESOLVE_NO_XDEV",
    "RESOLVE_NO_MAGICLINKS",
    "RESOLVE_NO_SYMLINKS",
    "RESOLVE_BENEATH",
    "RESOLVE_IN_ROOT",
)


def _cdef() -> str:
    text = (HERE / "shim.h").read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return text + "".join(f"#define {name} ...\n" for name in CONSTANTS)


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "pycontainers._native",
    '#include "shim.h"\n#include "sysconsts.h"\n',
    sources=[
        f"_native/{name}"
        for name in (
            "spawn.c",
            "mounts.c",
            "security.c",
            "exec.c",
            "init.c",
            "resolve.c",
            "wrappers.c",
            "sandbox.c",
            "fsapi.c",
            "bpf.c",
            "warm_context.c",
            "plan_wire.c",
        )
    ],
    include_dirs=["_native"],
    depends=[
        f"_native/{name}" for name in ("shim.h", "internal.h", "sysconsts.h", "warm_context.h")
    ],
    extra_compile_args=[
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
        "-D_GNU_SOURCE",
        "-pthread",
    ],
    extra_link_args=["-pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
