"""A verified on-disk cache of the code ``attrs`` generates for classes, for the short
processes (the CLI, ``pycontainers-runtime create``) that build ~30 of them at import.

attrs writes each class's ``__init__``, ``__repr__``, ``__eq__``... as Python source and
compiles it: ~0.8 ms per ``compile()``, 20-30 ms of every such process. :func:`enable`
puts a ``compile`` in front of the builtin for attrs' code generator (its module global
shadows the builtin; nothing of attrs is replaced): a call with exactly ``(source,
filename, "exec")`` returns the code object compiled earlier from the *same* source text,
filename and compiler flags, else compiles it and remembers it. Every other call goes to the
builtin unchanged. The generated source is the whole key, so what is cached can only be what
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

    def __init__(self, path: str, header: bytes, flags: int) -> None:
        self.path = path
        self.header = header
        self.flags = flags
        self.entries: dict[Key, Entry] = {}
        self.used: set[Key] = set()
        self.hits = 0
        self.misses = 0

    def compile(self, source: Any, filename: Any = None, mode: Any = None, *args: Any,
                **kw: Any) -> Any:  # fmt: skip
        """``compile`` for attrs' generator (see the module's docstring)."""
        if args or kw or mode != "exec" or type(source) is not str or type(filename) is not str:
            return builtins.compile(source, filename, mode, *args, **kw)
        seed = _type_hash(filename, source)
        text = source if seed is None else source.replace(_literal(seed), _SEED_LITERAL, 1)
        key = (filename, text, self.flags)
        entry = self.entries.get(key)
        code = None
        if entry is not None:
            code = self.code(entry)
            code = code if code is None or entry[0] == seed else _reseed(code, entry[0], seed)
        if code is None:
            import marshal

            code = builtins.compile(source, filename, mode, self.flags, True)
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


def generator_flags(make: ModuleType) -> int | None:
    """The future flags attrs' generator compiles with (inherited from its module), or None
    when ``make`` is not the generator this cache was written for: its
    ``_compile_and_eval`` must look up a ``compile`` global that the module itself does not
    define (so a module global of ours is what it calls).
    """
    func = getattr(make, "_compile_and_eval", None)
    code = getattr(func, "__code__", None)
    if code is None or "compile" not in code.co_names or "compile" in vars(make):
        return None
    import __future__

    mask = 0
    for name in __future__.all_feature_names:  # the flags compile() inherits from its caller
        mask |= getattr(__future__, name).compiler_flag
    return int(code.co_flags) & mask


def _trusted(fd: int) -> bool:
    st = os.fstat(fd)
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def header_for(make_file: str, flags: int) -> bytes | None:
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
              generator, str(flags))  # fmt: skip
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
    """Serve attrs' generated code from the cache in this process (idempotent); False when
    it is off (opted out, an attrs it does not fit, no readable generator).
    """
    if _active:
        return True
    if os.environ.get(OPT_OUT):
        return False
    from attr import _make

    flags = generator_flags(_make)
    make_file = getattr(_make, "__file__", None)
    if flags is None or not make_file:
        return False
    header = header_for(make_file, flags)
    if header is None:
        return False
    cache = _Cache(cache_path(), header, flags)
    cache.entries = read_entries(cache.path, header)
    _active.append(cache)
    _make.compile = cache.compile  # type: ignore[attr-defined]
    import atexit

    atexit.register(save)
    return True


def disable() -> None:
    """Stop serving from the cache (what is new is not saved)."""
    from attr import _make

    if _active:
        _active.clear()
        vars(_make).pop("compile", None)


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
    "generator_flags",
    "header_for",
    "parse",
    "read_entries",
    "render",
    "save",
    "stats",
]
