"""Compile the OCI runtime's C front end (``runtime_front*.c``, linked with Jansson) and the
``pycontainers`` command's warm start client (``warm_client.c``, no library).

``setup.py``'s ``build_front`` runs :func:`build`; the tests run it too. Standard library
only: it is loaded from the source tree while building.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = [HERE / f"runtime_front{part}.c" for part in ("", "_json", "_cmds")]
HEADERS = [HERE / "runtime_front.h", HERE / "warm_conn.h", HERE / "warm_spawn.h"]
CFLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_GNU_SOURCE", "-fno-plt", "-s"]
MISSING = (
    "pycontainers: jansson.h not found (Debian: libjansson-dev); the OCI runtime's C front "
    "end is not built and every command runs through Python"
)


def compiler() -> list[str]:
    """The C compiler command (``$CC``, else ``cc``)."""
    return shlex.split(os.environ.get("CC", "cc"))


def has_jansson() -> bool:
    """Whether the compiler finds Jansson's header."""
    try:
        probe = subprocess.run(
            [*compiler(), "-E", "-x", "c", "-", "-o", os.devnull],
            input="#include <jansson.h>\n",
            capture_output=True,
            text=True,
        )
    except OSError:
        return False
    return probe.returncode == 0


def build(target: Path) -> bool:
    """Compile the front end to ``target`` (static where libjansson.a and libc.a are there,
    else dynamic); False, after printing :data:`MISSING`, when Jansson's header is not there.
    """
    import sys

    if not has_jansson():
        print(MISSING, file=sys.stderr)
        return False
    inputs = [*SOURCES, *RUNTIME_WARM_SOURCES, *shim_sources()]
    cc = [*compiler(), *CFLAGS, "-pthread", "-I", str(HERE)]
    link(target, cc, [*map(str, inputs), "-ljansson", "-lm"])
    return True


WARM_SOURCES = [
    HERE / name for name in ("warm_client.c", "warm_conn.c", "warm_context.c", "monitor_sha256.c")
]
# the runtime front end's warm create: the warm client, its spawn channel and the shim's C
# (pc_spawn, and the plan's wire form) -- every other _native/*.c, as setup.py's SHIM_SOURCES
RUNTIME_WARM_SOURCES = [HERE / "warm_conn.c", HERE / "warm_spawn.c", HERE / "monitor_sha256.c"]


def shim_sources() -> list[Path]:
    """The shim's C files (setup.py's SHIM_SOURCES, build_shim.py's list)."""
    skip = ("monitor", "runtime_front", "warm_client", "warm_conn", "warm_spawn")
    return sorted(p for p in HERE.glob("*.c") if not p.name.startswith(skip))


def build_warm(target: Path) -> None:
    """Compile the warm start client ``pycontainers-front`` (``warm_client.c``) to ``target``."""
    link(target, [*compiler(), *CFLAGS, "-I", str(HERE)], [*map(str, WARM_SOURCES)])


def link(target: Path, cc: list[str], inputs: list[str]) -> None:
    """Compile and link ``inputs`` into the executable ``target``: static where the static
    libraries are there, else dynamic; written next to it and renamed into place.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".new")
    base = [*cc, "-o", str(tmp), *inputs]
    for extra in (["-static"], []):
        proc = subprocess.run([*base, *extra], capture_output=True, text=True)
        if proc.returncode == 0:
            break
    else:
        raise RuntimeError(f"compiling {target.name} failed:\n{proc.stderr}")
    tmp.chmod(0o755)
    tmp.replace(target)
