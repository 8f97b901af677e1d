"""Imports point down (DESIGN.md §3): a module imports only its own layer or lower ones.

Layers, low to high, by package path:

- L0: ``errors``, ``_sys``, ``_fsapi``, ``_plan``, ``_log``, ``_lazy``, ``_files``, ``_proc``, ``_statedir``,
  ``_digest``, ``_attrscache``, ``_views``
  (the registry of notebook views), ``paths`` (the engine's state and data roots), ``spec``,
  ``_native``; and the *spec value modules* below.
- L1 primitives: ``fs``, ``cgroups``, ``namespaces``, ``network``, ``security``, ``oci`` (the
  config.json model).
- L2 engine: ``runtime``, ``images``.
- L3 front ends: ``cli``, ``ociruntime`` (``pycontainers-runtime``), ``testing``, ``display``, ``check``, ``__main__`` and the package
  ``__init__``; ``_launcher`` and ``_launchcache`` (the installed commands, which start them), ``warmstart``
  (the warm start server of ``pycontainers``).

Decisions:

- **Spec value types.** The specs are built from value types that belong to a primitive
  (``Resources``, ``NetworkSpec``, ``PortMapping``, ``Bandwidth``, ``SeccompProfile``,
  capability names). They stay in their packages, in modules of their own that hold only the
  values and their validators, and those modules count as L0 (``VALUE_MODULES``). The scan
  holds them to L0 too, so they can only import L0: ``Bandwidth`` moved out of
  ``network.tc`` (netlink) into ``network._bandwidth`` and ``PortMapping`` out of
  ``network.ports`` (leases, sockets) into ``network._portmap``; ``check_volume_name`` moved
  from ``runtime.volumes`` into ``spec``. The old locations re-export them. Their packages'
  ``__init__`` load nothing eagerly (``cgroups``, ``security`` use ``_lazy``), except
  ``network``'s, which ``spec`` only reaches once a ``NetworkSpec`` already exists.
- **Imports anywhere count**: inside functions, and under ``TYPE_CHECKING`` (no exemption).
- **Dynamic imports count** when written as a literal: ``importlib.import_module("pycontainers...")``
  and ``"pycontainers.module:Class"`` strings (the OCI codec's allow-list). Those that must
  point up are in ``ALLOWED`` with the reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pycontainers

PACKAGE = Path(pycontainers.__file__).resolve().parent

LAYERS: dict[str, int] = {
    **dict.fromkeys(
        (
            "errors",
            "_sys",
            "_fsapi",
            "_plan",
            "_log",
            "_lazy",
            "_files",
            "_proc",
            "_statedir",
            "_digest",
            "_views",
            "paths",
            "supervision",
            "events",  # the event journal: a file under the state root, written by all layers
            "_attrscache",  # the cache of attrs' generated code (enabled by the front ends)
        ),
        0,
    ),
    **dict.fromkeys(("spec", "_specchecks", "_specprocess", "_specsecurity", "_native"), 0),
    **dict.fromkeys(("fs", "cgroups", "namespaces", "network", "security", "oci"), 1),
    **dict.fromkeys(("runtime", "images", "builder"), 2),
    **dict.fromkeys(
        (
            "cli",
            "ociruntime",
            "api",
            "client",
            "testing",
            "display",
            "check",
            "__main__",
            "__init__",
            "_launcher",  # the installed commands' launcher (names cli and ociruntime)
            "_launchcache",  # and its cache and script text
            "warmstart",  # the pycontainers command's warm start server (runs cli's main)
        ),
        3,
    ),
}

VALUE_MODULES = frozenset(
    {
        "pycontainers.cgroups._resources",  # Resources (reads allowed cpusets to validate)
        "pycontainers.cgroups._devices",
        "pycontainers.cgroups._resfields",  # the rarer Resources fields' converters
        "pycontainers.cgroups._units",
        "pycontainers.cgroups._layout",
        "pycontainers.cgroups._errors",
        "pycontainers.network.spec",  # NetworkSpec
        "pycontainers.network._portmap",  # PortMapping, parse_ports
        "pycontainers.network._bandwidth",  # Bandwidth
        "pycontainers.security.capabilities",
        "pycontainers.security._seccomp_profile",  # SeccompProfile
        "pycontainers.security._seccomp_json",
    }
)

# (importing module, imported module): upward on purpose or out of reach, with the reason
ALLOWED: dict[tuple[str, str], str] = {
    ("pycontainers._views", "pycontainers.display"): (
        "the view registry imports the front end that fills it, by name, on the first"
        " _repr_html_ call (so a notebook needs no extra import)"
    ),
    # docker-py's network.connect(container): the network takes a live container (or its id,
    # loaded lazily). To undo: a Protocol of what attach reads (id, pid, state_dir...), and
    # the front ends load containers by id themselves.
    ("pycontainers.network.network", "pycontainers.runtime.container"): (
        "Network.connect/disconnect take a container or its id and load it by id"
    ),
    ("pycontainers.network.attach", "pycontainers.runtime.container"): (
        "the Container type of connect's argument (under TYPE_CHECKING)"
    ),
    ("pycontainers.network.attach", "pycontainers.runtime.specfile"): (
        "a created container connected to a network again records it in its stored spec"
    ),
}

_CODEC_NAME = re.compile(r"^(pycontainers(?:\.\w+)*):\w+$")


def module_name(path: Path) -> str:
    """The dotted name of the module at ``path`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> int | None:
    """The layer of ``module`` (``None`` if it is not ours; KeyError if unclassified)."""
    parts = module.split(".")
    if parts[0] != "pycontainers":
        return None
    if module in VALUE_MODULES:
        return 0
    return LAYERS["__init__" if len(parts) == 1 else parts[1]]


def is_module(name: str) -> bool:
    """Whether ``name`` is a module or package of ours (not an attribute of one)."""
    rel = Path(*name.split("."))
    base = PACKAGE.parent / rel
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import of ``path``: anywhere, static or a literal name."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield node.lineno, sub if is_module(sub) else module
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            value = arg.value if isinstance(arg, ast.Constant) else None
            if name in ("import_module", "__import__") and isinstance(value, str):
                yield node.lineno, value
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _CODEC_NAME.match(node.value)
            if match:
                yield node.lineno, match.group(1)


def violations() -> list[str]:
    """Every import of a higher layer, as ``module:line imports target (Lx -> Ly)``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        this = module_name(path)
        here = layer(this)
        assert here is not None
        for line, target in imports(path):
            there = layer(target)
            if there is None or there <= here:
                continue
            if any(this == a and (target == b or target.startswith(b + ".")) for a, b in ALLOWED):
                continue
            found.append(f"{this}:{line} imports {target} (L{here} -> L{there})")
    return found


def test_every_module_has_a_layer() -> None:
    """A new top-level module or package must be given a layer here."""
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    ours = {
        t
        for t in tops
        if (PACKAGE / f"{t}.py").is_file() or (PACKAGE / t / "__init__.py").is_file()
    }
    assert ours - set(LAYERS) == set()


def test_value_modules_exist() -> None:
    """The value modules named above are real modules (a rename must update this test)."""
    assert [m for m in sorted(VALUE_MODULES) if not is_module(m)] == []


def test_imports_point_down() -> None:
    """No module imports a module of a higher layer."""
    found = violations()
    assert not found, "imports that point up:\n" + "\n".join(found)


def test_allowed_exceptions_are_still_needed() -> None:
    """Every allow-list entry still matches an import (drop it once fixed)."""
    seen = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        this = module_name(path)
        for _, target in imports(path):
            for a, b in ALLOWED:
                if this == a and (target == b or target.startswith(b + ".")):
                    seen.add((a, b))
    assert set(ALLOWED) - seen == set()


def test_api_server_does_not_import_the_cli() -> None:
    """The API server and the CLI are sibling front ends: what both parse (Docker's ``-v``,
    ``--mount``, ``--tmpfs``, ``--security-opt``, ``--log-opt`` texts) lives in
    ``runtime.flagparse``, so neither loads the other's modules.
    """
    # still to move (display helpers the API borrows; the parsers have moved)
    known = {
        ("pycontainers.api.inspect", "pycontainers.cli.output"),
        ("pycontainers.api.system", "pycontainers.cli.system"),
        ("pycontainers.api.events", "pycontainers.cli.output"),
    }
    found = [
        f"{module_name(path)}:{line} imports {target}"
        for path in sorted((PACKAGE / "api").rglob("*.py"))
        for line, target in imports(path)
        if (target == "pycontainers.cli" or target.startswith("pycontainers.cli."))
        and (module_name(path), target) not in known
    ]
    assert found == []
