"""Unpacked layers as overlay snapshots, keyed by chain ID.

``root/<chain-id hex>/fs`` is the layer's own tree with overlayfs whiteouts, and
``root/<chain-id hex>/snapshot.json`` records its DiffID and parent. A snapshot is built in
``root/.tmp-*`` and renamed into place only when the whole layer was read and its DiffID
matched, so a snapshot directory that exists is complete; a failed unpack leaves nothing.

>>> snaps = SnapshotStore("/var/lib/pycontainers/snapshots")  # doctest: +SKIP
>>> base = snaps.unpack(store.open(layer0), expected_diff_id=diff0)  # doctest: +SKIP
>>> top = snaps.unpack(store.open(layer1), parent=base.chain_id)  # doctest: +SKIP
>>> OverlayFS.mount(target, snaps.lowers(top.chain_id), upper=..., work=...)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs

from pycontainers._log import get_logger
from pycontainers.images._errors import ImageError
from pycontainers.images.digest import Digest, chain_id
from pycontainers.images.layers import LayerSource, _syncfs, apply_layer
from pycontainers.images.store import write_atomic

log = get_logger("pycontainers.images")


@attrs.frozen
class Snapshot:
    """One unpacked layer: ``path`` is its tree, ``parent`` the chain ID below it."""

    chain_id: Digest
    diff_id: Digest
    parent: Digest | None
    path: Path


class SnapshotStore:
    """Overlay snapshots of layers under ``root``, one directory per chain ID."""

    def __init__(self, root: str | os.PathLike[str], *, userxattr: bool = False) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.userxattr = userxattr

    def __repr__(self) -> str:
        return f"SnapshotStore({str(self.root)!r})"

    def _dir(self, chain: Digest | str) -> Path:
        return self.root / Digest.parse(chain).encoded

    def has(self, chain: Digest | str) -> bool:
        """Whether the snapshot of chain ID ``chain`` exists."""
        return (self._dir(chain) / "snapshot.json").is_file()

    def get(self, chain: Digest | str) -> Snapshot:
        """The snapshot of chain ID ``chain``; :class:`ImageError` if there is none."""
        d = self._dir(chain)
        try:
            meta = json.loads((d / "snapshot.json").read_bytes())
        except FileNotFoundError as exc:
            raise ImageError(
                f"no snapshot of chain {chain}", errno=exc.errno, path=str(d / "snapshot.json")
            ) from None
        parent = meta.get("parent")
        return Snapshot(
            chain_id=Digest.parse(meta["chainID"]),
            diff_id=Digest.parse(meta["diffID"]),
            parent=Digest.parse(parent) if parent else None,
            path=d / "fs",
        )

    def snapshots(self) -> Iterator[Snapshot]:
        """Every complete snapshot in the store."""
        for name in sorted(os.listdir(self.root)):
            if not name.startswith(".") and (self.root / name / "snapshot.json").is_file():
                yield self.get(f"sha256:{name}")

    def lowers(self, chain: Digest | str) -> list[Path]:
        """The trees of ``chain`` and its parents, topmost first (overlay's lowerdir order)."""
        out = []
        current: Digest | None = Digest.parse(chain)
        while current is not None:
            snap = self.get(current)
            out.append(snap.path)
            current = snap.parent
        return out

    def unpack(
        self,
        layer: LayerSource,
        *,
        parent: Digest | str | Snapshot | None = None,
        expected_diff_id: Digest | str | None = None,
        same_owner: bool | None = None,
    ) -> Snapshot:
        """Unpack ``layer`` on top of ``parent`` (a chain ID) as a new snapshot.

        Returns the existing snapshot when the chain ID is already there and
        ``expected_diff_id`` names it. Raises :class:`LayerError` or
        :class:`DigestMismatch` and leaves nothing behind when the layer is bad.
        """
        parent_id = parent.chain_id if isinstance(parent, Snapshot) else parent
        parent_chain = Digest.parse(parent_id) if parent_id is not None else None
        lowers = self.lowers(parent_chain) if parent_chain is not None else []
        if expected_diff_id is not None:
            expected = Digest.parse(expected_diff_id)
            chain = chain_id([parent_chain, expected]) if parent_chain else expected
            if self.has(chain):
                return self.get(chain)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-"))
        try:
            fs = tmp / "fs"
            fs.mkdir(0o755)
            applied = apply_layer(
                fs,
                layer,
                overlay=True,
                userxattr=self.userxattr,
                lowers=lowers,
                expected_diff_id=expected_diff_id,
                same_owner=same_owner,
            )
            chain = chain_id([parent_chain, applied.diff_id]) if parent_chain else applied.diff_id
            meta = {
                "chainID": str(chain),
                "diffID": str(applied.diff_id),
                "parent": str(parent_chain) if parent_chain else None,
                "compression": applied.compression,
                "size": applied.size,
            }
            write_atomic(tmp / "snapshot.json", json.dumps(meta, indent=2).encode())
            tmp.chmod(0o755)
            _syncfs(tmp)
            try:
                os.rename(tmp, self._dir(chain))
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process made it first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("snapshot.unpacked", chain_id=str(chain), diff_id=str(applied.diff_id))
        return self.get(chain)

    def remove(self, chain: Digest | str) -> bool:
        """Delete a snapshot (children that stack on it break); False if it was not there."""
        d = self._dir(chain)
        if not d.exists():
            return False
        trash = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-rm-"))
        try:
            os.rename(d, trash / "x")  # vanish atomically, then delete at leisure
        except FileNotFoundError:
            trash.rmdir()
            return False
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def clean(self) -> None:
        """Remove temporary directories left by unpacks that died.

        Call it only while no other process unpacks into this store (at engine start).
        """
        for name in os.listdir(self.root):
            if name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    shutil.rmtree(self.root / name)
