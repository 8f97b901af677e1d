"""COPY, ADD and WORKDIR: files written into the stage's rootfs through an overlay that
exists only as an fd, each destination resolved inside that root (its symlinks stay in it);
the changes become a layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import attrs

from pycontainers.builder.context import BuildContext, ContextPathError
from pycontainers.builder.copying import SourceTree, context_tree, tar_entries
from pycontainers.builder.ignore import IgnoreMatcher
from pycontainers.builder.parse import Heredoc, Instruction
from pycontainers.builder.rootfs import (
    exists_in_root,
    lowers_for,
    mkdirs_in_root,
    mounted,
    read_in_root,
)
from pycontainers.builder.state import StageState, step_key
from pycontainers.builder.steps import expand, fail
from pycontainers.errors import BuildError, ContainerError

if TYPE_CHECKING:
    from pycontainers.builder.progress import Step
    from pycontainers.builder.stages import Builder

__all__ = ["copy_instruction", "workdir_instruction"]


@attrs.frozen
class _Archive:
    """A local tar that ADD extracts into the destination."""

    path: str
    digest: str


def _owner(b: Builder, inst: Instruction, state: StageState, spec: str) -> tuple[int, int]:
    user, _, group = spec.partition(":")
    if user.isdigit() and (not group or group.isdigit()):
        return int(user), int(group or user)
    layers = lowers_for(b.store, state.layers, b.workspace)
    with mounted(layers) as root:
        passwd = read_in_root(root, "/etc/passwd")
        groups = read_in_root(root, "/etc/group")

    def lookup(text: str, name: str, what: str) -> tuple[int, int]:
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[0] == name:
                gid = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else int(parts[2])
                return int(parts[2]), gid
        raise fail(b, inst, f"{inst.cmd} --chown={spec}: no {what} {name!r} in the image's "
                   f"/etc/{'passwd' if what == 'user' else 'group'}")  # fmt: skip

    uid = int(user) if user.isdigit() else lookup(passwd, user, "user")[0]
    if not group:
        return uid, uid if user.isdigit() else lookup(passwd, user, "user")[1]
    gid = int(group) if group.isdigit() else lookup(groups, group, "group")[0]
    return uid, gid


def _chmod(b: Builder, inst: Instruction, spec: str) -> int:
    try:
        mode = int(spec, 8)
    except ValueError:
        raise fail(b, inst, f"{inst.cmd} --chmod={spec}: expected an octal mode") from None
    if not 0 <= mode <= 0o7777:
        raise fail(b, inst, f"{inst.cmd} --chmod={spec}: expected an octal mode")
    return mode


def _is_archive(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _download(b: Builder, inst: Instruction, url: str, checksum: str | None) -> bytes:
    import httpx

    try:
        response = httpx.get(url, timeout=15.0, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise fail(b, inst, f"ADD {url}: cannot download it ({exc}); the build needs the "
                   "network, or copy the file into the context") from None  # fmt: skip
    data = response.content
    if checksum is not None:
        algo, _, want = checksum.partition(":")
        if algo != "sha256" or not want:
            raise fail(b, inst, f"ADD --checksum={checksum}: expected sha256:<hex>")
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise fail(b, inst, f"ADD {url}: checksum mismatch: expected sha256:{want}, got "
                       f"sha256:{got}")  # fmt: skip
    return data


def _source_context(b: Builder, root_fd: int) -> BuildContext:
    return BuildContext(Path(f"/proc/self/fd/{root_fd}"), IgnoreMatcher(), "", b.dockerfile.path,
                        rooted=True)  # fmt: skip


def copy_instruction(b: Builder, inst: Instruction, state: StageState, step: Step) -> None:
    """Execute (or find in the cache) one COPY or ADD and put its layer on ``state``."""
    words = [expand(b, inst, w, state) for w in inst.args if w]
    dest = words[-1]
    sources = words[:-1]
    cwd = state.config.get("WorkingDir") or "/"
    dest_path = posixpath.normpath(posixpath.join(cwd, dest)) if dest else cwd
    dest_is_dir = dest.endswith("/") or dest in (".", "")
    chown = inst.flag("chown")
    owner = _owner(b, inst, state, expand(b, inst, chown, state)) if chown else None
    chmod_flag = inst.flag("chmod")
    chmod = _chmod(b, inst, chmod_flag) if chmod_flag else None
    origin = inst.flag("from")
    if origin and inst.cmd == "ADD":
        raise fail(b, inst, "ADD does not take --from (use COPY --from)")
    excludes = IgnoreMatcher.from_text("\n".join(inst.flag_values("exclude")))
    parents = inst.flag("parents") == "true"
    docs = {d.name: d for d in inst.heredocs}
    if len(sources) > 1 and not dest_is_dir:
        raise fail(b, inst, f"When using {inst.cmd} with more than one source file, the "
                   "destination must be a directory and end with a /")  # fmt: skip
    link = (inst.flag("link") or "false").lower() in ("true", "1", "")
    if origin:
        src_layers = b.source_layers(inst, expand(b, inst, origin, state))
        with mounted(lowers_for(b.store, src_layers, b.workspace)) as src_root:
            ctx = _source_context(b, src_root)
            tree, archives, dest_is_dir = _gather(b, inst, state, ctx, sources, docs, dest,
                                                  dest_is_dir, owner, chmod, excludes, parents)  # fmt: skip
            digest = tree.digest()
            created_by = f"{inst.cmd} --from={origin} {' '.join(sources)} {dest} # buildkit"
            _layer(b, inst, state, step, created_by, link, digest, tree, archives, dest_path,
                   dest_is_dir, chown, owner, chmod)  # fmt: skip
        return
    tree, archives, dest_is_dir = _gather(b, inst, state, b.context, sources, docs, dest,
                                          dest_is_dir, owner, chmod, excludes, parents)  # fmt: skip
    digest = tree.digest() + "".join(a.digest for a in archives)
    created_by = f"{inst.cmd} {' '.join(sources)} {dest} # buildkit"
    _layer(b, inst, state, step, created_by, link, digest, tree, archives, dest_path,
           dest_is_dir, chown, owner, chmod)  # fmt: skip


def _layer(b: Builder, inst: Instruction, state: StageState, step: Step, created_by: str,
           link: bool, digest: str, tree: SourceTree, archives: list[_Archive],
           dest_path: str, dest_is_dir: bool, chown: str | None,
           owner: tuple[int, int] | None, chmod: int | None) -> None:  # fmt: skip
    """The step's layer from the cache, else written. A ``--link`` layer holds only the
    copied files, written on an empty root: its key leaves out the parent's (so the layer
    is reused when the base changes), while later steps still key on the whole stack.
    """
    if link:
        key = step_key("", f"{inst.cmd} --link", dest_path, dest_is_dir, owner, chmod, digest)
        state.key = step_key(state.key, "link", key)
    else:
        key = step_key(state.key, inst.cmd, dest_path, dest_is_dir, chown, chmod, digest)
        state.key = key
    if b.reuse(state, key, created_by, step):
        return
    _write(b, inst, state, key, created_by, tree, archives, dest_path, dest_is_dir, owner,
           link=link)  # fmt: skip


def _gather(b: Builder, inst: Instruction, state: StageState, ctx: BuildContext,
            sources: list[str], docs: dict[str, Heredoc], dest: str, dest_is_dir: bool,
            owner: tuple[int, int] | None, chmod: int | None, excludes: IgnoreMatcher,
            parents: bool) -> tuple[SourceTree, list[_Archive], bool]:  # fmt: skip
    tree = SourceTree()
    archives: list[_Archive] = []
    # (path as named — below the pivot with --parents —, with its symlinks resolved, pivot)
    matches: list[tuple[str, str, str]] = []
    for src in sources:
        if src.startswith("<<"):
            name = src[2:].lstrip("-").strip("'\"")
            doc = docs.get(name)
            if doc is None:
                raise fail(b, inst, f"{inst.cmd}: no heredoc named {name!r}")
            content = doc.content
            if doc.expand:
                from pycontainers.builder.expand import expand_word

                content = expand_word(content, state.expansion_env(), raw_quotes=True)
            target = name if dest_is_dir else posixpath.basename(dest)
            tree.add_data(target, content.encode(), mode=chmod if chmod is not None else 0o644,
                          owner=owner, mtime=b.epoch or 0)  # fmt: skip
            continue
        if inst.cmd == "ADD" and src.startswith(("http://", "https://")):
            data = _download(b, inst, src, inst.flag("checksum"))
            base = posixpath.basename(src.split("?")[0].rstrip("/")) or "index.html"
            target = base if dest_is_dir else posixpath.basename(dest)
            tree.add_data(target, data, mode=chmod if chmod is not None else 0o600, owner=owner,
                          mtime=b.epoch or 0)  # fmt: skip
            continue
        pivot, pattern = _pivot(src) if parents else ("", src)
        try:
            found = ctx.glob(pattern, line=inst.line)
        except ContextPathError as exc:
            where = f"stage {inst.flag('from')}" if inst.flag("from") else "the build context"
            raise fail(
                b, inst, f"{inst.cmd} {exc.reason}".replace("the build context", where)
            ) from None
        for named, real in found:
            below = named[len(pivot) :].lstrip("/") if parents else posixpath.basename(named)
            # a directory's own name is not copied (without --parents): not matched
            if (parents or not ctx.path(real).is_dir()) and excludes.ignored(below):
                continue
            matches.append((below if parents else named, real, pivot))
    if (len(matches) > 1 or (matches and tree.entries)) and not dest_is_dir:
        raise fail(b, inst, f"When using {inst.cmd} with more than one source file, the "
                   "destination must be a directory and end with a /")  # fmt: skip
    excluded = excludes.ignored if excludes.patterns else None
    made: set[str] = set()
    for named, rel, pivot in matches:
        host = ctx.path(rel)
        is_dir = host.is_dir() and not host.is_symlink()
        if parents:
            _parent_dirs(b, inst, ctx, tree, pivot, named, made, owner=owner, chmod=chmod)
        if inst.cmd == "ADD" and not is_dir and host.is_file() and _is_archive(host):
            h = hashlib.sha256()
            with open(host, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            archives.append(_Archive(str(host), h.hexdigest()))
            dest_is_dir = True
            continue
        if is_dir:
            name = named if parents else ""
            context_tree(ctx, rel, name, owner=owner, chmod=chmod, tree=tree,
                         contents_only=not parents, exclude=excluded)  # fmt: skip
            dest_is_dir = True
        else:
            name = named if parents else posixpath.basename(named)
            if not dest_is_dir:
                name = posixpath.basename(dest)
            context_tree(ctx, rel, name, owner=owner, chmod=chmod, tree=tree, contents_only=False)
    return tree, archives, dest_is_dir


def _pivot(src: str) -> tuple[str, str]:
    """``COPY --parents``' pivot: in ``a/./b/c`` the parents kept start after ``a`` — the
    (context path dropped, glob pattern) of a source.
    """
    path = src
    while path.startswith("./"):
        path = path[2:]
    head, sep, tail = path.partition("/./")
    if not sep:
        return "", path
    return posixpath.normpath(head), f"{head}/{tail}"


def _parent_dirs(b: Builder, inst: Instruction, ctx: BuildContext, tree: SourceTree,
                 pivot: str, named: str, made: set[str], *, owner: tuple[int, int] | None,
                 chmod: int | None) -> None:  # fmt: skip
    """The directories above ``named`` (kept by ``--parents``), as they are in the context."""
    parts = named.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        below = "/".join(parts[:i])
        if below in made:
            continue
        made.add(below)
        rel = ctx.resolve(posixpath.join(pivot, below) if pivot else below, line=inst.line)
        tree.add_path(str(ctx.root), below, [(rel, os.lstat(ctx.path(rel)))], base=rel,
                      owner=owner, chmod=None)  # fmt: skip


def _write(b: Builder, inst: Instruction, state: StageState, key: str, created_by: str,
           tree: SourceTree, archives: list[_Archive], dest_path: str, dest_is_dir: bool,
           owner: tuple[int, int] | None, *, link: bool = False) -> None:  # fmt: skip
    from pycontainers.runtime._tree import extract

    upper, work = b.workspace.layer_dirs()
    layers = [] if link else lowers_for(b.store, state.layers, b.workspace)
    try:
        with mounted(layers, upper, work) if layers else _directory(upper) as root:
            target = dest_path if dest_is_dir else posixpath.dirname(dest_path)
            uid, gid = owner if owner is not None and dest_is_dir else (0, 0)
            try:
                dfd = mkdirs_in_root(root, target, uid=uid, gid=gid)
            except (OSError, BuildError) as exc:
                raise fail(b, inst, f"{inst.cmd}: destination {target}: {exc}") from None
            try:
                clamp = (lambda t: min(t, b.epoch)) if b.epoch is not None else (lambda t: t)
                extract(dfd, tar_entries(tree.entries, clamp=clamp))
                for archive in archives:
                    _extract_archive(b, inst, dfd, archive)
            except ContainerError as exc:
                raise fail(b, inst, f"{inst.cmd}: {exc}") from None
            finally:
                os.close(dfd)
        b.commit_layer(state, key, created_by, upper)
    finally:
        b.workspace.release(upper)


@contextlib.contextmanager
def _directory(path: str) -> Iterator[int]:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _extract_archive(b: Builder, inst: Instruction, dfd: int, archive: _Archive) -> None:
    from pycontainers.runtime._tree import extract

    try:
        extract(dfd, _decompressed(archive.path))
    except (OSError, EOFError, ValueError) as exc:
        raise fail(b, inst, f"ADD {archive.path}: not a readable tar archive: {exc}") from None


def _decompressed(path: str) -> Iterator[bytes]:
    import bz2
    import gzip
    import lzma

    with open(path, "rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        stream: IO[bytes] | gzip.GzipFile
        if head[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=raw)
        elif head[:3] == b"BZh":
            stream = bz2.BZ2File(raw)
        elif head[:6] == b"\xfd7zXZ\x00":
            stream = lzma.LZMAFile(raw)  # noqa: SIM115 (closed with raw)
        else:
            stream = raw
        while chunk := stream.read(1 << 20):
            yield chunk


def workdir_instruction(b: Builder, inst: Instruction, state: StageState, step: Step) -> None:
    """WORKDIR: set the config's directory; make it (a layer) if the rootfs lacks it."""
    path = expand(b, inst, inst.args[0], state)
    cwd = state.config.get("WorkingDir") or "/"
    full = posixpath.normpath(posixpath.join(cwd, path))
    state.config["WorkingDir"] = full
    key = step_key(state.key, "WORKDIR", full)
    state.key = key
    created_by = f"WORKDIR {full}"
    # a layer cached under this key means the same parent lacked the directory: no need
    # to mount the rootfs to look
    if b.reuse(state, key, created_by, step):
        return
    layers = lowers_for(b.store, state.layers, b.workspace)
    with mounted(layers) as root:
        present = exists_in_root(root, full)
    if present:
        state.add_history(created_by, empty_layer=True, created=b.created(state))
        return
    upper, work = b.workspace.layer_dirs()
    try:
        with mounted(layers, upper, work) as root:
            os.close(mkdirs_in_root(root, full))
        b.commit_layer(state, key, created_by, upper)
    finally:
        b.workspace.release(upper)
