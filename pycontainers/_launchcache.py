"""The installed ``pycontainers`` and ``pycontainers-runtime`` commands, a start without
``site``: the scripts ``setup.py`` writes, and the cache their slow start writes.

pip writes console scripts as ``#!/abs/python3`` with no interpreter flags, so every command
paid for ``site``: 30-40 ms here (an editable install's finder, other ``.pth`` code), most of
a ``pycontainers ps``. ``setup.py`` installs instead the text of :func:`script_text`: a
``#!/bin/sh`` preamble that runs an interpreter with ``-S`` (no ``site``; ``PYTHON*``
variables still honoured: ``PYTHONPATH`` is searched first, as always) and, as its Python
part, ``pycontainers/_launcher.py``, which

- on the **fast path** reads a cache of what ``site`` did last time (the directories it put
  on ``sys.path`` and where the ``pycontainers`` package is), checks it (its key: the
  interpreter, its prefixes and version, ``HOME``/``PYTHONUSERBASE``/``PYTHONNOUSERSITE``,
  the ids; the modification times of every site directory, ``.pth`` file and
  ``pyvenv.cfg``, so any install, upgrade or removal in them invalidates it; the package's
  ``__init__.py`` must exist; the file must be the user's own and not writable by others),
  and imports from those directories;
- otherwise (no cache, a stale or corrupt one, ``PYCONTAINERS_NO_FAST_START`` or
  ``COVERAGE_PROCESS_START`` set) runs ``site.main()`` -- the normal start -- and writes the
  cache for the next run, unless ``site`` did something the fast path cannot repeat (a
  ``sitecustomize``, an import finder placed before the path finder, a new path hook) or
  cannot be told apart from ``PYTHONPATH`` (a directory site or a ``.pth`` file adds that is
  also on it).

The script carries ``_launcher.py``'s text as one string and runs its code object from
``<cache dir>/pycontainers/code-<digest of the text>`` (compiling ~240 lines was ~2-3 ms of
every start; unmarshalling ~0.1 ms): a file of this user's, not writable by others, whose
header names this interpreter (``sys.version``, the marshal version) and holds the script's
very text; else the text is compiled and the file (re)written (0600, atomically, in a
private directory). ``PYCONTAINERS_NO_FAST_START`` skips it.

What the fast path leaves out is only ``.pth`` code that does not find modules (such as a
certificate bundle patched at every start). When ``site`` added import finders of its own
(editable installs of other packages), a module the fast path cannot find makes it run
``site.main()`` then and look again (only then: the standard library itself probes for
modules that do not exist, such as ``copy``'s ``org``). ``PYCONTAINERS_LAUNCH_DEBUG=1``
prints at exit which path was taken.

``pycontainers-runtime``'s script first runs the OCI runtime's C front end where it is
built (``_native/runtime_front.c``, ``setup.py``): it answers the plain ``state``/``start``/
``kill``/``delete`` without Python and otherwise runs this same interpreter command itself.

Standard library only: ``setup.py`` loads this file (and ``_launcher.py``) while building.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

_PREAMBLE = """#!/bin/sh
''':'
# {name}: written by pycontainers' setup.py (see pycontainers/_launchcache.py).
# sh picks the interpreter (the python3 next to this file, else the one that built it,
# else python3 on PATH) and starts it without `site`; the Python below does the rest.
py="${{0%/*}}/python3"
[ -x "$py" ] || py={python}
[ -x "$py" ] || py=python3
{front}exec "$py" -S "$0" "$@"
'''
"""


def _finder_module(finder: object) -> object:
    return sys.modules.get(getattr(finder, "__module__", "") or "")


def _pth_dirs(pth_files: Sequence[str]) -> list[str]:
    """The directories the path lines of ``.pth`` files name (as site reads them)."""
    out = []
    for path in pth_files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.rstrip()
            if line and not line.startswith(("#", "import ", "import\t")):
                out.append(os.path.abspath(os.path.join(os.path.dirname(path), line)))
    return out


def cache_text(
    key: str,
    before_path: Sequence[str],
    before_meta: Sequence[object],
    before_hooks: Sequence[object],
) -> str | None:
    """The cache for what ``site.main()`` just did (given the key, sys.path, meta_path and
    path_hooks from before it), or None when the fast path could not repeat it.
    """
    import site
    from importlib.machinery import PathFinder

    if "sitecustomize" in sys.modules or "usercustomize" in sys.modules:
        return None
    site_dirs = [*site.getsitepackages(), site.getusersitepackages()]
    pth_files = []
    for directory in site_dirs:
        try:
            names = sorted(n for n in os.listdir(directory) if n.endswith(".pth"))
        except OSError:
            continue
        pth_files += [os.path.join(directory, n) for n in names]
    # site does not add again a directory already on sys.path (PYTHONPATH): then what a
    # start without PYTHONPATH needs cannot be told from what this one did
    if any(p in before_path for p in (*site_dirs, *_pth_dirs(pth_files))):
        return None
    dirs = [p for p in sys.path if p not in before_path and os.path.isabs(p)]
    spec = PathFinder.find_spec("pycontainers", dirs)
    package = os.path.dirname(spec.origin) if spec is not None and spec.origin else ""
    lazy = False
    ours: set[object] = set()
    for index, finder in enumerate(sys.meta_path):
        if any(finder is old for old in before_meta):
            continue
        module = _finder_module(finder)
        if getattr(module, "__name__", "").startswith("_distutils_hack"):
            continue  # setuptools' shim: only `import distutils` / `import pip`
        if index < sys.meta_path.index(PathFinder):
            return None
        mapping = getattr(module, "MAPPING", None)
        if isinstance(mapping, dict) and set(mapping) == {"pycontainers"}:
            found = getattr(finder, "find_spec", lambda *a: None)("pycontainers", None)
            if not package and found is not None and found.origin:
                package = os.path.dirname(found.origin)
            ours.add(module)
            continue
        lazy = True  # another finder (an editable install of another package): _LateSite
    if any(_finder_module(hook) not in ours for hook in sys.path_hooks if hook not in before_hooks):
        return None
    stamps = [*site_dirs, *pth_files]
    exe_dir = os.path.dirname(sys.executable)
    stamps += [os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(exe_dir, "..", "pyvenv.cfg")]
    lines = [key, f"prefix\t{sys.prefix}", f"exec_prefix\t{sys.exec_prefix}"]
    lines += [f"path\t{d}" for d in dirs]
    lines += [f"package\t{package}"] if package else []
    lines += ["lazy\t"] if lazy else []
    lines += [f"stamp\t{s}\t{_stamp(s)}" for s in stamps]
    values = (*dirs, package, sys.prefix, sys.exec_prefix)
    if any("\n" in line for line in lines[1:]) or any("\t" in v for v in values):
        return None
    return "\n".join([*lines, "end", ""])


def write_cache(path: str, text: str) -> None:
    """Write the cache file ``path`` atomically (0644, in a 0700 directory)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _stamp(path: str) -> str:
    try:
        return str(os.stat(path).st_mtime_ns)
    except OSError:
        return "-"


def save(
    key: str,
    path: str,
    before_path: Sequence[str],
    before_meta: Sequence[object],
    before_hooks: Sequence[object],
) -> None:
    """After ``site.main()``: write the cache ``path`` for ``key`` (both the launcher's, as
    are sys.path, meta_path and path_hooks from before site), if there can be one.
    """
    try:
        text = cache_text(key, before_path, before_meta, before_hooks)
        if text is not None:
            write_cache(path, text)
    except Exception:  # a cache is an optimisation: never the reason a command fails
        pass


# The Python part of a launcher script: the launcher's source (_launcher.py) as one string,
# its code object from a cache when the cache holds that very source (compiling the ~240
# lines took ~2-3 ms of every start; unmarshalling them ~0.1 ms), else compiled and cached.
_STUB = """import sys

SOURCE = {source!r}
NAME = {name!r}


def _code():  # (see pycontainers/_launchcache.py: the code cache)
    import marshal
    import os

    source = SOURCE.encode("utf-8", "surrogateescape")
    head = b"pycontainers-launcher-code 1 %a %d %d\\n" % (sys.version, marshal.version, len(source))
    head += source
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.environ.get("HOME", "")
        base = os.path.join(home, ".cache") if os.path.isabs(home) else ""
    path = os.path.join(base, "pycontainers", NAME) if base else ""
    if os.environ.get("PYCONTAINERS_NO_FAST_START"):
        path = ""
    if path:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                st = os.fstat(fd)
                ours = st.st_uid == os.geteuid() and not st.st_mode & 0o022
                data = os.read(fd, st.st_size + 1) if ours else b""
            finally:
                os.close(fd)
            if data.startswith(head):
                code = marshal.loads(data[len(head):])
                if type(code) is type(_code.__code__):
                    return code
        except (OSError, ValueError, EOFError, TypeError):
            pass
    code = compile(SOURCE, "<pycontainers._launcher>", "exec")
    if path:
        tmp = "%s.%d.tmp" % (path, os.getpid())
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            st = os.stat(os.path.dirname(path))
            if st.st_uid == os.geteuid() and not st.st_mode & 0o077:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(tmp, flags, 0o600)
                try:
                    os.write(fd, head + marshal.dumps(code))
                finally:
                    os.close(fd)
                os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return code


exec(_code())
"""
CODE_PREFIX = "code-"
"""The code caches' file names in the launch cache's directory: ``code-`` and a digest of
the launcher's source (each cache also holds that source; it is used only when it matches
this interpreter and the script's own source exactly)."""


def stub_text(source: str) -> str:
    """The Python part of a launcher script running the launcher ``source`` (see _STUB)."""
    import hashlib

    name = CODE_PREFIX + hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return _STUB.format(source=source, name=name)


_FRONT_LINE = (
    'for f in {paths}; do [ -x "$f" ] && exec "$f" --fallback 3 "$py" -S "$0" "$@"; done\n'
)


def script_text(name: str, target: str, python: str, front: Sequence[str] = ()) -> str:
    """The launcher script of command ``name`` running ``target`` ("module:function"),
    falling back to interpreter ``python`` when there is no ``python3`` next to it.

    ``front``: where the OCI runtime's C front end may be (``_native/runtime_front.c``); the
    first one that is there runs instead of Python, with this Python command as its fallback.
    """
    import shlex

    if "'''" in python or "\n" in python or "\n" in target or '"' in target:
        raise ValueError(f"cannot write a launcher for {python!r} / {target!r}")
    with open(os.path.join(os.path.dirname(__file__), "_launcher.py"), encoding="utf-8") as f:
        source = f.read()
    source = source.replace('\nTARGET = ""\n', f'\nTARGET = "{target}"\n', 1)
    if any("\n" in path or "'''" in path for path in front):
        raise ValueError(f"cannot write a launcher for {front!r}")
    paths = " ".join(shlex.quote(path) for path in front)
    line = _FRONT_LINE.format(paths=paths) if front else ""
    return _PREAMBLE.format(name=name, python=shlex.quote(python), front=line) + stub_text(source)
