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

Where the C front end is built (``pycontainers/_bin/pycontainers-runtime-front``,
``_native/runtime_front.c``), the launcher is a script for it instead: its ``#!`` line names
the front end, which answers the plain ``state``/``start``/``kill``/``delete`` itself (~1 ms)
and otherwise runs the interpreter named on the ``# fallback:`` line on this same file, with
the original arguments, environment and fds.
"""

from __future__ import annotations

import os
import sys

_TEMPLATE = """#!{python} -IS
# pycontainers-runtime, written by `python -m pycontainers.ociruntime.launcher`
import sys
sys.path[:0] = {path!r}
from pycontainers._launcher import finish
from pycontainers.ociruntime.main import entry
try:
    status = entry()
except SystemExit as exc:
    status = exc.code
finish(status)
"""


_FRONT_TEMPLATE = "#!{front}\n# fallback:\t{python}\t-IS\n"
FRONT = "pycontainers-runtime-front"
"""The C front end's file name in ``pycontainers/_bin/``."""
_MAX_SHEBANG = 250  # the kernel reads 256 bytes of a #! line


def front_end() -> str | None:
    """The built C front end next to the package (None: not built, or not usable from a
    ``#!`` line).
    """
    import pycontainers

    path = os.path.join(os.path.dirname(os.path.abspath(pycontainers.__file__)), "_bin", FRONT)
    if not os.access(path, os.X_OK) or len(path) + 2 > _MAX_SHEBANG:
        return None
    if any(c.isspace() for c in path):
        return None
    return path


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
    python = os.path.realpath(sys.executable)
    text = _TEMPLATE.format(python=python, path=search_path())
    front = front_end()
    if front is None or any(c in python for c in "\t\n"):
        return text
    return _FRONT_TEMPLATE.format(front=front, python=python) + text.partition("\n")[2]


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


__all__ = ["FRONT", "front_end", "launcher_text", "main", "search_path", "write_launcher"]
