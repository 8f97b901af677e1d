"""Build glue: setuptools reads everything else from pyproject.toml.

Besides the cffi shim, the build compiles the per-container monitor, a small C program
(``_native/monitor*.c``, linked with the shim's own C sources so that a health check is
spawned by the same code as every other container process), into
``pycontainers/_bin/pycontainers-monitor``: into the build directory for a wheel
(``pip install .``), into the source tree for an editable install (``pip install -e .``).

With Jansson's header there (Debian: libjansson-dev), the build also compiles the OCI
runtime's C front end (``_native/runtime_front.c``: the plain ``state``/``start``/``kill``/
``delete`` without a Python start) into ``pycontainers/_bin/pycontainers-runtime-front``;
without it, a warning, and every command runs through Python.

The commands ``pycontainers`` and ``pycontainers-runtime`` are not pip's console scripts
(``#!/abs/python`` starts ``site``, 30-40 ms a command) but launchers written by
``build_launchers`` (``pycontainers/_launchcache.py``), which start Python without ``site``
when a verified cache says where everything is (see there).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from setuptools import Command, setup  # type: ignore[import-untyped]
from setuptools.command.build import build  # type: ignore[import-untyped]

try:
    from setuptools.command.build_scripts import build_scripts  # type: ignore[import-untyped]
except ImportError:  # setuptools < 69: distutils' own (setuptools' copy of it)
    from distutils.command.build_scripts import build_scripts

HERE = Path(__file__).resolve().parent
MONITOR_SOURCES = sorted(str(p.relative_to(HERE)) for p in (HERE / "_native").glob("monitor*.c"))
MONITOR_HEADERS = sorted(str(p.relative_to(HERE)) for p in (HERE / "_native").glob("monitor*.h"))
# the shim's C files (every other one in _native/; build_shim.py lists the same for cffi)
SHIM_SOURCES = sorted(
    str(p.relative_to(HERE))
    for p in (HERE / "_native").glob("*.c")
    if not p.name.startswith(("monitor", "runtime_front", "warm_client", "warm_conn", "warm_spawn"))
)
SHIM_HEADERS = [
    "_native/shim.h",
    "_native/internal.h",
    "_native/sysconsts.h",
    "_native/warm_context.h",
]
MONITOR_REL = os.path.join("pycontainers", "_bin", "pycontainers-monitor")
FRONT_SOURCES = ["_native/runtime_front.c", "_native/runtime_front_json.c",
                 "_native/runtime_front_cmds.c", "_native/runtime_front.h"]  # fmt: skip
FRONT_BUILDER = "_native/build_front.py"
FRONT_REL = os.path.join("pycontainers", "_bin", "pycontainers-runtime-front")
FRONT_COMMAND = "pycontainers-runtime"  # the launcher that runs the front end first
# the warm start client (_native/warm_client.c, pycontainers/warmstart): no Jansson needed
WARM_SOURCES = ["_native/warm_client.c", "_native/warm_conn.c", "_native/warm_conn.h",
                "_native/warm_spawn.c", "_native/warm_spawn.h",
                "_native/warm_context.c", "_native/warm_context.h",
                "_native/monitor_sha256.c"]  # fmt: skip
WARM_REL = os.path.join("pycontainers", "_bin", "pycontainers-front")
WARM_COMMAND = "pycontainers"
CFLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_GNU_SOURCE", "-pthread"]
CFLAGS += ["-fno-plt", "-s"]
# the installed commands: name -> "module:function" ([tool.pycontainers.commands])
with open(HERE / "pyproject.toml", "rb") as _f:
    LAUNCHERS: dict[str, str] = tomllib.load(_f)["tool"]["pycontainers"]["commands"]
LAUNCHER_SOURCES = [os.path.join("pycontainers", n) for n in ("_launchcache.py", "_launcher.py")]


class build_monitor(Command):  # type: ignore[misc]  # setuptools names commands in lower case
    """Compile the monitor program with the system C compiler."""

    description = "compile pycontainers-monitor (C)"
    user_options: list[tuple[str, str | None, str]] = []  # noqa: RUF012

    def initialize_options(self) -> None:
        """Set defaults (setuptools Command protocol)."""
        self.build_lib: str | None = None
        self.editable_mode = False

    def finalize_options(self) -> None:
        """Take build_lib from build_py, like the other build steps."""
        self.set_undefined_options("build_py", ("build_lib", "build_lib"))

    def _target(self) -> Path:
        if self.editable_mode or self.build_lib is None:
            return HERE / MONITOR_REL
        return Path(self.build_lib) / MONITOR_REL

    def run(self) -> None:
        """Compile; a static binary where libc.a is there (smaller RSS), else dynamic."""
        cc = shlex.split(os.environ.get("CC", "cc"))
        srcs = [str(HERE / s) for s in (*MONITOR_SOURCES, *SHIM_SOURCES)]
        _front_builder().link(self._target(), [*cc, *CFLAGS, "-I", str(HERE / "_native")], srcs)

    def get_source_files(self) -> list[str]:
        """The C sources, so that an sdist carries them."""
        return [*MONITOR_SOURCES, *MONITOR_HEADERS, *SHIM_SOURCES, *SHIM_HEADERS]

    def get_outputs(self) -> list[str]:
        """The binary in the build directory (a wheel ships it)."""
        if self.build_lib is None:
            return []
        return [os.path.join(self.build_lib, MONITOR_REL)]

    def get_output_mapping(self) -> dict[str, str]:
        """Built output -> source-tree file (editable installs build in place)."""
        if self.build_lib is None:
            return {}
        return {os.path.join(self.build_lib, MONITOR_REL): str(HERE / MONITOR_REL)}


def _front_builder() -> Any:
    """``_native/build_front.py`` (the front end's compile step), loaded from the tree."""
    spec = importlib.util.spec_from_file_location("_pc_build_front", HERE / FRONT_BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class build_front(build_monitor):
    """Compile the OCI runtime's C front end, if Jansson's header is there."""

    description = "compile pycontainers-runtime-front (C, Jansson)"

    def _target(self) -> Path:
        if self.editable_mode or self.build_lib is None:
            return HERE / FRONT_REL
        return Path(self.build_lib) / FRONT_REL

    def run(self) -> None:
        """Compile the warm start client, and (``_native/build_front.py``) the runtime's
        front end, or warn and skip that one without Jansson.
        """
        builder = _front_builder()
        builder.build_warm(self._target().with_name(os.path.basename(WARM_REL)))
        builder.build(self._target())

    def get_source_files(self) -> list[str]:
        """The C source, so that an sdist carries it."""
        return [*FRONT_SOURCES, *WARM_SOURCES, FRONT_BUILDER]

    def get_outputs(self) -> list[str]:
        """The binaries in the build directory (a wheel ships them), if they were built."""
        if self.build_lib is None:
            return []
        out = [os.path.join(self.build_lib, WARM_REL)]
        if _front_builder().has_jansson():
            out.append(os.path.join(self.build_lib, FRONT_REL))
        return out

    def get_output_mapping(self) -> dict[str, str]:
        """Built output -> source-tree file (editable installs build in place)."""
        return {out: str(HERE / os.path.relpath(out, self.build_lib)) for out in self.get_outputs()}


def front_candidates(editable: bool, rel: str = FRONT_REL) -> list[str]:
    """Where the installed package's front end ``rel`` will be: the source tree for an
    editable install, else this interpreter's site-packages (the launcher checks that it is
    there).
    """
    import sysconfig

    if editable:
        return [str(HERE / rel)]
    return [os.path.join(sysconfig.get_path("purelib"), rel)]


class build_launchers(build_scripts):  # type: ignore[misc]
    """Write the ``LAUNCHERS`` scripts (``pycontainers/_launchcache.py``): wheels ship them as
    data scripts, which pip installs as they are (a ``#!/bin/sh`` line is not rewritten).
    """

    def initialize_options(self) -> None:
        """Set defaults; setuptools sets ``editable_mode`` for ``pip install -e``."""
        super().initialize_options()
        self.editable_mode = False

    def finalize_options(self) -> None:
        """The scripts are generated, not copied: their names stand for the sources."""
        super().finalize_options()
        self.scripts = list(LAUNCHERS)

    def get_source_files(self) -> list[str]:
        """What the scripts are written from (an sdist carries it with the package)."""
        return LAUNCHER_SOURCES

    def run(self) -> None:
        """Write each launcher with this interpreter as its last-but-one fallback."""
        spec = importlib.util.spec_from_file_location("_pc_launch", HERE / LAUNCHER_SOURCES[0])
        assert spec is not None and spec.loader is not None
        launcher = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(launcher)
        self.mkpath(self.build_dir)
        for name, target in LAUNCHERS.items():
            path = Path(self.build_dir) / name
            tmp = path.with_name(path.name + ".new")
            rel = {FRONT_COMMAND: FRONT_REL, WARM_COMMAND: WARM_REL}.get(name)
            front = front_candidates(self.editable_mode, rel) if rel else []
            tmp.write_text(launcher.script_text(name, target, sys.executable, front))
            tmp.chmod(0o755)
            tmp.replace(path)


class build_with_monitor(build):  # type: ignore[misc]
    """``build`` plus the monitor and the runtime's front end, after the Python files and the cffi extension."""

    sub_commands = [*build.sub_commands, ("build_monitor", None), ("build_front", None)]  # noqa: RUF012


def nft_cffi_modules() -> list[str]:
    """The libnftables cffi module (``_native/build_nft.py``, API mode) if its header is there.

    The header comes with Debian's libnftables-dev. Without it the module is not built and
    ``pycontainers.network.nft`` loads libnftables in cffi ABI mode at run time instead (the
    same calls, some 30 ms more per process that touches nftables).
    """
    cc = shlex.split(os.environ.get("CC", "cc"))
    try:
        probe = subprocess.run(
            [*cc, "-E", "-x", "c", "-", "-o", os.devnull],
            input="#include <nftables/libnftables.h>\n",
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        probe = subprocess.CompletedProcess(cc, 1, "", str(exc))
    if probe.returncode != 0:
        print(
            "pycontainers: nftables/libnftables.h not found (Debian: libnftables-dev); "
            "libnftables will be loaded in cffi ABI mode at run time",
            file=sys.stderr,
        )
        return []
    return ["_native/build_nft.py:ffibuilder"]


setup(
    cffi_modules=["_native/build_shim.py:ffibuilder", *nft_cffi_modules()],
    scripts=list(LAUNCHERS),
    cmdclass={
        "build": build_with_monitor,
        "build_monitor": build_monitor,
        "build_front": build_front,
        "build_scripts": build_launchers,
    },
)
