"""``POST /build``: a tar context in the body, Docker's query parameters, the builder
(:func:`pycontainers.build`) in a worker thread, and Docker's JSON stream back —
``{"stream": ...}`` lines of progress, ``{"aux": {"ID": ...}}`` with the image, or
``{"errorDetail": ..., "error": ...}`` when the build fails (the status is 200 by then).

This is the classic ("legacy", API ``version=1``) build protocol. BuildKit's session
protocol (``version=2``: gRPC over a hijacked ``/session``) is refused with a message
naming ``DOCKER_BUILDKIT=0``; so are its build secrets, which only that session carries.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from aiohttp import web

from pycontainers.api.context import daemon, qbool
from pycontainers.api.errors import bad_request

if TYPE_CHECKING:
    from pycontainers.api.images import _Progress

__all__ = ["BuildParams", "build"]

# Parameters the docker CLI and docker-py send with their zero value on every build; a
# value other than zero asks for a limit this builder does not apply, so it is refused.
_UNSUPPORTED_IF_SET = (
    "cpusetcpus",
    "cpusetmems",
    "cpushares",
    "cpuquota",
    "cpuperiod",
    "memory",
    "memswap",
    "shmsize",
    "cgroupparent",
    "isolation",
    "extrahosts",
    "squash",
    "remote",
    "session",
)
_NETWORK_MODES = frozenset({"", "default", "bridge", "host"})


class BuildParams:
    """The query of a ``POST /build`` checked and converted (a 400 names the bad one)."""

    def __init__(self, request: web.Request) -> None:
        q = request.query
        if q.get("version", "1") not in ("", "1"):
            raise bad_request(
                "this daemon has the classic builder only (API build version 1), not "
                "BuildKit: build with DOCKER_BUILDKIT=0 (or docker-py, which uses version 1)"
            )
        for name in _UNSUPPORTED_IF_SET:
            value = q.get(name, "")
            if value not in ("", "0", "false", "null", "[]", "{}", "default"):
                raise bad_request(f"build parameter {name}={value!r} is not supported")
        self.tags: list[str] = [t for t in q.getall("t", []) if t]
        self.dockerfile = q.get("dockerfile") or "Dockerfile"
        self.build_args = {
            k: v for k, v in _json_map(q.get("buildargs"), "buildargs").items() if v is not None
        }
        self.labels = {
            k: v for k, v in _json_map(q.get("labels"), "labels").items() if v is not None
        }
        self.target = q.get("target") or None
        self.no_cache = qbool(request, "nocache")
        self.quiet = qbool(request, "q")
        qbool(request, "rm", True)  # intermediate containers never outlive their step
        qbool(request, "forcerm")
        qbool(request, "pull")  # a missing base image is pulled; a present one is used
        self.cache_from = _json_list(q.get("cachefrom"), "cachefrom")
        network = q.get("networkmode", "")
        if network not in _NETWORK_MODES:
            raise bad_request(
                f"networkmode={network!r} is not supported: RUN steps use the host's "
                "network (default, bridge, host); use RUN --network=none for none"
            )
        platform = q.get("platform", "")
        if platform:
            from pycontainers.images.image import host_platform

            host = host_platform()
            names = {f"{host.os}/{host.architecture}", host.os}
            if host.variant:
                names.add(f"{host.os}/{host.architecture}/{host.variant}")
            if platform not in names:
                raise bad_request(
                    f"platform {platform!r} is not supported: this daemon builds for "
                    f"{host.os}/{host.architecture} only"
                )
        from pycontainers.images import Reference

        for t in self.tags:
            try:
                Reference.parse(t)
            except ValueError as exc:
                raise bad_request(f"invalid tag {t!r}: {exc}") from None
        for ref in self.cache_from:
            try:
                Reference.parse(ref)
            except ValueError as exc:
                raise bad_request(f"invalid cachefrom {ref!r}: {exc}") from None


def _json_map(raw: str | None, name: str) -> dict[str, str | None]:
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {exc}") from None
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in doc.items()
    ):
        raise bad_request(f"invalid {name}: expected a JSON object of strings")
    return doc


def _json_list(raw: str | None, name: str) -> list[str]:
    if not raw:
        return []
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {exc}") from None
    if not isinstance(doc, list) or not all(isinstance(v, str) for v in doc):
        raise bad_request(f"invalid {name}: expected a JSON list of strings")
    return doc


class _StreamLines(io.TextIOBase):
    """A text stream whose writes become ``{"stream": ...}`` lines (the builder's plain
    progress goes here).
    """

    def __init__(self, progress: _Progress) -> None:
        self._progress = progress

    def write(self, text: str) -> int:
        if text:
            self._progress.send({"stream": text})
        return len(text)

    def isatty(self) -> bool:
        return False


_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def _complete_tar(path: str) -> None:
    """Give an uncompressed tar its end: the docker CLI's context with ``-f`` outside the
    context (its Dockerfile and a ``.dockerignore`` appended by the CLI) ends right after
    the last member's data, with neither the block padding nor the two zero blocks that
    end an archive (Go's tar reader takes that as the end; ours wants the blocks).
    """
    with open(path, "r+b") as f:
        if f.read(6).startswith(_COMPRESSED):
            return
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.write(b"\0" * ((-size) % 512 + 1024))


def _dockerfile_in(root: str, name: str) -> str:
    """``name`` inside the unpacked context ``root``; it may not lead out of it."""
    real_root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(real_root, name.lstrip("/")))
    if os.path.commonpath([real_root, path]) != real_root:
        from pycontainers.errors import BuildError

        raise BuildError(f"the Dockerfile {name!r} is outside the build context")
    return path


async def build(request: web.Request) -> web.StreamResponse:
    """POST /build: build the tar context of the body (Docker's JSON stream back)."""
    from pycontainers.api.images import _stream_job
    from pycontainers.paths import default_data_root

    d = daemon(request)
    params = BuildParams(request)
    scratch = os.path.join(d.data_root or default_data_root(), "build", "tmp")
    os.makedirs(scratch, exist_ok=True)
    fd, tar_path = tempfile.mkstemp(prefix="api-context-", suffix=".tar", dir=scratch)
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in request.content.iter_chunked(1 << 20):
                await d.call(f.write, chunk)
        await d.call(_complete_tar, tar_path)
    except BaseException:
        os.unlink(tar_path)
        raise

    def job(progress: _Progress) -> list[dict[str, Any]]:
        import pycontainers
        from pycontainers.builder.context import _unpack_tar

        root = tempfile.mkdtemp(prefix="api-context-", dir=scratch)
        try:
            _unpack_tar(tar_path, Path(root))
            os.unlink(tar_path)
            image = pycontainers.build(
                root,
                tag=params.tags,
                dockerfile=_dockerfile_in(root, params.dockerfile),
                build_args=params.build_args,
                target=params.target,
                no_cache=params.no_cache,
                labels=params.labels or None,
                cache_from=params.cache_from,
                progress="quiet" if params.quiet else "plain",
                progress_stream=cast(TextIO, _StreamLines(progress)),
                image_root=d.data_root,
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)
            if os.path.exists(tar_path):
                os.unlink(tar_path)
        image_id = str(image.id)
        for t in params.tags:
            d.events.publish("image", "tag", image_id, {"name": t})
        out: list[dict[str, Any]] = [{"aux": {"ID": image_id}}]
        if params.quiet:
            out.append({"stream": f"{image_id}\n"})
            return out
        out.append({"stream": f"Successfully built {image_id.removeprefix('sha256:')[:12]}\n"})
        from pycontainers.images import Reference

        out += [
            {"stream": f"Successfully tagged {Reference.parse(t).familiar}\n"} for t in params.tags
        ]
        return out

    return await _stream_job(request, job)
