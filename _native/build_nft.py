"""cffi build script for pycontainers.network._nftables (API mode, out of line): libnftables.

Run by setuptools through ``cffi_modules`` (setup.py) when libnftables' header is there
(Debian: libnftables-dev); the module links with libnftables.so.1. Without it the build skips
this module and :mod:`pycontainers.network.nft` parses the same declarations at run time
(cffi ABI mode). The declarations live in ``pycontainers/network/_nftdecl.py``, read by path
(the build does not import pycontainers).
"""

from __future__ import annotations

import pathlib
import runpy

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
HEADER = "nftables/libnftables.h"

_decl = runpy.run_path(str(HERE.parent / "pycontainers" / "network" / "_nftdecl.py"))

ffibuilder = FFI()
ffibuilder.cdef(_decl["CDEF"] + "".join(f"#define {name} ...\n" for name in _decl["CONSTANTS"]))
ffibuilder.set_source(
    "pycontainers.network._nftables",
    f"#include <{HEADER}>\n",
    libraries=["nftables"],
    extra_compile_args=["-O2", "-Wall", "-Wextra"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
