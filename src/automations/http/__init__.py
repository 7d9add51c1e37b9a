"""The HTTP face of a runtime: `create_app(runtime)`, a Starlette app served by
Hypercorn on asyncio or trio (see docs/http.md).

It uses only the public `Runtime` API; its bodies are the contract's Structs.
"""

from ._app import STATIC, close_streams, create_app
from ._auth import BindRefused, SameOrigin, check_bind, is_loopback, parse_bind
from ._body import MAX_BODY
from ._errors import BadRequest, Forbidden, HttpError, PayloadTooLarge, Unauthorized
from ._openapi import openapi_document
from ._server import serve_http
from ._sse import EventsEndpoint, frame
from ._wire import (
    AnswerBody,
    ErrorBody,
    FieldProblem,
    Health,
    InvalidBody,
    LocalFire,
    Preview,
    RunPage,
)

__all__ = [
    "MAX_BODY",
    "STATIC",
    "AnswerBody",
    "BadRequest",
    "BindRefused",
    "EventsEndpoint",
    "ErrorBody",
    "Forbidden",
    "FieldProblem",
    "Health",
    "HttpError",
    "InvalidBody",
    "LocalFire",
    "PayloadTooLarge",
    "Preview",
    "RunPage",
    "SameOrigin",
    "Unauthorized",
    "check_bind",
    "close_streams",
    "create_app",
    "frame",
    "is_loopback",
    "openapi_document",
    "parse_bind",
    "serve_http",
]
