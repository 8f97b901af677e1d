"""A lean executable for ``pycontainers-runtime``: ``python -m
pycontainers.ociruntime.launcher PATH`` writes one.

A shim runs the runtime several times per container (``create``, ``start``, ``state``,
``delete``...), so the interpreter's own start counts: the ``site`` module alone (``.pth``
files: an editable install's finder, certificate bundles) costs 30-45 ms of each run here,
and a pyenv shim on ``PATH`` another ~100 ms. The launcher runs the interpreter that wrote
it directly, isolated and without ``site`` (``-I -S``: no ``PYTHON*`` variables, no user
site, no ``.pth`` code) and puts on ``sys.path`` exactly the directories the writing
interpreter found the package and its dependencies in. Write it again after upgrading
Python or moving the package.
"""

from __future__ import annotations

import os
import sys

_TEMPLATE = """#!{python} -IS
# pycontainers-runtime, written by `python -m pycontainers.ociruntime.launcher`
import sys
sys.path[:0] = {path!r}
from pycontainers.ociruntime.main import entry
entry()
"""


def search_path() -> list[str]:
    """The directories to import from: the package's own parent first, then this
    interpreter's (absolute) path entries, without the current directory.
    """
    import pycontainers

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(pycontainers.__file__)))
    out = [package_parent]
    for entry in sys.path:
        if entry and os.path.isabs(entry) and entry not in out and os.path.isdir(entry):
            out.append(entry)
    return out


def launcher_text() -> str:
    """The launcher's source for this interpreter and this install."""
    return _TEMPLATE.format(python=os.path.realpath(sys.executable), path=search_path())


def write_launcher(path: str) -> str:
    """Write the launcher to ``path`` (atomically, mode 0755); return ``path``."""
    from pycontainers._files import write_atomic

    write_atomic(path, launcher_text().encode(), 0o755)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m pycontainers.ociruntime.launcher PATH``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m pycontainers.ociruntime.launcher PATH", file=sys.stderr)
        return 2
    print(write_launcher(os.path.abspath(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["launcher_text", "main", "search_path", "write_launcher"]
