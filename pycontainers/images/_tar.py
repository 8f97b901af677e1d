"""A strict, streaming tar reader for layer unpacking.

``tarfile`` takes a stream that ends early for the end of the archive, and reads in small
blocks; this reader pulls large chunks, hands file data straight to ``os.write`` without
copying it, and raises :class:`LayerError` for anything truncated or malformed: a missing
end-of-archive marker, a bad header checksum, a short member. It reads ustar, GNU (long
names and links, base-256 numbers) and PAX (``x`` and ``g`` headers, ``SCHILY.xattr.*``).
"""

from __future__ import annotations

from collections.abc import Iterator

from pycontainers.images._errors import LayerError

BLOCK = 512
# Limits on metadata held in memory (PAX records, GNU long names): far above real use.
_MAX_META = 16 << 20

REGULAR = b"0"
HARDLINK = b"1"
SYMLINK = b"2"
CHARDEV = b"3"
BLOCKDEV = b"4"
DIRECTORY = b"5"
FIFO = b"6"
_CONTIGUOUS = b"7"
_PAX = b"x"
_PAX_GLOBAL = b"g"
_GNU_LONGNAME = b"L"
_GNU_LONGLINK = b"K"
_GNU_VOLUME = b"V"
_SKIPPED = frozenset({_GNU_VOLUME, b"D", b"N"})  # volume label, GNU dumpdir, old long names
_ENTRY_TYPES = frozenset({REGULAR, HARDLINK, SYMLINK, CHARDEV, BLOCKDEV, DIRECTORY, FIFO})
_ZERO_BLOCK = bytes(BLOCK)


class TarEntry:
    """One member of a tar stream, its metadata merged from PAX and GNU headers."""

    __slots__ = (
        "devmajor",
        "devminor",
        "gid",
        "linkname",
        "mode",
        "mtime_ns",
        "name",
        "size",
        "type",
        "uid",
        "xattrs",
    )

    def __init__(self) -> None:
        self.name = ""
        self.type = REGULAR
        self.mode = 0
        self.uid = 0
        self.gid = 0
        self.size = 0
        self.mtime_ns = 0
        self.linkname = ""
        self.devmajor = 0
        self.devminor = 0
        self.xattrs: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"TarEntry({self.name!r}, type={self.type!r}, size={self.size})"


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _cstr(field: bytes) -> bytes:
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


def _number(field: bytes, what: str) -> int:
    if field and field[0] & 0x80:  # GNU base-256: big-endian two's complement
        value = int.from_bytes(field, "big", signed=field[0] == 0xFF)
        if field[0] == 0x80:
            value = int.from_bytes(field[1:], "big")
        return value
    digits = _cstr(field).strip(b" ")
    if not digits:
        return 0
    try:
        return int(digits, 8)
    except ValueError:
        raise LayerError(f"invalid {what} field {field!r} in a tar header") from None


def _pax_time(value: bytes) -> int:
    text = value.decode("ascii", "replace")
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    try:
        return sign * (int(whole or "0") * 1_000_000_000 + int((frac + "000000000")[:9]))
    except ValueError:
        raise LayerError(f"invalid PAX time {text!r}") from None


def _parse_pax(data: bytes) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding some writers leave after the records
            break
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise LayerError("malformed PAX header record") from None
        if space < 0 or length <= space - pos or pos + length > len(data):
            raise LayerError("malformed PAX header record")
        record = data[space + 1 : pos + length - 1]
        if data[pos + length - 1 : pos + length] != b"\n" or b"=" not in record:
            raise LayerError("malformed PAX header record")
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return records


class TarReader:
    """Iterate the entries of an uncompressed tar stream given as chunks of bytes.

    After each entry is yielded, :meth:`copy_to` writes its data to a file descriptor;
    data left unread is skipped. Iteration ends at the end-of-archive marker; the rest
    of the stream is then drained (so a hasher fed by ``chunks`` sees every byte).
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._view = memoryview(self._buf)
        self._pos = 0
        self._pending = 0  # data bytes (with padding) of the current entry not yet consumed
        self._remaining = 0  # of those, the entry's own data
        self._globals: dict[str, bytes] = {}

    # -- the byte stream ------------------------------------------------------------------

    def _next_chunk(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buf = bytes(chunk)
                self._view = memoryview(self._buf)
                self._pos = 0
                return True
        return False

    def _read(self, n: int, what: str) -> bytes:
        pos = self._pos
        if pos + n <= len(self._buf):
            self._pos = pos + n
            return self._buf[pos : pos + n]
        parts = [self._buf[pos:]]
        have = len(parts[0])
        self._pos = len(self._buf)
        while have < n:
            if not self._next_chunk():
                raise LayerError(f"the layer is truncated: it ends inside {what}")
            take = min(n - have, len(self._buf))
            parts.append(self._buf[:take])
            self._pos = take
            have += take
        return b"".join(parts)

    def _skip(self, n: int, what: str) -> None:
        while n:
            avail = len(self._buf) - self._pos
            if avail == 0:
                if not self._next_chunk():
                    raise LayerError(f"the layer is truncated: it ends inside {what}")
                continue
            take = min(n, avail)
            self._pos += take
            n -= take

    def drain(self) -> None:
        """Consume the rest of the stream (the padding after the end-of-archive marker)."""
        self._pos = len(self._buf)
        while self._next_chunk():
            pass
        self._buf = b""
        self._view = memoryview(self._buf)
        self._pos = 0

    # -- entry data ---------------------------------------------------------------------

    def copy_to(self, fd: int, name: str) -> None:
        """Write the current entry's data to ``fd``."""
        import os

        remaining = self._remaining
        while remaining:
            avail = len(self._buf) - self._pos
            if avail == 0:
                if not self._next_chunk():
                    raise LayerError(
                        "the layer is truncated: it ends inside the file data", member=name
                    )
                continue
            take = min(remaining, avail)
            view = self._view[self._pos : self._pos + take]
            while view:
                n = os.write(fd, view)
                view = view[n:]
            self._pos += take
            remaining -= take
        self._pending -= self._remaining
        self._remaining = 0

    def read_data(self, name: str) -> bytes:
        """The current entry's data as bytes (for small members)."""
        data = self._read(self._remaining, f"the data of {name}")
        self._pending -= self._remaining
        self._remaining = 0
        return data

    # -- headers --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[TarEntry]:
        return self._entries()

    def _entries(self) -> Iterator[TarEntry]:
        pax: dict[str, bytes] = {}
        longname: bytes | None = None
        longlink: bytes | None = None
        while True:
            if self._pending:
                self._skip(self._pending, "a member's data")
                self._pending = self._remaining = 0
            if self._pos == len(self._buf) and not self._next_chunk():
                raise LayerError("the layer is truncated: no end-of-archive marker")
            header = self._read(BLOCK, "a tar header")
            if header == _ZERO_BLOCK:
                self.drain()
                return
            typ, size = self._check_header(header)
            padded = (size + BLOCK - 1) & ~(BLOCK - 1)
            if typ in (_PAX, _PAX_GLOBAL, _GNU_LONGNAME, _GNU_LONGLINK):
                if size > _MAX_META:
                    raise LayerError(f"a {typ.decode()!r} header of {size} bytes is too large")
                data = self._read(padded, "an extended header")[:size]
                if typ == _PAX:
                    pax.update(_parse_pax(data))
                elif typ == _PAX_GLOBAL:
                    self._globals.update(_parse_pax(data))
                elif typ == _GNU_LONGNAME:
                    longname = _cstr(data)
                else:
                    longlink = _cstr(data)
                continue
            entry = self._entry(header, typ, size, {**self._globals, **pax}, longname, longlink)
            pax, longname, longlink = {}, None, None
            if typ in _SKIPPED:
                self._skip(padded, "a skipped member")
                continue
            if entry.type == REGULAR:
                self._remaining = entry.size
                self._pending = (entry.size + BLOCK - 1) & ~(BLOCK - 1)
            else:
                # Header-only types carry no data, whatever their size field says (as Go's
                # archive/tar and Python's tarfile read them).
                self._pending = self._remaining = 0
            yield entry

    def _check_header(self, header: bytes) -> tuple[bytes, int]:
        stored = _number(header[148:156], "checksum")
        unsigned = sum(header[:148]) + 256 + sum(header[156:])
        if stored != unsigned:
            signed = sum(b - 256 if b > 127 else b for b in header[:148] + header[156:]) + 256
            if stored != signed:
                raise LayerError("invalid tar header checksum (a corrupt or truncated layer)")
        typ = header[156:157]
        return typ, _number(header[124:136], "size")

    def _entry(
        self,
        header: bytes,
        typ: bytes,
        size: int,
        pax: dict[str, bytes],
        longname: bytes | None,
        longlink: bytes | None,
    ) -> TarEntry:
        e = TarEntry()
        if typ in (b"\0", _CONTIGUOUS):
            typ = REGULAR
        name = _cstr(header[0:100])
        if header[257:263] == b"ustar\x00":  # POSIX ustar: the name may have a prefix
            prefix = _cstr(header[345:500])
            if prefix:
                name = prefix + b"/" + name
        if longname is not None:
            name = longname
        link = longlink if longlink is not None else _cstr(header[157:257])
        e.mode = _number(header[100:108], "mode") & 0o7777
        e.uid = _number(header[108:116], "uid")
        e.gid = _number(header[116:124], "gid")
        e.size = size
        e.mtime_ns = _number(header[136:148], "mtime") * 1_000_000_000
        if typ in (CHARDEV, BLOCKDEV):
            e.devmajor = _number(header[329:337], "devmajor")
            e.devminor = _number(header[337:345], "devminor")
        if pax:
            for key, value in pax.items():
                if key == "path":
                    name = value
                elif key == "linkpath":
                    link = value
                elif key == "size":
                    e.size = int(value)
                elif key == "uid":
                    e.uid = int(value)
                elif key == "gid":
                    e.gid = int(value)
                elif key == "mtime":
                    e.mtime_ns = _pax_time(value)
                elif key.startswith("SCHILY.xattr."):
                    e.xattrs[key[13:]] = value
                elif key.startswith("GNU.sparse."):
                    raise LayerError(
                        "sparse files are not supported in layers", member=_decode(name)
                    )
        if typ not in _ENTRY_TYPES and typ not in _SKIPPED:
            raise LayerError(f"unsupported tar entry type {typ!r}", member=_decode(name))
        e.type = typ
        e.name = _decode(name)
        e.linkname = _decode(link)
        return e
