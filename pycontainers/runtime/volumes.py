"""Named volumes: directories of the engine's own that containers mount, kept after them.

A volume lives at ``<data root>/volumes/<name>/_data`` beside its metadata
(``volume.json``: name, created, labels, driver ``local``, mountpoint). A
``Mount(target, source=NAME, type="volume")`` becomes a bind mount of that directory when the
spec is built (:func:`resolve_mounts`); the volume is created on first use and, the first time
it is mounted (still empty), gets a copy of what the image holds at the target path, owners
and modes kept, as Docker does (the ``nocopy`` option skips that). ``source=None`` makes an
anonymous volume (a random 64-hex name, ``anonymous`` in its metadata).

Whether a volume is in use is read from the containers themselves, not from a counter that
a killed process could leave wrong: a live container (created, running, paused) uses a
volume when one of its mount points is the volume's directory (stat of
``/proc/PID/root/<mount point>``), and a stopped detached container when its saved spec
(which restarts it) binds it.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import json
import os
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pycontainers._files import locked, write_atomic
from pycontainers._log import get_logger
from pycontainers.errors import SpecError
from pycontainers.errors import VolumeError as VolumeError
from pycontainers.spec import check_volume_name

if TYPE_CHECKING:
    from pycontainers.spec import ContainerSpec, Mount

log = get_logger("pycontainers.runtime")

_META = "volume.json"
_DATA = "_data"


def volumes_root(data_root: str | None = None) -> str:
    """``<data root>/volumes`` (see :func:`pycontainers.fs.shift.default_data_root`)."""
    from pycontainers.fs.shift import default_data_root

    return os.path.join(data_root or default_data_root(), "volumes")


@contextlib.contextmanager
def _locked(root: str) -> Iterator[None]:
    os.makedirs(root, mode=0o700, exist_ok=True)
    with locked(os.path.join(root, ".lock")):
        yield


class Volume:
    """A named volume; obtain one from :meth:`create`, :meth:`get` or :meth:`list`."""

    def __init__(self, name: str, root: str, meta: dict[str, Any]) -> None:
        self.name = name
        self._root = root
        self._meta = meta

    def __repr__(self) -> str:
        return f"<Volume {self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Volume) and (self.name, self._root) == (other.name, other._root)

    def __hash__(self) -> int:
        return hash((self.name, self._root))

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        data_root: str | None = None,
        exist_ok: bool = False,
        anonymous: bool = False,
    ) -> Volume:
        """Create the volume ``name`` (None: a random 64-hex name).

        An existing volume is an error unless ``exist_ok`` (then it is returned as is).
        """
        name = check_volume_name(name) if name is not None else os.urandom(32).hex()
        root = volumes_root(data_root)
        with _locked(root):
            vdir = os.path.join(root, name)
            if os.path.isdir(vdir):
                if exist_ok:
                    return cls._read(name, root)
                raise VolumeError(f"volume {name} already exists")
            import shutil  # not at the top: every container start imports this module

            tmp = os.path.join(root, f".{name}.tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                os.makedirs(os.path.join(tmp, _DATA), mode=0o755)
                os.chmod(tmp, 0o701)
                meta = {
                    "Name": name,
                    "Driver": "local",
                    "Mountpoint": os.path.join(vdir, _DATA),
                    "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "Labels": {str(k): str(v) for k, v in (labels or {}).items()},
                    "Scope": "local",
                    "Options": {},
                    "Anonymous": anonymous,
                    "Populated": False,
                }
                write_atomic(os.path.join(tmp, _META), json.dumps(meta, indent=1).encode())
                os.rename(tmp, vdir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        log.info("volume.created", name=name, anonymous=anonymous)
        from pycontainers.events import record

        record("volume", "create", name, {"driver": "local"})
        return cls(name, root, meta)

    @classmethod
    def get(cls, name: str, *, data_root: str | None = None) -> Volume:
        """The existing volume ``name``; :class:`VolumeError` if there is none."""
        check_volume_name(name)
        return cls._read(name, volumes_root(data_root))

    @classmethod
    def _read(cls, name: str, root: str) -> Volume:
        path = os.path.join(root, name, _META)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError as exc:
            raise VolumeError(f"no such volume: {name}", errno=exc.errno, path=path) from None
        try:
            meta = json.loads(raw)
            if not isinstance(meta, dict) or meta.get("Name") != name:
                raise ValueError("not the metadata of this volume")
            if not isinstance(meta.get("Labels", {}), dict):
                raise ValueError("Labels is not an object")
        except ValueError as exc:
            raise VolumeError(
                f"corrupt metadata of volume {name} ({path}): {exc}; "
                f"remove the directory {os.path.dirname(path)} to drop it",
                path=path,
            ) from None
        return cls(name, root, meta)

    @classmethod
    def list(
        cls, *, data_root: str | None = None, labels: Mapping[str, str | None] | None = None
    ) -> list[Volume]:
        """Every volume, sorted by name; ``labels`` keeps those with each label (a value of
        None: any value). A volume with corrupt metadata is logged and left out.
        """
        root = volumes_root(data_root)
        try:
            names = sorted(n for n in os.listdir(root) if not n.startswith("."))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            try:
                vol = cls._read(name, root)
            except VolumeError as exc:
                log.warning("volume.unreadable", name=name, error=str(exc))
                continue
            have = vol.labels
            if all(k in have and (v is None or have[k] == v) for k, v in (labels or {}).items()):
                out.append(vol)
        return out

    # -- properties ---------------------------------------------------------------------

    @property
    def mountpoint(self) -> str:
        """The directory containers bind (``<data root>/volumes/<name>/_data``)."""
        return os.path.join(self._root, self.name, _DATA)

    @property
    def labels(self) -> dict[str, str]:
        """The volume's labels."""
        return dict(self._meta.get("Labels") or {})

    @property
    def anonymous(self) -> bool:
        """Whether the volume was made for one container without a name."""
        return bool(self._meta.get("Anonymous"))

    def inspect(self) -> dict[str, Any]:
        """Docker's ``volume inspect`` fields: Name, Driver, Mountpoint, CreatedAt,
        Labels, Scope, Options (and ``Anonymous``).
        """
        out = {k: v for k, v in self._meta.items() if k != "Populated"}
        out["Mountpoint"] = self.mountpoint
        return out

    def users(self, *, state_root: str | None = None) -> builtins.list[str]:
        """The ids of the containers that use the volume (see the module's docstring)."""
        return _users(self.mountpoint, state_root)

    # -- removal ------------------------------------------------------------------------

    def remove(self, *, force: bool = False, state_root: str | None = None) -> None:
        """Remove the volume and its data; refused while a container uses it unless
        ``force`` (then the containers keep the directory they have mounted, now unlinked).
        """
        with _locked(self._root):
            users = [] if force else self.users(state_root=state_root)
            if users:
                short = ", ".join(u[:12] for u in users)
                raise VolumeError(f"volume {self.name} is in use by container(s) {short}")
            vdir = os.path.join(self._root, self.name)
            if not os.path.isdir(vdir):
                raise VolumeError(f"no such volume: {self.name}")
            gone = os.path.join(self._root, f".{self.name}.rm-{os.getpid()}")
            os.rename(vdir, gone)  # atomic: never half a volume under its name
        import shutil

        shutil.rmtree(gone, ignore_errors=True)
        log.info("volume.removed", name=self.name)
        from pycontainers.events import record

        record("volume", "destroy", self.name, {"driver": "local"})

    @classmethod
    def prune(
        cls,
        *,
        all: bool = False,
        data_root: str | None = None,
        state_root: str | None = None,
        labels: Mapping[str, str | None] | None = None,
    ) -> builtins.list[str]:
        """Remove unused volumes and return their names: anonymous ones only (Docker 23+'s
        default), or every unused one with ``all``.
        """
        removed = []
        for vol in cls.list(data_root=data_root, labels=labels):
            if not (all or vol.anonymous):
                continue
            try:
                vol.remove(state_root=state_root)
            except VolumeError as exc:
                log.debug("volume.kept", name=vol.name, reason=str(exc))
                continue
            removed.append(vol.name)
        return removed

    # -- first use ----------------------------------------------------------------------

    def _populate(self, layers: tuple[str, ...], target: str) -> None:
        """Copy what ``layers`` (top-most first) hold at ``target`` into the volume, once:
        only while it has never been populated and is still empty.
        """
        with _locked(self._root):
            fresh = Volume._read(self.name, self._root)._meta
            if fresh.get("Populated"):
                return
            data = self.mountpoint
            if not os.listdir(data) and layers:
                _copy_image_path(layers, target, data)
            fresh["Populated"] = True
            write_atomic(
                os.path.join(self._root, self.name, _META), json.dumps(fresh, indent=1).encode()
            )
            self._meta = fresh


def _copy_image_path(layers: tuple[str, ...], target: str, dest: str) -> None:
    """Copy the directory ``target`` of the merged ``layers`` into ``dest`` (not a directory
    there, or missing: nothing is copied). Whiteouts and opaque directories are honoured by
    reading through a read-only overlay of the layers.
    """
    from pycontainers.runtime._tree import extract, open_in_root, tar_tree

    with _merged(layers) as root_fd:
        try:
            src = open_in_root(root_fd, target, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return
            raise
        dfd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            n = extract(dfd, tar_tree(src, ".", "."), special_files=True)
            top = os.fstat(src)  # the volume's root takes the image directory's owner too
            os.fchown(dfd, top.st_uid, top.st_gid)
            os.fchmod(dfd, top.st_mode & 0o7777)
        finally:
            os.close(src)
            os.close(dfd)
    log.info("volume.populated", target=target, entries=n)


@contextlib.contextmanager
def _merged(layers: tuple[str, ...]) -> Iterator[int]:
    """An fd of the layers' merged tree: one layer as it is, more as a detached overlay."""
    if len(layers) == 1:
        fd = os.open(layers[0], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    else:
        from pycontainers.fs.overlay import detached_overlay

        fd = detached_overlay(layers)
    try:
        yield fd
    finally:
        os.close(fd)


def _users(data_dir: str, state_root: str | None) -> list[str]:
    from pycontainers.runtime import state as st

    root = state_root or st.default_state_root()
    try:
        want = os.stat(data_dir)
    except FileNotFoundError:
        return []
    key = (want.st_dev, want.st_ino)
    users = []
    for cid in st.container_ids(root):
        if _uses(os.path.join(root, cid), key, data_dir):
            users.append(cid)
    return users


def _uses(state_dir: str, key: tuple[int, int], data_dir: str) -> bool:
    from pycontainers.errors import ContainerError
    from pycontainers.runtime import state as st
    from pycontainers.runtime._tree import mountpoints
    from pycontainers.runtime.specfile import load_spec

    try:
        s = st.read_state(state_dir)
    except ContainerError:
        return False  # removed meanwhile, or unreadable: `rm -f` / prune deal with it
    if s.status in ("creating", "created", "running", "paused") and st.proc_alive(
        s.pid, s.starttime
    ):
        try:
            points = mountpoints(s.pid)
        except OSError:
            points = set()
        for point in points:
            with contextlib.suppress(OSError):
                found = os.stat(f"/proc/{s.pid}/root{point}")
                if (found.st_dev, found.st_ino) == key:
                    return True
        if s.status == "creating":
            return True  # mounts not made yet: count it, to be safe
    if s.monitored:
        try:
            spec, _ = load_spec(state_dir)
        except ContainerError:
            return False
        return any(m.type == "bind" and m.source == data_dir for m in spec.mounts)
    return False


# -- resolving a spec's mounts -----------------------------------------------------------

_SHARED_PROPAGATION = ("rslave", "slave", "rshared", "shared")


def resolve_mounts(spec: ContainerSpec) -> ContainerSpec:
    """Make ``spec``'s mounts runnable: check bind sources (create them where asked),
    turn volume mounts into binds of the volume's directory (created and populated from the
    rootfs on first use), and let a bind with slave or shared propagation receive the
    host's mounts (the rootfs becomes ``rslave``, as Docker does). A spec without such
    mounts comes back unchanged.

    Every bind source is checked before any volume is made, so a bad mount leaves nothing.
    """
    import attrs

    if not any(m.type in ("volume", "bind") for m in spec.mounts):
        return spec
    for m in spec.mounts:
        if m.type == "bind" and not m.create:
            assert m.source is not None
            if not os.path.lexists(m.source):
                raise SpecError(
                    "Mount.source",
                    f"bind source path {m.source} does not exist; create it, or pass "
                    "create=True to have it made",
                    errno=errno.ENOENT,
                    path=m.source,
                )
    out: list[Mount] = []
    propagation = spec.rootfs_propagation
    for m in spec.mounts:
        if m.type == "bind":
            if m.create and not os.path.lexists(m.source or ""):  # a file or node: as it is
                assert m.source is not None
                os.makedirs(m.source, mode=0o755, exist_ok=True)
            if propagation == "rprivate" and any(o in _SHARED_PROPAGATION for o in m.options):
                propagation = "rslave"
            out.append(m)
        elif m.type == "volume":
            out.append(_volume_bind(m, spec))
        else:
            out.append(m)
    return attrs.evolve(spec, mounts=tuple(out), rootfs_propagation=propagation)


def _volume_bind(m: Mount, spec: ContainerSpec) -> Mount:
    from pycontainers.spec import Mount, OverlayRootfs

    if m.source is None:
        vol = Volume.create(anonymous=True)
    else:
        vol = Volume.create(m.source, exist_ok=True)
    if "nocopy" not in m.options and not vol._meta.get("Populated"):
        rootfs = spec.rootfs
        layers: tuple[str, ...] = ()
        if isinstance(rootfs, OverlayRootfs):
            layers = tuple(rootfs.lowers)
        elif isinstance(rootfs, str) and rootfs != "host":
            layers = (rootfs,)
        vol._populate(layers, m.normalized_target)
    return Mount(
        m.target,
        source=vol.mountpoint,
        type="bind",
        options=tuple(o for o in m.options if o != "nocopy"),
        read_only=m.read_only,
    )


__all__ = ["Volume", "VolumeError", "check_volume_name", "resolve_mounts", "volumes_root"]
