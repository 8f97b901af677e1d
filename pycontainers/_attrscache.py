"""A verified on-disk cache of the code ``attrs`` generates for classes, for the short
processes (the CLI, ``pycontainers-runtime create``) that build ~30 of them at import.

attrs writes each class's ``__init__``, ``__repr__``, ``__eq__``... as Python source and
compiles it: ~0.8 ms per ``compile()``, 20-30 ms of every such process. :func:`enable`
puts a ``compile`` in front of the builtin for attrs' code generator (a global of
``attr._make``, which shadows the builtin; nothing of attrs is replaced; given as the module
loads when attrs is not imported yet, so attrs' own classes are served too): a call with
exactly ``(source, filename, "exec")`` returns the code object compiled earlier from the
*same* source text, filename and inherited ``__future__`` flags (its caller's, as the
builtin takes them), else compiles it and remembers it. Every other call goes to the builtin
unchanged. The generated source is the whole key, so what is cached can only be what
``compile`` would have returned for it.

The cache is one file, ``<data root>/cache/attrs/code``: a header (format, interpreter,
marshal version, the identity of attrs' code generator ``attr/_make.py``: path, inode, size,
mtime; the CRC-32 of the body) and the body, a marshal'd ``{(filename, source, flags):
(type hash, marshal'd code)}`` (an entry is unmarshalled when it is used). It is read only
when it and its directory belong to this user and nobody else can write them, its header
matches this interpreter and this attrs, and its checksum matches (else ignored and
rewritten); it is written atomically (0600, in a 0700 directory) at exit when something new
was compiled.
``PYCONTAINERS_NO_ATTRS_CACHE=1`` turns it off; an attrs whose generator does not call the
``compile`` global the way described leaves it off (attrs then works as it always does).
"""

from __future__ import annotations

import builtins
import os
import sys

TYPE_CHECKING = False  # typing is not imported for this
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import CodeType, ModuleType
    from typing import Any

FORMAT = "pycontainers-attrs-code-1"
OPT_OUT = "PYCONTAINERS_NO_ATTRS_CACHE"
MAX_BYTES = 2 << 20
"""Above this the file keeps only what the last process used."""

Key = tuple[str, str, int]
Entry = tuple["int | None", bytes]


class _Cache:
    """The entries of one process: those read, those used and those compiled here."""

    def __init__(self, path: str, header: bytes) -> None:
        self.path = path
        self.header = header
        self.entries: dict[Key, Entry] = {}
        self.used: set[Key] = set()
        self.hits = 0
        self.misses = 0

    def compile(self, source: Any, filename: Any = None, mode: Any = None, *args: Any,
                **kw: Any) -> Any:  # fmt: skip
        """``compile`` for attrs' generator (see the module's docstring)."""
        if args or kw or mode != "exec" or type(source) is not str or type(filename) is not str:
            return builtins.compile(source, filename, mode, *args, **kw)
        # the future flags builtins.compile would inherit from its caller (attrs' module)
        flags = sys._getframe(1).f_code.co_flags & _future_mask()
        seed = _type_hash(filename, source)
        text = source if seed is None else source.replace(_literal(seed), _SEED_LITERAL, 1)
        key = (filename, text, flags)
        entry = self.entries.get(key)
        code = None
        if entry is not None:
            code = self.code(entry)
            code = code if code is None or entry[0] == seed else _reseed(code, entry[0], seed)
        if code is None:
            import marshal

            code = builtins.compile(source, filename, mode, flags, True)
            self.entries[key] = (seed, marshal.dumps(code))
            self.misses += 1
        else:
            self.hits += 1
        self.used.add(key)
        return code

    @staticmethod
    def code(entry: Entry) -> CodeType | None:
        """The code object of an entry, None if it does not hold one."""
        import marshal

        try:
            code = marshal.loads(entry[1])
        except (EOFError, ValueError, TypeError):
            return None
        return code if type(code) is type(_reseed.__code__) else None


# attrs' ``__hash__`` starts from ``hash()`` of a name made from the class, a number that
# changes with every process (str hashes are randomized): the one literal in the source that
# differs between processes. The key holds a placeholder in its place and the entry the
# number its code was compiled with, replaced by this process's number in the constants.
_SEED_LITERAL = "        __pycontainers_type_hash__,\n"
_GENERATED = ("<attrs generated methods ", "<attrs generated __hash__ ")


def _literal(seed: int) -> str:
    return f"        {seed},\n"


def _type_hash(filename: str, source: str) -> int | None:
    """The type hash in ``source`` generated for ``filename``, or None if there is none
    (or it is not there exactly once).
    """
    if not filename.startswith(_GENERATED) or not filename.endswith(">"):
        return None
    qualified = filename.split(" ", 3)[-1][:-1]
    seed = hash(f"<attrs generated hash {qualified}>")
    return seed if source.count(_literal(seed)) == 1 else None


def _reseed(code: CodeType, old: int | None, new: int | None) -> CodeType | None:
    """``code`` with the constant ``old`` replaced by ``new`` (in nested code and tuples too),
    or None when it is not there exactly once.
    """
    if old is None or new is None:
        return None
    found = [0]

    def swap(value: Any) -> Any:
        if type(value) is int and value == old:
            found[0] += 1
            return new
        if type(value) is tuple:
            return tuple(swap(v) for v in value)
        if type(value) is type(code):
            return value.replace(co_consts=tuple(swap(v) for v in value.co_consts))
        return value

    out = swap(code)
    return out if found[0] == 1 else None


_active: list[_Cache] = []


def cache_path() -> str:
    """Where the cache lives: ``<data root>/cache/attrs/code`` (in a 0700 directory)."""
    from pycontainers.paths import default_data_root

    return os.path.join(default_data_root(), "cache", "attrs", "code")


def _future_mask() -> int:
    """The compiler flags of the ``__future__`` features (what ``compile`` inherits)."""
    if not _MASK:
        import __future__

        mask = 0
        for name in __future__.all_feature_names:
            mask |= getattr(__future__, name).compiler_flag
        _MASK.append(mask)
    return _MASK[0]


_MASK: list[int] = []


def fits(make: ModuleType, ours: object = None) -> bool:
    """Whether ``make`` is the generator this cache was written for: its
    ``_compile_and_eval`` looks up a ``compile`` global that the module itself does not
    define (so a module global of ours is what it calls); ``ours``: the one we gave it.
    """
    func = getattr(make, "_compile_and_eval", None)
    code = getattr(func, "__code__", None)
    given = vars(make).get("compile")
    return code is not None and "compile" in code.co_names and (given is None or given == ours)


def _trusted(fd: int) -> bool:
    st = os.fstat(fd)
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def header_for(make_file: str) -> bytes | None:
    """The header line a cache must start with for this interpreter and attrs, or None
    when attrs' generator cannot be found.
    """
    try:
        st = os.stat(make_file)
    except OSError:
        return None
    import marshal

    generator = f"{make_file}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    fields = (FORMAT, sys.implementation.cache_tag or "-", str(marshal.version), sys.version,
              generator)  # fmt: skip
    return " ".join(f.replace(" ", "_").replace("\n", "_") for f in fields).encode()


def read_entries(path: str, header: bytes) -> dict[Key, Entry]:
    """The entries of the cache file at ``path`` if it is trustworthy and for ``header``,
    else none.
    """
    try:
        dfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        if not _trusted(dfd):
            return {}
        fd = os.open(os.path.basename(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=dfd)  # fmt: skip
    except OSError:
        return {}
    finally:
        os.close(dfd)
    try:
        if not _trusted(fd):
            return {}
        size = os.fstat(fd).st_size
        if size > MAX_BYTES + 4096:
            return {}
        chunks = []
        while size > 0:
            chunk = os.read(fd, size)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        data = b"".join(chunks)
    except OSError:
        return {}
    finally:
        os.close(fd)
    return parse(data, header)


def parse(data: bytes, header: bytes) -> dict[Key, Entry]:
    """The entries of a cache file's ``data``, or none if its header is not ``header`` or
    its checksum is wrong.
    """
    import marshal
    import zlib

    head, sep, body = data.partition(b"\n")
    own, _, check = head.rpartition(b" ")
    if not sep or own != header or str(zlib.crc32(body)).encode() != check:
        return {}
    try:
        entries = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {
        k: v
        for k, v in entries.items()
        if type(k) is tuple
        and len(k) == 3
        and type(v) is tuple
        and len(v) == 2
        and type(v[1]) is bytes
    }


def render(header: bytes, entries: dict[Key, Entry]) -> bytes:
    """A cache file holding ``entries``."""
    import marshal
    import zlib

    body = marshal.dumps(entries)
    return header + b" " + str(zlib.crc32(body)).encode() + b"\n" + body


def enable() -> bool:
    """Serve attrs' generated code from the cache in this process (idempotent; attrs is not
    imported here: if it is not loaded yet, its generator gets the cache's ``compile`` as it
    loads, so attrs' own classes come from the cache too). False when it is off (opted
    out, an attrs it does not fit, no generator file).
    """
    if _active or any(isinstance(f, _Finder) for f in sys.meta_path):
        return True
    if os.environ.get(OPT_OUT):
        return False
    make = sys.modules.get("attr._make")
    if make is None:
        sys.meta_path.insert(0, _Finder())
        return True
    cache = _open(getattr(make, "__file__", None))
    if cache is None or not fits(make):
        return False
    make.compile = cache.compile  # type: ignore[attr-defined]
    _activate(cache)
    return True


def _open(make_file: str | None) -> _Cache | None:
    """The cache for the generator at ``make_file``, its entries read."""
    header = header_for(make_file) if make_file else None
    if header is None:
        return None
    cache = _Cache(cache_path(), header)
    cache.entries = read_entries(cache.path, header)
    return cache


def _activate(cache: _Cache) -> None:
    import atexit

    _active.append(cache)
    atexit.register(save)


class _Finder:
    """First on ``sys.meta_path`` until ``attr._make`` is imported: finds it as the other
    finders do and gives it the cache's ``compile`` before its code runs.
    """

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "attr._make":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        cache = _open(spec.origin) if spec.has_location else None
        if cache is not None and loader is not None and hasattr(loader, "exec_module"):
            spec.loader = _SeedingLoader(loader, cache)  # type: ignore[assignment]
        return spec


class _SeedingLoader:
    """``attr._make``'s own loader, with the cache's ``compile`` put in the module first
    (and taken out again, the cache left off, if the module turns out not to fit).
    """

    def __init__(self, loader: Any, cache: _Cache) -> None:
        self._loader = loader
        self._cache = cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        """The real loader's."""
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Seed ``compile``, run the module, keep the cache only if the module fits."""
        vars(module)["compile"] = self._cache.compile
        try:
            self._loader.exec_module(module)
        finally:
            module.__loader__ = self._loader
            if module.__spec__ is not None:
                module.__spec__.loader = self._loader
        if fits(module, self._cache.compile):
            _activate(self._cache)
        else:
            vars(module).pop("compile", None)


def disable() -> None:
    """Stop serving from the cache (what is new is not saved)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
    make = sys.modules.get("attr._make")
    if _active:
        _active.clear()
        if make is not None:
            vars(make).pop("compile", None)


def stats() -> tuple[int, int]:
    """(hits, misses) of this process (0, 0 when off)."""
    return (_active[0].hits, _active[0].misses) if _active else (0, 0)


def save() -> None:
    """Write the cache if this process compiled something new (at exit; errors skipped:
    a cache that cannot be written is only slower).
    """
    if not _active or not _active[0].misses:
        return
    cache = _active[0]
    entries = dict(cache.entries)
    data = render(cache.header, entries)
    if len(data) > MAX_BYTES:
        data = render(cache.header, {k: entries[k] for k in cache.used})
        if len(data) > MAX_BYTES:
            return
    from pycontainers._files import write_atomic

    directory = os.path.dirname(cache.path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.stat(directory)
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return  # not a private directory of ours: write nothing there
        write_atomic(cache.path, data, 0o600, durable=False)
    except OSError:
        return
    cache.misses = 0


__all__ = [
    "FORMAT",
    "MAX_BYTES",
    "OPT_OUT",
    "cache_path",
    "disable",
    "enable",
    "fits",
    "header_for",
    "parse",
    "read_entries",
    "render",
    "save",
    "stats",
]
