"""Errors of the Engine API: Docker's ``{"message": ...}`` bodies with Docker's status codes.

Handlers raise :class:`ApiError` for what the request got wrong; the library's own errors
are mapped by :func:`status_of` (no such object 404, a conflict 409, bad input 400, the
rest 500), so a client never sees a traceback or a dropped connection.
"""

from __future__ import annotations

from pycontainers.errors import ApiError as ApiError
from pycontainers.errors import (
    CommandError,
    ContainerError,
    ImageNotFound,
    NetworkInUse,
    NetworkNotFound,
    PortInUse,
    PyContainersError,
    RegistryError,
    SpecError,
    VolumeError,
)


def bad_request(message: str) -> ApiError:
    """400: the request is malformed (bad JSON, a wrong type, an unknown value)."""
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    """404: no such object."""
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    """409: the object is in the wrong state (running, in use, name taken)."""
    return ApiError(409, message)


def not_implemented(message: str) -> ApiError:
    """501: an endpoint this daemon does not offer (yet)."""
    return ApiError(501, message)


def status_of(exc: BaseException) -> int:
    """Docker's status code for an exception the library raised."""
    text = str(exc)
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, (ImageNotFound, NetworkNotFound)):
        return 404
    if isinstance(exc, (NetworkInUse, PortInUse)):
        return 409
    if isinstance(exc, SpecError):
        return 409 if "already" in text or "in use" in text else 400
    if isinstance(exc, VolumeError):
        if "no volume" in text or "no such" in text or "not found" in text:
            return 404
        return 409 if "in use" in text else 400
    if isinstance(exc, ContainerError):
        if "no container" in text or "no such" in text:
            return 404
        conflict = ("already", "not running", "is paused")
        return 409 if any(word in text for word in conflict) else 500
    if isinstance(exc, RegistryError):
        return 404 if isinstance(exc, LookupError) else 500
    if isinstance(exc, CommandError):
        return 409
    if isinstance(exc, (PyContainersError, OSError, TimeoutError)):
        return 500
    return 500


__all__ = ["ApiError", "bad_request", "conflict", "not_found", "not_implemented", "status_of"]
