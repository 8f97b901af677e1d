"""Every kernel call goes through the C shim (``pycontainers._sys``), never through ctypes."""

from __future__ import annotations

import ast
from pathlib import Path

import pycontainers

PACKAGE = Path(pycontainers.__file__).resolve().parent
# (module path, imported name): a library lookup, not a kernel call
ALLOWED = {("check.py", "ctypes.util")}


def ctypes_imports(path: Path) -> set[str]:
    """The ctypes modules ``path`` imports (``import``, ``from``, ``__import__``,
    ``importlib.import_module``), anywhere in the file.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ctypes"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "ctypes":
                found.add(node.module)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if (
                name in ("__import__", "import_module")
                and isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and arg.value.split(".")[0] == "ctypes"
            ):
                found.add(arg.value)
    return found


def test_no_module_imports_ctypes() -> None:
    used = {
        (str(path.relative_to(PACKAGE)), name)
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in ctypes_imports(path)
    }
    assert used <= ALLOWED, f"ctypes outside the shim: {sorted(used - ALLOWED)}"


def test_the_scan_sees_every_form(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "import ctypes\nfrom ctypes import CDLL\nimport os, ctypes.util as u\n"
        "def f():\n    import importlib\n    return importlib.import_module('ctypes')\n"
        "x = __import__('ctypes.wintypes')\nfrom . import ctypes_like\n"
    )
    assert ctypes_imports(src) == {"ctypes", "ctypes.util", "ctypes.wintypes"}
