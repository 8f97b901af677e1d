"""Dockerfile builds: :func:`build` (``pycontainers.build``, ``Image.build``, the CLI's
``pycontainers build``).

A Dockerfile is parsed by moby's own parser (PyPI ``dockerfile``); each RUN runs in a
container made from the stage's layers through the engine's one fail-closed path, COPY and
ADD write through an overlay that exists only as an fd, and each layer step is cached in
the image store under a key of its parent's key, the instruction after expansion, the
digest of what it copies and the build args it sees.

>>> import pycontainers as pc
>>> image = pc.build("app/", tag="localhost/app:1", build_args={"V": "2"})  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TextIO

from pycontainers.errors import BuildError, SpecError
from pycontainers.images import Image, ImageStore

__all__ = ["BuildError", "build", "parse_output"]


def parse_output(spec: str) -> tuple[str, str]:
    """``type=oci,dest=FILE`` (or ``type=docker``) as (archive format, path)."""
    fields = dict(f.partition("=")[::2] for f in spec.split(",") if f)
    kind = fields.get("type", "oci")
    dest = fields.get("dest", "")
    formats = {"oci": "oci-archive", "docker": "docker-archive"}
    if kind not in formats or not dest:
        raise SpecError("output", f"expected type=oci|docker,dest=FILE, got {spec!r}")
    return formats[kind], dest


def _epoch(value: int | str | None) -> int | None:
    raw = value if value is not None else os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise SpecError("source_date_epoch", f"expected seconds since 1970, got {raw!r}") from None


def build(
    context: str | os.PathLike[str],
    *,
    tag: str | Iterable[str] | None = None,
    dockerfile: str | os.PathLike[str] | None = None,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    no_cache: bool = False,
    secrets: Mapping[str, str | os.PathLike[str]] | None = None,
    progress: str = "quiet",
    progress_stream: TextIO | None = None,
    labels: Mapping[str, str] | None = None,
    cache_from: Iterable[str] = (),
    output: str | None = None,
    iidfile: str | os.PathLike[str] | None = None,
    source_date_epoch: int | str | None = None,
    image_root: str | None = None,
    store: ImageStore | None = None,
) -> Image:
    """Build the Dockerfile of ``context`` and return the image (tagged ``tag``, one or more).

    ``context`` is a directory, a tar file or ``"-"`` (a tar on stdin); ``dockerfile`` a
    path (default ``Dockerfile`` in the context; it may lie outside). ``build_args`` feed
    ARG; ``target`` builds that stage (and only the stages it needs); ``no_cache`` runs
    every step; ``secrets`` maps ids to files for ``RUN --mount=type=secret``;
    ``progress`` is ``quiet``, ``plain``, ``tty`` or ``auto`` (to ``progress_stream``,
    default stderr); ``labels`` go on the image; ``cache_from`` names images whose layers
    may be reused; ``output`` (``type=oci|docker,dest=FILE``) also saves an archive;
    ``iidfile`` gets the image ID; ``source_date_epoch`` (default ``$SOURCE_DATE_EPOCH``)
    fixes timestamps for bit-for-bit reproducible layers. Raises :class:`BuildError`
    naming the Dockerfile line; a failed build leaves no container, mount or layer.
    """
    import attrs

    from pycontainers.builder.context import BuildContext
    from pycontainers.builder.progress import Progress
    from pycontainers.builder.stages import RESULT, Builder
    from pycontainers.images import Descriptor, Reference, default_store
    from pycontainers.paths import default_data_root

    data_root = image_root or default_data_root()
    image_store = store or default_store(image_root)
    tags = [tag] if isinstance(tag, str) else list(tag or ())
    refs = [Reference.parse(t) for t in tags]  # a bad tag fails before any work
    out = parse_output(output) if output else None
    epoch = _epoch(source_date_epoch)
    shown = Progress(progress, progress_stream)
    sources = [image_store.get(ref) for ref in cache_from]
    with BuildContext.open(
        context, dockerfile, scratch=os.path.join(data_root, "build", "tmp")
    ) as ctx:
        builder = Builder(
            image_store, ctx, data_root=data_root, build_args=build_args or {}, target=target,
            no_cache=no_cache, secrets={k: os.fspath(v) for k, v in (secrets or {}).items()},
            cache_from=sources, progress=shown, epoch=epoch,
        )  # fmt: skip
        try:
            state, _ = builder.run()
            step = shown.step("exporting to image")
            with image_store.content.lock():
                desc = state.write(image_store, labels=labels)
                plain = Descriptor(desc.media_type, desc.digest, desc.size, platform=desc.platform)
                for ref in refs:
                    image_store.name_descriptor(plain, ref)
                marked = attrs.evolve(plain, annotations={RESULT: str(desc.digest)})
                image_store.content.update_index(
                    lambda index: index.with_manifest(marked, replace_annotation=RESULT)
                )
            name = refs[0] if refs else Reference.parse(f"localhost/build@{desc.digest}")
            image = image_store.image_at(name, desc)
            shown.emit(f"#{step.number} writing image {image.id}")
            for ref in refs:
                shown.emit(f"#{step.number} naming to {ref}")
            step.done()
        finally:
            builder.close()
            shown.close()
    if out is not None:
        image_store.save([image], out[1], format=out[0])
    if iidfile is not None:
        with open(iidfile, "w") as f:
            f.write(str(image.id))
    return image
