"""Docker's credential helpers: ``credsStore`` and ``credHelpers`` in ``config.json`` name a
program ``docker-credential-<name>`` (on ``PATH``) that keeps the secrets — the OS keychain,
``pass``, or a cloud registry's own (``ecr-login`` for Amazon ECR, ``acr-env`` for Azure,
``gcloud`` for Google). The protocol is Docker's: ``get`` and ``erase`` read the server URL
on stdin; ``store`` reads ``{"ServerURL", "Username", "Secret"}``; ``get`` answers the same
object, ``list`` a ``{url: username}`` object. A user name of ``<token>`` means the secret is
an identity (refresh) token, which :class:`~pycontainers.images.registry.auth.Authenticator`
exchanges at the registry's token server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from pycontainers._log import get_logger
from pycontainers.images.registry._errors import RegistryError

log = get_logger("pycontainers.registry")

IDENTITY_TOKEN_USER = "<token>"
"""The user name a helper answers for an identity token (the secret is the token)."""
_NOT_FOUND = "credentials not found"
_TIMEOUT = 60.0


def helper_for(config: dict[str, Any], key: str) -> str | None:
    """The helper ``config`` names for the registry ``key`` (a normalized host:
    ``credHelpers`` first, then ``credsStore``), or None.
    """
    helpers = config.get("credHelpers") or {}
    if isinstance(helpers, dict):
        for name, helper in helpers.items():
            if isinstance(helper, str) and helper and _host(name) == key:
                return helper
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


def _host(key: str) -> str:
    from pycontainers.images.registry.auth import normalize_key

    return normalize_key(key)


def _run(helper: str, action: str, stdin: str) -> subprocess.CompletedProcess[str]:
    program = f"docker-credential-{helper}"
    path = shutil.which(program)
    if path is None:
        raise RegistryError(
            f"credential helper {program} (config.json credsStore/credHelpers) is not on PATH"
        )
    try:
        return subprocess.run(
            [path, action], input=stdin, capture_output=True, text=True, timeout=_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise RegistryError(f"credential helper {program} {action}: no answer in 60 s") from None
    except OSError as exc:
        raise RegistryError(f"credential helper {program}: {exc.strerror}", path=path) from None


def _failed(helper: str, action: str, proc: subprocess.CompletedProcess[str]) -> RegistryError:
    why = (proc.stdout.strip() or proc.stderr.strip() or f"exit status {proc.returncode}")[:200]
    return RegistryError(f"credential helper docker-credential-{helper} {action}: {why}")


def helper_get(helper: str, server: str) -> tuple[str, str] | None:
    """(username, secret) the helper keeps for ``server``; None if it has none."""
    proc = _run(helper, "get", server)
    if proc.returncode != 0:
        if _NOT_FOUND in (proc.stdout + proc.stderr).lower():
            return None
        raise _failed(helper, "get", proc)
    try:
        answer = json.loads(proc.stdout)
        user, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise RegistryError(
            f"credential helper docker-credential-{helper} get: not a credentials object"
        ) from None
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        return None
    log.debug("registry.helper_get", helper=helper, server=server)
    return user, secret


def helper_store(helper: str, server: str, username: str, secret: str) -> None:
    """Give the helper ``username``/``secret`` for ``server``."""
    body = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    proc = _run(helper, "store", body)
    if proc.returncode != 0:
        raise _failed(helper, "store", proc)
    log.info("registry.helper_store", helper=helper, server=server)


def helper_erase(helper: str, server: str) -> bool:
    """Make the helper forget ``server``; False if it had nothing for it."""
    proc = _run(helper, "erase", server)
    if proc.returncode != 0:
        if _NOT_FOUND in (proc.stdout + proc.stderr).lower():
            return False
        raise _failed(helper, "erase", proc)
    return True


def helper_list(helper: str) -> dict[str, str]:
    """``{server: username}`` of everything the helper keeps."""
    proc = _run(helper, "list", "")
    if proc.returncode != 0:
        raise _failed(helper, "list", proc)
    try:
        out = json.loads(proc.stdout or "{}")
    except ValueError:
        raise RegistryError(
            f"credential helper docker-credential-{helper} list: not JSON"
        ) from None
    return {str(k): str(v) for k, v in out.items()} if isinstance(out, dict) else {}


__all__ = [
    "IDENTITY_TOKEN_USER",
    "helper_erase",
    "helper_for",
    "helper_get",
    "helper_list",
    "helper_store",
]
