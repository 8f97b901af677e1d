"""cffi build script for pycontainers._native (API mode, out of line).

Run by setuptools through ``cffi_modules`` in pyproject.toml; the header ``shim.h`` is both
the C interface and the cdef.
"""

from __future__ import annotations

import pathlib
import re

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent


def _cdef() -> str:
    text = (HERE / "shim.h").read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return text


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "pycontainers._native",
    '#include "shim.h"\n',
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
        )
    ],
    include_dirs=["_native"],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_GNU_SOURCE"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
