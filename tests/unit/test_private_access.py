"""No module reaches into another module's private attributes (``other._name``).

An access ``x._attr`` is allowed when ``x`` is ``self``/``cls``, when ``_attr`` is defined
in the same module (a class's own helpers used by its siblings there), or when ``x`` is a
module (``os._exit``, our own private modules such as ``_sys``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pycontainers

PACKAGE = Path(pycontainers.__file__).parent


def _defined_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            if n.value.id in ("self", "cls"):
                names.add(n.attr)
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            names.add(n.target.id)
        elif isinstance(n, ast.Assign):
            names.update(t.id for t in n.targets if isinstance(t, ast.Name))
    return names


def _module_names(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.ImportFrom):
            out.update(a.asname or a.name for a in n.names if (a.asname or a.name).startswith("_"))
    return out


def private_reaches(path: Path) -> list[str]:
    """``file:line: expression`` for every access to another module's private name."""
    tree = ast.parse(path.read_text())
    defined, modules = _defined_names(tree), _module_names(tree)
    found = []
    for n in ast.walk(tree):
        if not isinstance(n, ast.Attribute) or not n.attr.startswith("_"):
            continue
        if n.attr.startswith("__") or n.attr in defined:
            continue
        base = n.value
        if isinstance(base, ast.Name) and (base.id in ("self", "cls") or base.id in modules):
            continue
        found.append(f"{path.relative_to(PACKAGE.parent)}:{n.lineno}: {ast.unparse(n)}")
    return found


def test_the_scanner_finds_a_reach() -> None:
    sample = PACKAGE.parent / "tests" / "unit" / "_private_sample.txt"
    sample.write_text("def f(c):\n    return c._status\n")
    try:
        assert private_reaches(sample) == ["tests/unit/_private_sample.txt:2: c._status"]
    finally:
        sample.unlink()


def test_no_module_reaches_into_another_modules_private_attributes() -> None:
    found = [hit for p in sorted(PACKAGE.rglob("*.py")) for hit in private_reaches(p)]
    assert found == [], "\n".join(found)
