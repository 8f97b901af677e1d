"""The build context: a directory, or a tar (a file or stdin) unpacked to a private one,
seen through its ``.dockerignore``; and the Dockerfile, which may lie outside it.

Sources of COPY/ADD are resolved inside the context only: ``../x`` and symlinks that lead
out (absolute ones included) are errors, never followed to the host.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import posixpath
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pycontainers.builder.ignore import IgnoreMatcher
from pycontainers.errors import BuildError

__all__ = ["BuildContext"]

ContextPathError = BuildError  # a source path leads outside the context, or is not in it


class BuildContext:
    """A context directory and its ignore rules; a tar context is unpacked first.

    Use as a context manager: a context unpacked from a tar is removed after.
    """

    def __init__(self, root: Path, ignore: IgnoreMatcher, dockerfile_text: str,
                 dockerfile_name: str, temporary: Path | None = None, *,
                 rooted: bool = False) -> None:  # fmt: skip
        self.root = root
        self.rooted = rooted  # a rootfs: absolute symlinks restart at its root
        self.ignore = ignore
        self.dockerfile_text = dockerfile_text
        self.dockerfile_name = dockerfile_name
        self._temporary = temporary

    @classmethod
    def open(
        cls,
        source: str | os.PathLike[str],
        dockerfile: str | os.PathLike[str] | None = None,
        *,
        scratch: str | os.PathLike[str] | None = None,
    ) -> BuildContext:
        """The context ``source`` (a directory, a tar file, or ``"-"`` for a tar on stdin)
        with the Dockerfile ``dockerfile`` (a path, default ``Dockerfile`` in the context;
        ``"-"`` reads it from stdin). A tar is unpacked below ``scratch``.
        """
        temporary: Path | None = None
        src = os.fspath(source)
        if src == "-" or os.path.isfile(src):
            base = Path(scratch or tempfile.gettempdir())
            base.mkdir(parents=True, exist_ok=True)
            temporary = Path(tempfile.mkdtemp(prefix="context-", dir=base))
            try:
                _unpack_tar(src, temporary)
            except BaseException:
                shutil.rmtree(temporary, ignore_errors=True)
                raise
            root = temporary
        else:
            root = Path(src).absolute()
            if not root.is_dir():
                raise BuildError(f"build context {src}: no such directory or tar file")
        try:
            name, text = _read_dockerfile(root, dockerfile)
            ignore_text = ""
            ignore_file = root / ".dockerignore"
            if ignore_file.is_file() and not ignore_file.is_symlink():
                ignore_text = ignore_file.read_text(errors="replace")
        except BaseException:
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
            raise
        return cls(root, IgnoreMatcher.from_text(ignore_text), text, name, temporary)

    def close(self) -> None:
        """Remove a context unpacked from a tar."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def __enter__(self) -> BuildContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sources --------------------------------------------------------------------------

    def clean(self, path: str, *, line: int = 0) -> str:
        """``path`` relative to the context root (``""`` for the root); ``../`` that leaves
        the context is a :class:`ContextPathError`.
        """
        norm = posixpath.normpath(path.replace("\\", "/")) if path else "."
        if norm.startswith("/"):
            norm = norm.lstrip("/") or "."
        if norm == ".." or norm.startswith("../"):
            raise ContextPathError(
                f"{path}: forbidden path outside the build context",
                dockerfile=self.dockerfile_name,
                line=line,
            )
        return "" if norm == "." else norm

    def resolve(self, rel: str, *, line: int = 0) -> str:
        """``rel`` with its symlinks followed inside the context; a symlink that leads out
        (absolute, or up past the root) is a :class:`ContextPathError`.
        """
        parts = [p for p in rel.split("/") if p]
        done: list[str] = []
        hops = 0
        while parts:
            name = parts.pop(0)
            if name == "..":
                if not done:
                    raise self._outside(rel, line)
                done.pop()
                continue
            if name == ".":
                continue
            here = self.root.joinpath(*done, name)
            if here.is_symlink():
                hops += 1
                if hops > 40:
                    raise ContextPathError(f"{rel}: too many levels of symbolic links",
                                           dockerfile=self.dockerfile_name, line=line)  # fmt: skip
                target = os.readlink(here)
                if target.startswith("/") and self.rooted:
                    done = []
                elif target.startswith("/"):
                    raise ContextPathError(
                        f"{rel}: symlink {'/'.join([*done, name])} -> {target} leads outside "
                        "the build context",
                        dockerfile=self.dockerfile_name,
                        line=line,
                    )
                parts = [p for p in target.split("/") if p] + parts
                continue
            done.append(name)
        return "/".join(done)

    def _outside(self, rel: str, line: int) -> ContextPathError:
        return ContextPathError(f"{rel}: a symlink leads outside the build context",
                                dockerfile=self.dockerfile_name, line=line)  # fmt: skip

    def visible(self, rel: str) -> bool:
        """Whether ``rel`` exists and is not left out by ``.dockerignore``."""
        return (not rel or not self.ignore.ignored(rel)) and os.path.lexists(self.root / rel)

    def glob(self, pattern: str, *, line: int = 0) -> list[tuple[str, str]]:
        """The context paths ``pattern`` (Go's ``filepath.Match`` per component) matches,
        sorted, as (path as named, path with its symlinks resolved inside the context).
        """
        rel = self.clean(pattern, line=line)
        if not any(c in rel for c in "*?["):
            real = self.resolve(rel, line=line)
            if not self.visible(real) or (rel and self.ignore.ignored(rel)):
                raise ContextPathError(f"{pattern}: not found in the build context",
                                       dockerfile=self.dockerfile_name, line=line)  # fmt: skip
            return [(rel, real)]
        found: list[str] = []
        self._match(rel.split("/"), "", found)
        found = [f for f in found if not self.ignore.ignored(f)]
        if not found:
            raise ContextPathError(f"{pattern}: no source files were specified (nothing "
                                   "in the context matches)", dockerfile=self.dockerfile_name,
                                   line=line)  # fmt: skip
        return [(f, self.resolve(f, line=line)) for f in sorted(found)]

    def _match(self, parts: list[str], base: str, found: list[str]) -> None:
        head, rest = parts[0], parts[1:]
        directory = self.root / base if base else self.root
        try:
            names = sorted(os.listdir(directory))
        except (NotADirectoryError, FileNotFoundError):
            return
        for name in names:
            if not fnmatch.fnmatchcase(name, head):
                continue
            path = f"{base}/{name}" if base else name
            if rest:
                if (directory / name).is_dir() and not (directory / name).is_symlink():
                    self._match(rest, path, found)
            else:
                found.append(path)

    def walk(self, rel: str) -> Iterator[tuple[str, os.stat_result]]:
        """``rel`` and (a directory) everything below it not ignored, sorted, as (context
        path, lstat); symlinks are not followed.
        """
        top = self.root / rel if rel else self.root
        st = os.lstat(top)
        yield rel, st
        if stat.S_ISDIR(st.st_mode):
            yield from self._walk_dir(rel)

    def _walk_dir(self, rel: str) -> Iterator[tuple[str, os.stat_result]]:
        directory = os.path.join(self.root, rel) if rel else os.fspath(self.root)
        for name in sorted(os.listdir(directory)):
            path = f"{rel}/{name}" if rel else name
            st = os.lstat(f"{directory}/{name}")
            if self.ignore.ignored(path):
                if stat.S_ISDIR(st.st_mode) and self.ignore.has_exclusions:
                    kept = list(self._walk_dir(path))
                    if kept:
                        yield path, st
                        yield from kept
                continue
            yield path, st
            if stat.S_ISDIR(st.st_mode):
                yield from self._walk_dir(path)

    def path(self, rel: str) -> Path:
        """The host path of the context path ``rel``."""
        return self.root / rel if rel else self.root


def _read_dockerfile(root: Path, dockerfile: str | os.PathLike[str] | None) -> tuple[str, str]:
    if dockerfile is not None and os.fspath(dockerfile) == "-":
        return "Dockerfile", sys.stdin.read()
    if dockerfile is None:
        path = root / "Dockerfile"
        if not path.exists() and (root / "dockerfile").exists():
            path = root / "dockerfile"
    else:
        given = Path(dockerfile)
        path = given if given.is_absolute() or given.exists() else root / given
    try:
        return os.fspath(path), path.read_text()
    except FileNotFoundError:
        raise BuildError(f"no Dockerfile at {path}", path=os.fspath(path)) from None
    except OSError as exc:
        raise BuildError(
            f"cannot read the Dockerfile {path}: {exc}", path=os.fspath(path)
        ) from None


def _unpack_tar(src: str, dest: Path) -> None:
    """Unpack a (maybe compressed) tar context safely below ``dest``."""
    from pycontainers.images._compress import uncompressed_chunks
    from pycontainers.runtime._tree import extract

    stream = sys.stdin.buffer if src == "-" else open(src, "rb")  # noqa: SIM115
    try:
        _, chunks = uncompressed_chunks(stream)
        fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            extract(fd, chunks)
        except Exception as exc:
            raise BuildError(f"build context {src}: {exc}") from None
        finally:
            os.close(fd)
    finally:
        if src != "-":
            with contextlib.suppress(OSError):
                stream.close()
