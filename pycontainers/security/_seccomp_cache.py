"""Compiled seccomp filters cached on disk, so a CLI process or a health check does not
parse and compile Docker's profile (and load libseccomp) on every start or exec.

The key hashes everything the BPF depends on: the profile's source, the container's
capabilities, the machine's architecture and kernel release, the libseccomp library file
and the compiler's own source files. An entry is ``MAGIC key flags sha256(bpf)`` then the
bytes, written atomically under ``<data root>/cache/seccomp`` (0700, the caller's own);
an entry whose header, digest, owner or mode is wrong is ignored and compiled again, never
used. A kernel or libseccomp upgrade changes the key, so old entries are simply not read.

Beside each filter, under the same key, the profile *resolved* for those capabilities (the
OCI ``linux.seccomp`` object a stored ``config.json`` holds) is kept the same way (entry
``<key>.oci``, its own magic), so writing a container's config does not parse the profile
either.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable

from pycontainers import _log
from pycontainers._digest import sha256_hex

log = _log.get_logger("pycontainers.runtime")

_MAGIC = b"pycontainers-bpf-2"  # 2: rules for one syscall merged as runc does
_MAGIC_OCI = b"pycontainers-seccomp-oci-1"
_LIBSECCOMP = "libseccomp.so.2"
# Where the dynamic loader finds it: the multiarch directories first (no search of /usr/lib/*,
# which lists every directory there: ~10 ms a process), then the plain ones.
_LIBSECCOMP_GLOBS = (
    "/usr/lib/*/libseccomp.so.2*",
    "/lib/*/libseccomp.so.2*",
    "/usr/lib64/libseccomp.so.2*",
    "/usr/lib/libseccomp.so.2*",
)
_LIB_DIRS = ("/usr/lib64", "/lib64", "/usr/lib", "/lib", "/usr/local/lib")
_COMPILER = (
    "seccomp.py",
    "_seccomp_bpf.py",
    "_seccomp_merge.py",
    "_seccomp_profile.py",
    "_seccomp_cache.py",
)


def cache_dir() -> str:
    """Where the entries live: ``<data root>/cache/seccomp``."""
    from pycontainers.paths import default_data_root

    return os.path.join(default_data_root(), "cache", "seccomp")


def _identity(paths: Iterable[str]) -> str:
    out = []
    for path in sorted(paths):
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.append(f"{path}:{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(out)


def _libseccomp_files() -> list[str]:
    """The ``libseccomp.so.2`` links the loader may open (their targets are identified)."""
    multiarch = getattr(sys.implementation, "_multiarch", "")
    if not multiarch:  # an interpreter that does not know its triplet: search the old way
        import glob

        return [p for pattern in _LIBSECCOMP_GLOBS for p in glob.glob(pattern)]
    dirs = (f"/usr/lib/{multiarch}", f"/lib/{multiarch}", *_LIB_DIRS)
    return [os.path.join(d, _LIBSECCOMP) for d in dirs]


@functools.cache
def _machine() -> str:
    """What the BPF depends on besides the profile: arch, kernel release, the libseccomp
    file and the compiler's sources; read once per process (a search of the library
    directories costs milliseconds, and the loaded library does not change under us).
    """
    here = os.path.dirname(__file__)
    uname = os.uname()
    return "\0".join(
        [
            uname.machine,
            uname.release,
            _identity(_libseccomp_files()),
            _identity(os.path.join(here, name) for name in _COMPILER),
        ]
    )


def key(source: bytes, capabilities: Iterable[str]) -> str:
    """The cache key of ``source`` (a profile's JSON) compiled for ``capabilities`` here."""
    parts = [sha256_hex(source), ",".join(sorted(capabilities)), _machine()]
    return sha256_hex("\0".join(parts).encode())


def profile_source(profile: object) -> bytes:
    """The bytes a key is made from for ``profile``: the packaged text of Docker's profile
    for ``"default"``, else the canonical JSON of a :class:`SeccompProfile`.
    """
    if profile == "default":
        from pycontainers.security._seccomp_source import default_source

        return default_source()
    import json

    to_dict = getattr(profile, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"not a seccomp profile: {profile!r}")
    return json.dumps(to_dict(), sort_keys=True).encode()


def _read(name: str, magic: bytes, cache_key: str) -> tuple[bytes, bytes] | None:
    """(flags field, body) of the entry ``name`` if it is ours and intact, else None."""
    path = os.path.join(cache_dir(), name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            log.warning("seccomp.cache_untrusted", path=path, uid=st.st_uid, mode=oct(st.st_mode))
            return None
        data = os.read(fd, st.st_size + 1)
    finally:
        os.close(fd)
    head, sep, body = data.partition(b"\n")
    fields = head.split(b" ")
    if not sep or len(fields) != 4 or fields[0] != magic or fields[1] != cache_key.encode():
        return None
    if sha256_hex(body).encode() != fields[3] or not body:
        log.warning("seccomp.cache_corrupt", path=path)
        return None
    return fields[2], body


def _write(name: str, magic: bytes, cache_key: str, flags: bytes, body: bytes) -> None:
    from pycontainers._files import write_atomic

    directory = cache_dir()
    head = b" ".join([magic, cache_key.encode(), flags, sha256_hex(body).encode()])
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.stat(directory)
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return  # not a private directory of ours: do not write filters there
        write_atomic(os.path.join(directory, name), head + b"\n" + body)
    except OSError as exc:
        log.debug("seccomp.cache_unwritable", path=directory, error=str(exc))


def load(cache_key: str) -> tuple[bytes, int] | None:
    """The cached (bpf, flags) of ``cache_key``, or None (missing or not trustworthy)."""
    entry = _read(cache_key, _MAGIC, cache_key)
    if entry is None:
        return None
    flags, bpf = entry
    if len(bpf) % 8 or not flags.isdigit():
        log.warning("seccomp.cache_corrupt", path=os.path.join(cache_dir(), cache_key))
        return None
    return bpf, int(flags)


def store(cache_key: str, bpf: bytes, flags: int) -> None:
    """Keep (bpf, flags) for ``cache_key``; a cache that cannot be written is skipped."""
    _write(cache_key, _MAGIC, cache_key, str(flags).encode(), bpf)


def load_resolved(cache_key: str) -> bytes | None:
    """The cached resolved profile (OCI ``linux.seccomp`` JSON) of ``cache_key``, or None."""
    entry = _read(cache_key + ".oci", _MAGIC_OCI, cache_key)
    return None if entry is None else entry[1]


def store_resolved(cache_key: str, text: bytes) -> None:
    """Keep the resolved profile ``text`` for ``cache_key`` (skipped if unwritable)."""
    _write(cache_key + ".oci", _MAGIC_OCI, cache_key, b"0", text)


__all__ = [
    "cache_dir",
    "key",
    "load",
    "load_resolved",
    "profile_source",
    "store",
    "store_resolved",
]
