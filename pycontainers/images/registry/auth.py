"""Registry credentials and authentication: ``config.json`` ``auths``, Basic and Bearer.

Credentials live where ``docker login`` keeps them: ``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``, in the ``auths`` section as ``{"<registry>": {"auth":
base64("user:password")}}`` (Docker Hub under ``https://index.docker.io/v1/``). :func:`login`
checks credentials against the registry and writes them there; :func:`logout` removes them.

:class:`Authenticator` answers a registry's ``WWW-Authenticate`` challenge: ``Basic`` sends
the credentials on every request; ``Bearer`` gets a token from the challenge's ``realm`` for
the scopes a request needs (``repository:<path>:pull`` or ``pull,push``), anonymously or
with the credentials, and reuses it for every request of those scopes until it expires.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import SpecError
from pycontainers.images.registry._errors import RegistryError, Unauthorized

if TYPE_CHECKING:
    import httpx

log = get_logger("pycontainers.registry")

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_PARAM = re.compile(r'\s*([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


@attrs.frozen
class Credentials:
    """A user name and password (or token) for one registry. A user name of ``<token>``
    (what a credential helper answers for an identity token) makes ``password`` a refresh
    token, exchanged at the registry's token server.
    """

    username: str
    password: str = attrs.field(repr=False)

    @property
    def identity_token(self) -> bool:
        """Whether ``password`` is an identity (refresh) token."""
        from pycontainers.images.registry.helpers import IDENTITY_TOKEN_USER

        return self.username == IDENTITY_TOKEN_USER

    def basic(self) -> str:
        """The ``Authorization`` header value for HTTP Basic."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@attrs.frozen
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge: ``scheme`` (lowercase) and its parameters."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str = "") -> str:
        """The parameter ``key`` (``realm``, ``service``, ``scope``, ``error``)."""
        return dict(self.params).get(key, default)

    @classmethod
    def parse(cls, header: str) -> Challenge:
        """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm=...``)."""
        scheme, _, rest = header.strip().partition(" ")
        params = []
        pos = 0
        while pos < len(rest):
            m = _PARAM.match(rest, pos)
            if not m or m.end() == pos:
                break
            value = m.group(2) if m.group(2) is not None else m.group(3)
            params.append((m.group(1).lower(), re.sub(r"\\(.)", r"\1", value)))
            pos = m.end()
        return cls(scheme.lower(), tuple(params))


# -- config.json ------------------------------------------------------------------------------


def docker_config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("DOCKER_CONFIG")
    if env:
        return Path(env) / "config.json"
    return Path.home() / ".docker" / "config.json"


def config_key(registry: str) -> str:
    """The ``auths`` key Docker uses for ``registry`` (Docker Hub's legacy URL for docker.io)."""
    return DOCKER_HUB_KEY if registry in _HUB_NAMES else registry


def normalize_key(key: str) -> str:
    """The host a ``config.json`` key names (``docker.io`` for Docker Hub's spellings)."""
    host = re.sub(r"^[a-z]+://", "", key).split("/", 1)[0]
    return "docker.io" if host in _HUB_NAMES else host


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise RegistryError(f"{path}: not valid JSON: {exc}", path=str(path)) from None
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: not a JSON object", path=str(path))
    return data


def load_credentials(
    registry: str, config: str | os.PathLike[str] | None = None
) -> Credentials | None:
    """The credentials for ``registry``: from the credential helper ``config.json`` names
    for it (``credHelpers``, else ``credsStore``), else its ``auths`` entry; None if none.
    """
    path = docker_config_path(config)
    data = _read_config(path)
    want = normalize_key(registry)
    from pycontainers.images.registry.helpers import helper_for, helper_get

    helper = helper_for(data, want)
    if helper is not None:
        found = helper_get(helper, config_key(want))
        if found is not None:
            return Credentials(*found)
    for key, entry in (data.get("auths") or {}).items():
        if normalize_key(key) != want or not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise RegistryError(
                    f"{path}: auths[{key!r}].auth is not base64 user:password", path=str(path)
                ) from None
            if sep:
                return Credentials(user, password)
        if entry.get("username") and entry.get("password"):
            return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def store_credentials(
    registry: str, credentials: Credentials, config: str | os.PathLike[str] | None = None
) -> Path:
    """Keep ``credentials``: with the credential helper ``config.json`` names for
    ``registry`` (its ``auths`` entry then stays empty, as Docker leaves it), else in
    ``config.json`` itself (mode 0600, other keys kept); the path of ``config.json``.
    """
    from pycontainers.images.registry.helpers import helper_for, helper_store
    from pycontainers.images.store import write_atomic

    path = docker_config_path(config)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = _read_config(path)
    auths = {
        k: v
        for k, v in (data.get("auths") or {}).items()
        if normalize_key(k) != normalize_key(registry)
    }
    helper = helper_for(data, normalize_key(registry))
    if helper is not None:
        helper_store(helper, config_key(registry), credentials.username, credentials.password)
        auths[config_key(registry)] = {}
    else:
        raw = f"{credentials.username}:{credentials.password}".encode()
        auths[config_key(registry)] = {"auth": base64.b64encode(raw).decode()}
    data["auths"] = auths
    write_atomic(path, json.dumps(data, indent="\t").encode() + b"\n", mode=0o600)
    return path


def logout(registry: str = "docker.io", *, config: str | os.PathLike[str] | None = None) -> bool:
    """Remove the credentials of ``registry`` (from its credential helper too); False if
    there were none.
    """
    from pycontainers.images.registry.helpers import helper_erase, helper_for
    from pycontainers.images.store import write_atomic

    path = docker_config_path(config)
    data = _read_config(path)
    helper = helper_for(data, normalize_key(registry))
    erased = helper is not None and helper_erase(helper, config_key(registry))
    auths = data.get("auths") or {}
    kept = {k: v for k, v in auths.items() if normalize_key(k) != normalize_key(registry)}
    if len(kept) == len(auths):
        if erased:
            log.info("registry.logout", registry=registry)
        return erased
    data["auths"] = kept
    write_atomic(path, json.dumps(data, indent="\t").encode() + b"\n", mode=0o600)
    log.info("registry.logout", registry=registry)
    return True


def login(
    registry: str,
    username: str,
    password: str,
    *,
    config: str | os.PathLike[str] | None = None,
    insecure_registries: Iterable[str] = (),
    verify: bool = True,
) -> Path:
    """Check ``username``/``password`` against ``registry`` and store them in ``config.json``.

    Raises :class:`Unauthorized` (and writes nothing) when the registry refuses them; with
    ``verify=False`` they are stored unchecked. Returns the path of the file written.
    """
    if not username:
        raise SpecError("username", "must not be empty")
    if not password:
        raise SpecError("password", "must not be empty")
    creds = Credentials(username, password)
    if verify:
        from pycontainers.images.registry.client import RegistryClient

        with RegistryClient(
            registry, credentials=creds, insecure_registries=insecure_registries
        ) as client:
            client.check_login()
    path = store_credentials(registry, creds, config)
    log.info("registry.login", registry=registry, username=username, config=str(path))
    return path


# -- the challenge/response flow --------------------------------------------------------------


class Authenticator:
    """Authorization for one registry: learns its challenge, fetches and caches tokens.

    Thread-safe: concurrent requests for the same scopes share one token request.
    """

    def __init__(
        self, credentials: Credentials | None = None, *, client: httpx.Client | None = None
    ) -> None:
        self.credentials = credentials
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._extra: dict[tuple[str, ...], str] = {}  # scopes a challenge added to a request's
        self._lock = threading.Lock()
        self._client = client
        #: How many tokens were fetched (token reuse shows as a small number).
        self.token_requests = 0

    @property
    def scheme(self) -> str:
        """``basic``, ``bearer`` or ``""`` while the registry has not asked for anything."""
        return self._challenge.scheme if self._challenge else ""

    def learn(self, resp: httpx.Response, scopes: Iterable[str] = ()) -> bool:
        """Read the challenge of a 401 response; True if retrying may now succeed."""
        header = resp.headers.get("WWW-Authenticate", "")
        if not header:
            return False
        challenge = Challenge.parse(header)
        with self._lock:
            previous = self._challenge
            if challenge.scheme == "basic":
                self._challenge = challenge
                return self.credentials is not None and (
                    previous is None or previous.scheme != "basic"
                )
            if challenge.scheme != "bearer" or not challenge.get("realm"):
                return False
            self._challenge = challenge
            if challenge.get("scope"):
                self._extra[self._key(scopes)] = challenge.get("scope")
            key = self._key(scopes, challenge.get("scope"))
            if key in self._tokens:
                del self._tokens[key]  # refused: fetch a fresh one
            return True

    @staticmethod
    def _key(scopes: Iterable[str], extra: str = "") -> tuple[str, ...]:
        out = set(scopes)
        if extra:
            out.update(extra.split(" "))
        return tuple(sorted(s for s in out if s))

    def header(self, host: str, scopes: Iterable[str]) -> str | None:
        """The ``Authorization`` header for a request needing ``scopes`` (``None``: none)."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self.credentials.basic() if self.credentials else None
        base = self._key(scopes)
        key = self._key(base, self._extra.get(base, ""))
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[1] > time.monotonic():
                return f"Bearer {cached[0]}"
            token, ttl = self._fetch_token(challenge, key)
            self._tokens[key] = (token, time.monotonic() + max(ttl - 10, ttl / 2))
        return f"Bearer {token}"

    def _fetch_token(self, challenge: Challenge, scopes: tuple[str, ...]) -> tuple[str, float]:
        import httpx

        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.get("service"):
            params.append(("service", challenge.get("service")))
        params += [("scope", s) for s in scopes]
        headers = {}
        creds = self.credentials
        if creds is not None and not creds.identity_token:
            params.append(("account", creds.username))
            headers["Authorization"] = creds.basic()
        realm = challenge.get("realm")
        client = self._client or httpx.Client(timeout=30.0, follow_redirects=True)
        try:
            if creds is not None and creds.identity_token:  # OAuth2, as Docker does
                form = {
                    "grant_type": "refresh_token",
                    "refresh_token": creds.password,
                    "service": challenge.get("service"),
                    "scope": " ".join(scopes),
                    "client_id": "pycontainers",
                }
                resp = client.post(realm, data=form)
            else:
                resp = client.get(realm, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise RegistryError(f"token server {realm}: {exc}", url=realm) from exc
        finally:
            if self._client is None:
                client.close()
        self.token_requests += 1
        if resp.status_code in (401, 403):
            raise Unauthorized(
                f"token server {realm} refused the credentials (HTTP {resp.status_code})",
                status=resp.status_code,
                url=realm,
            )
        if resp.status_code != 200:
            raise RegistryError(
                f"token server {realm}: HTTP {resp.status_code}", status=resp.status_code, url=realm
            )
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
            ttl = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token, ttl = None, 0.0
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token server {realm} answered without a token", url=realm)
        log.debug("registry.token", realm=realm, scopes=list(scopes), expires_in=ttl)
        return token, ttl


__all__ = [
    "DOCKER_HUB_KEY",
    "Authenticator",
    "Challenge",
    "Credentials",
    "config_key",
    "docker_config_path",
    "load_credentials",
    "login",
    "logout",
    "normalize_key",
    "store_credentials",
]
