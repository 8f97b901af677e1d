"""The installed ``pycontainers`` and ``pycontainers-runtime`` commands (the Python part of
the scripts ``setup.py`` writes; ``pycontainers/_launchcache.py`` says how it works): start
from a verified cache of what ``site`` did last time, else run ``site``.

The script carries this file's text; its code object comes from a cache of it (compiled
when the cache does not hold this very text: ``_launchcache.stub_text``). It imports only
what the interpreter has already loaded (``os`` aside, which is frozen).
"""

import os
import sys

TYPE_CHECKING = False  # typing is not imported: the names below are for annotations only
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

# replaced in each generated script by script_text(): "module:function"
TARGET = ""

FORMAT = "pycontainers-launch 1"
OPT_OUT = ("PYCONTAINERS_NO_FAST_START", "COVERAGE_PROCESS_START")
_SITE_ENV = ("HOME", "PYTHONUSERBASE", "PYTHONNOUSERSITE")
_MAX_CACHE = 1 << 16
_KINDS = ("path", "package", "prefix", "exec_prefix", "lazy")


def cache_key() -> str:
    """Everything the outcome of ``site`` depends on besides files (one line), as seen
    before ``site`` runs (in a venv, ``site`` itself moves ``sys.prefix``).
    """
    env = (f"{name}={os.environ[name]}" for name in _SITE_ENV if name in os.environ)
    ids = f"{os.getuid()}:{os.geteuid()}:{os.getgid()}:{os.getegid()}"
    prefixes = (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)
    fields = (FORMAT, sys.executable, *prefixes, sys.version, sys.platlibdir, ids, *env)
    return "\t".join(fields).replace("\n", " ")


def cache_file(key: str) -> str | None:
    """The cache for ``key``: ``$XDG_CACHE_HOME`` (or ``~/.cache``)/pycontainers/launch-HASH."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.environ.get("HOME", "")
        if not home:  # as site finds the user's site directory (runtimes' bare environments)
            import pwd

            try:
                home = pwd.getpwuid(os.geteuid()).pw_dir
            except KeyError:
                return None
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    digest = 0x811C9DC5  # FNV-1a: no hashlib import on the fast path; the key is checked anyway
    for byte in key.encode(errors="surrogateescape"):
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return os.path.join(base, "pycontainers", f"launch-{digest:08x}")


def stamp(path: str) -> str:
    """``path``'s modification time in ns, ``-`` when it does not exist (a cache's check)."""
    try:
        return str(os.stat(path).st_mtime_ns)
    except OSError:
        return "-"


def read_cache(key: str) -> dict[str, list[str]] | None:
    """The entries of a valid cache for ``key`` by kind (``path``, ``package``, ``prefix``,
    ``exec_prefix``, ``lazy``), else None.
    """
    path = cache_file(key)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        data = os.read(fd, _MAX_CACHE)
    except OSError:
        return None
    finally:
        os.close(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return None
    lines = data.decode(errors="replace").split("\n")
    if len(lines) < 3 or lines[0] != key or lines[-2:] != ["end", ""]:
        return None
    entries: dict[str, list[str]] = {kind: [] for kind in _KINDS}
    for line in lines[1:-2]:
        kind, _, value = line.partition("\t")
        if kind == "stamp":
            name, _, want = value.rpartition("\t")
            if stamp(name) != want:
                return None
        elif kind in entries:
            entries[kind].append(value)
        else:
            return None
    if len(entries["prefix"]) != 1 or len(entries["exec_prefix"]) != 1:
        return None
    if any(not os.path.isfile(os.path.join(p, "__init__.py")) for p in entries["package"]):
        return None
    return entries


class _PackageFinder:
    """Finds ``pycontainers`` where an editable install's finder found it (after sys.path)."""

    def __init__(self, parent: str) -> None:
        self.parent = parent

    def find_spec(
        self, name: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if name != "pycontainers":
            return None
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(name, [self.parent])


class _LateSite:
    """Last on ``sys.meta_path``: a module not found runs ``site.main()``, then looks again
    (``site`` may add finders and directories the cache does not describe).
    """

    missed = ""

    def find_spec(
        self, name: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        sys.meta_path.remove(self)
        _LateSite.missed = name
        import importlib.util
        import site

        site.main()
        return importlib.util.find_spec(name)


def fast_start(key: str) -> bool:
    """Set up imports from a valid cache for ``key``; False (nothing changed) when there is
    none.
    """
    if any(os.environ.get(name) for name in OPT_OUT):
        return False
    found = read_cache(key)
    if found is None:
        return False
    dirs = found["path"]
    sys.path.extend(d for d in dirs if d not in sys.path)
    sys.prefix, sys.exec_prefix = found["prefix"][0], found["exec_prefix"][0]
    for package in found["package"]:
        if os.path.dirname(package) not in dirs:
            sys.meta_path.append(_PackageFinder(os.path.dirname(package)))
    if found["lazy"]:
        sys.meta_path.append(_LateSite())
    return True


def _report(fast: bool) -> None:
    package = sys.modules.get("pycontainers")
    print(
        f"pycontainers-launch: fast={int(fast)} no_site={sys.flags.no_site}"
        f" site_imported={int('site' in sys.modules)} late_site={_LateSite.missed or '-'}"
        f" prefix={sys.prefix}"
        f" package={os.path.dirname(getattr(package, '__file__', None) or '')}",
        file=sys.stderr,
    )


def launch(target: str) -> None:
    """Start ``target`` ("module:function") the fast way if the cache allows, else normally."""
    key = cache_key()
    before = (list(sys.path), list(sys.meta_path), list(sys.path_hooks))
    started = not sys.flags.no_site  # run as `python3 SCRIPT`: site has run already
    fast = not started and fast_start(key)
    if not fast and not started:
        import site

        site.main()
    serve = os.environ.pop("PYCONTAINERS_WARM_SERVE", "") if len(sys.argv) == 1 else ""
    if serve:  # started by pycontainers-front: a warm start server (pycontainers/warmstart)
        from pycontainers.warmstart.server import serve as serve_warm

        finish(serve_warm(serve, globals(), fast))
    if os.environ.get("PYCONTAINERS_LAUNCH_DEBUG"):
        import atexit

        atexit.register(_report, fast)
    module, _, function = target.partition(":")
    entry = getattr(__import__(module, fromlist=[function]), function)
    if not fast and not started and not any(os.environ.get(n) for n in OPT_OUT):
        path = cache_file(key)
        try:  # the package imported (PYTHONPATH's, if it has one) writes the cache
            from pycontainers._launchcache import save
        except ImportError:
            pass
        else:
            if path is not None:
                save(key, path, *before)
    try:
        status = entry()
    except SystemExit as exc:  # an entry that exits itself (pycontainers-runtime's)
        status = exc.code
    finish(status)


def finish(status: "int | str | None") -> None:
    """Leave as ``sys.exit(status)`` does, less the interpreter's teardown (freeing every
    module, ~10 ms of a short command): atexit handlers run, stdout and stderr are flushed,
    then ``os._exit``. With another thread alive, a status that is not an int or None, a
    flush that fails, or an opt-out in the environment: ``sys.exit``, as always.
    """
    threading = sys.modules.get("threading")
    if (
        not (status is None or type(status) is int)
        or (threading is not None and threading.active_count() > 1)
        or any(os.environ.get(name) for name in OPT_OUT)
    ):
        sys.exit(status)
    import atexit

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None:
        sys.exit(status)
    run_exitfuncs()  # (and forgets them: a sys.exit below does not run them twice)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(status)  # as Python reports it (a closed pipe: status 120)
    os._exit(0 if status is None else int(status) & 0xFF)


if __name__ == "__main__" and TARGET:
    launch(TARGET)
