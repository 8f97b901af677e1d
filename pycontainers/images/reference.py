"""Image references as Docker reads them: ``[registry/]repository[:tag][@digest]``.

A first component holding ``.`` or ``:``, or equal to ``localhost``, names a registry;
otherwise the registry is ``docker.io``, and a one-component repository there gets the
``library/`` prefix. Without a tag and a digest the tag is ``latest``.

>>> str(Reference.parse("busybox"))
'docker.io/library/busybox:latest'
>>> Reference.parse("registry:5000/a/b:v1").registry
'registry:5000'
>>> Reference.parse("docker.io/library/busybox:1.36").familiar
'busybox:1.36'
"""

from __future__ import annotations

import re

import attrs

from pycontainers.errors import SpecError
from pycontainers.images.digest import Digest

__all__ = ["DEFAULT_REGISTRY", "DEFAULT_TAG", "Reference"]

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_REGISTRIES = frozenset({"index.docker.io", "registry-1.docker.io"})
_OFFICIAL_PREFIX = "library/"
_MAX_NAME = 255

# distribution/reference's grammar.
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")


def _fail(value: str, why: str) -> SpecError:
    return SpecError("reference", f"{value!r}: {why}")


def _is_registry(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def _check_path(value: str, path: str) -> None:
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            if component.lower() != component and _PATH_COMPONENT.fullmatch(component.lower()):
                raise _fail(value, "repository name must be lowercase")
            raise _fail(
                value,
                f"invalid repository component {component!r} "
                "(lowercase letters, digits and single '.', '_', '__' or '-' separators)",
            )


@attrs.frozen
class Reference:
    """A parsed, normalized image reference; build one with :meth:`parse`.

    ``registry`` is the host (``docker.io``, ``localhost:5000``), ``path`` the repository
    within it (``library/busybox``); ``tag`` is empty only when a ``digest`` pins the image.
    """

    registry: str
    path: str
    tag: str = ""
    digest: Digest | None = None

    @classmethod
    def parse(cls, value: str | Reference) -> Reference:
        """Parse and normalize ``value``; :class:`SpecError` (field ``reference``) if invalid."""
        if isinstance(value, Reference):
            return value
        if not isinstance(value, str):
            raise SpecError("reference", f"expected a string, got {value!r}")
        if not value or value != value.strip():
            raise _fail(value, "a reference is a non-empty string without surrounding spaces")
        rest, at, digest_text = value.partition("@")
        digest = None
        if at:
            try:
                digest = Digest.parse(digest_text)
            except SpecError as exc:
                raise _fail(value, f"invalid digest: {exc}") from None
        # A tag follows the last ':' that comes after the last '/' (a port comes before).
        tag = ""
        colon = rest.rfind(":")
        if colon > rest.rfind("/"):
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise _fail(value, f"invalid tag {tag!r} (letters, digits, '_', '.', '-'; ≤128)")
        if not rest:
            raise _fail(value, "no repository name")
        first, slash, remainder = rest.partition("/")
        if slash and _is_registry(first):
            if not _DOMAIN.fullmatch(first):
                raise _fail(value, f"invalid registry {first!r}")
            registry, path = first, remainder
        else:
            registry, path = DEFAULT_REGISTRY, rest
        if registry in _LEGACY_REGISTRIES:
            registry = DEFAULT_REGISTRY
        if registry == DEFAULT_REGISTRY and "/" not in path:
            path = _OFFICIAL_PREFIX + path
        _check_path(value, path)
        if len(registry) + 1 + len(path) > _MAX_NAME:
            raise _fail(value, f"repository name longer than {_MAX_NAME} characters")
        if not tag and digest is None:
            tag = DEFAULT_TAG
        return cls(registry, path, tag, digest)

    @property
    def repository(self) -> str:
        """The full repository name, ``registry/path`` (``docker.io/library/busybox``)."""
        return f"{self.registry}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The repository as Docker shows it (``busybox``, ``user/app``, ``host:5000/x``)."""
        if self.registry != DEFAULT_REGISTRY:
            return self.repository
        return self.path.removeprefix(_OFFICIAL_PREFIX)

    @property
    def familiar(self) -> str:
        """Docker's short form: ``busybox:latest``, ``user/app:1``, ``host:5000/x@sha256:…``."""
        return self.familiar_repository + self._suffix()

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> Reference:
        """The same repository with ``tag`` (and no digest)."""
        if not _TAG.fullmatch(tag):
            raise _fail(tag, "invalid tag")
        return Reference(self.registry, self.path, tag, None)

    def with_digest(self, digest: Digest | str) -> Reference:
        """The same repository pinned to ``digest`` (and no tag)."""
        return Reference(self.registry, self.path, "", Digest.parse(digest))

    def __str__(self) -> str:
        return self.repository + self._suffix()
