"""From the runtime's exceptions to status codes and bodies, in one table.

Only `AutomationError` is turned into a response: anything else is a bug and gets a
bare 500 with no detail (never a traceback); cancellation passes through untouched.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..model import (
    AutomationError,
    Conflict,
    NotFound,
    NotServed,
    StorageError,
    ValidationError,
)
from ._wire import ErrorBody, FieldProblem, InvalidBody, json_response

log = logging.getLogger("automations.http")

__all__ = [
    "BadRequest",
    "Forbidden",
    "HttpError",
    "PayloadTooLarge",
    "TooManyStreams",
    "Unauthorized",
    "error_response",
    "http_exception",
    "internal_error",
]


class HttpError(AutomationError):
    """A request the HTTP layer refuses before the runtime sees it."""

    status = 400
    code = "bad_request"


class BadRequest(HttpError):
    """The body is not JSON, or not a JSON object."""


class PayloadTooLarge(HttpError):
    status = 413
    code = "body_too_large"


class Unauthorized(HttpError):
    status = 401
    code = "unauthorized"


class TooManyStreams(HttpError):
    """Every event stream this app allows is open."""

    status = 503
    code = "too_many_streams"


class Forbidden(HttpError):
    """A request another site's page made a browser send, or one for another host."""

    status = 403
    code = "forbidden"


def error_response(error: AutomationError, *, conflict: str = "automation_conflict") -> Response:
    """The response for a refused request; `conflict` names the 409 of the route."""
    if isinstance(error, ValidationError):
        details = [FieldProblem(field, message) for field, message in error.details]
        return json_response(InvalidBody(error="invalid_automation", details=details), 422)
    if isinstance(error, HttpError):
        response = json_response(ErrorBody(error=error.code, message=str(error)), error.status)
        if isinstance(error, PayloadTooLarge):  # the rest of the body is left unread
            response.headers["connection"] = "close"
        return response
    if isinstance(error, NotFound):
        return json_response(ErrorBody(error="not_found", message=str(error)), 404)
    if isinstance(error, Conflict):
        return json_response(ErrorBody(error=conflict, message=str(error)), 409)
    if isinstance(error, NotServed):
        return json_response(ErrorBody(error="not_served", message=str(error)), 503)
    if isinstance(error, StorageError):  # its words name the database: logged, not sent
        log.warning("a request met a storage error: %s", error)
        message = "the database cannot be reached or refused the write; try again later"
        return json_response(ErrorBody(error="unavailable", message=message), 503)
    return json_response(ErrorBody(error="refused", message=str(error)), 409)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) as JSON bodies."""
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    code = _HTTP_CODES.get(status, "bad_request")
    headers = getattr(exc, "headers", None)
    response = json_response(ErrorBody(error=code), status)
    if headers:
        response.headers.update(headers)
    return response


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug: logged by the server, answered without a word about it."""
    return json_response(ErrorBody(error="internal_error"), 500)
