"""Layers: unpack OCI layer tars (plain, gzip, zstd) with whiteouts, safely.

Two ways to apply a layer:

* **flattened** (``overlay=False``): onto one directory that already holds the layers below;
  ``.wh.<name>`` deletes what lower layers put at ``<name>`` and ``.wh..wh..opq`` empties a
  directory of their content. Used for commit, export and comparisons (:func:`flatten`).
* **overlay snapshot** (``overlay=True``): into an empty directory of the layer's own;
  whiteouts become overlayfs whiteouts (a 0/0 character device) and opaque markers the
  ``trusted.overlay.opaque`` xattr (``user.overlay.opaque`` with ``userxattr``), so snapshots
  stack with :class:`~pycontainers.fs.overlay.OverlayFS` (see
  :class:`~pycontainers.images.snapshots.SnapshotStore`).

Every parent directory is resolved with ``openat2(RESOLVE_BENEATH)`` and every final
component is created without following symlinks, so no entry can write outside the target:
``..`` components, absolute names, hard links out of the tree and writes through a symlink
that leads outside (placed by an earlier entry or layer) raise :class:`LayerError`
(``_unpack.py`` holds that per-entry logic).
Entries of one layer are never removed by that layer's own whiteouts (image-spec
layer.md). Ownership is kept when running as root.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from pycontainers._log import get_logger
from pycontainers.images._compress import (
    Readable,
    detect_compression,
    prefetched,
    uncompressed_chunks,
)
from pycontainers.images._errors import DigestMismatch, LayerError
from pycontainers.images._tar import TarReader
from pycontainers.images._unpack import _O_PATH_DIR, _Applier
from pycontainers.images.digest import Digest, chain_id, new_hasher

__all__ = ["AppliedLayer", "apply_layer", "chain_id", "detect_compression", "flatten"]

log = get_logger("pycontainers.images")

#: A layer: a path, or a binary stream (a file, a :class:`BlobReader`...).
LayerSource = Readable | str | os.PathLike[str]


@attrs.frozen
class AppliedLayer:
    """What applying one layer found: its DiffID, compression, size and entry count."""

    diff_id: Digest
    compression: str
    size: int
    entries: int


@contextlib.contextmanager
def _opened(layer: LayerSource) -> Iterator[Readable]:
    if isinstance(layer, (str, os.PathLike)):
        with open(layer, "rb", buffering=0) as f:
            yield f
    else:
        yield layer


def apply_layer(
    root: str | os.PathLike[str],
    layer: LayerSource,
    *,
    overlay: bool = False,
    userxattr: bool = False,
    lowers: Sequence[str | os.PathLike[str]] = (),
    expected_diff_id: Digest | str | None = None,
    same_owner: bool | None = None,
) -> AppliedLayer:
    """Apply one layer (a tar, tar+gzip or tar+zstd file or stream) onto ``root``.

    ``overlay=False`` applies it flattened onto what is already in ``root``;
    ``overlay=True`` writes overlayfs whiteouts into ``root`` (an empty directory of this
    layer's own), with ``lowers`` (the snapshots below, topmost first) used to copy up hard
    link targets and the metadata of directories the tar does not list. ``same_owner``
    (default: when running as root) keeps the tar's uid/gid.

    Raises :class:`LayerError` for a malformed, truncated or unsafe layer and
    :class:`DigestMismatch` when the DiffID is not ``expected_diff_id``; ``root`` may then
    hold a part of the layer (callers unpack into a temporary directory: see
    :func:`flatten` and :class:`~pycontainers.images.snapshots.SnapshotStore`).
    """
    expected = Digest.parse(expected_diff_id) if expected_diff_id is not None else None
    owner = os.geteuid() == 0 if same_owner is None else same_owner
    hasher = new_hasher(expected.algorithm if expected else "sha256")
    root_fd = os.open(root, _O_PATH_DIR)
    lower_fds: list[int] = []
    try:
        for lower in lowers:
            lower_fds.append(os.open(lower, _O_PATH_DIR))
        applier = _Applier(
            root_fd, overlay=overlay, userxattr=userxattr, lower_fds=lower_fds, same_owner=owner
        )
        counted = _Counter()
        with _opened(layer) as stream:
            kind, chunks = uncompressed_chunks(stream, hasher)
            helper = prefetched(chunks) if kind != "none" else None
            reader = TarReader(counted.wrap(helper if helper is not None else chunks))
            try:
                for entry in reader:
                    try:
                        applier.apply(entry, reader)
                    except LayerError:
                        raise
                    except OSError as exc:
                        raise LayerError(
                            f"{exc.strerror or exc} ({type(exc).__name__})",
                            member=entry.name,
                            errno=exc.errno,
                        ) from exc
                applier.finish()
            finally:
                applier.close()
                if helper is not None:
                    helper.close()  # stop the reader thread before the stream closes
    finally:
        for fd in (root_fd, *lower_fds):
            os.close(fd)
    diff_id = Digest.from_hasher(hasher)
    if expected is not None and diff_id != expected:
        raise DigestMismatch("diff_id", expected, diff_id, source="layer")
    log.debug("layer.applied", diff_id=str(diff_id), entries=applier.entries, size=counted.n)
    return AppliedLayer(diff_id=diff_id, compression=kind, size=counted.n, entries=applier.entries)


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def wrap(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.n += len(chunk)
            yield chunk


def flatten(
    layers: Sequence[LayerSource],
    dest: str | os.PathLike[str],
    *,
    expected_diff_ids: Sequence[Digest | str] | None = None,
    same_owner: bool | None = None,
) -> list[AppliedLayer]:
    """Apply ``layers`` (bottom first) into a new directory ``dest``, all or nothing.

    The tree is built in a temporary directory beside ``dest`` and renamed into place only
    when every layer was read whole and matched its DiffID; on any error nothing is left.
    """
    dest_path = Path(dest).absolute()
    if expected_diff_ids is not None and len(expected_diff_ids) != len(layers):
        raise LayerError(f"{len(layers)} layers but {len(expected_diff_ids)} expected DiffIDs")
    if dest_path.exists() or dest_path.is_symlink():
        raise FileExistsError(errno.EEXIST, "flatten: the destination exists", str(dest_path))
    tmp = Path(tempfile.mkdtemp(dir=dest_path.parent, prefix=f".{dest_path.name}.tmp-"))
    try:
        tmp.chmod(0o755)
        results = []
        for i, layer in enumerate(layers):
            expected = expected_diff_ids[i] if expected_diff_ids is not None else None
            results.append(
                apply_layer(tmp, layer, expected_diff_id=expected, same_owner=same_owner)
            )
        _syncfs(tmp)
        os.rename(tmp, dest_path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return results


def _syncfs(path: Path) -> None:
    """Flush the filesystem holding ``path`` (before a rename publishes a tree)."""
    from pycontainers import _fsapi

    _fsapi.syncfs(path)
