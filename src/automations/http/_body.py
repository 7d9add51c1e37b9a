"""Request bodies: at most `MAX_BODY` bytes, a JSON object, then the contract's Struct.

The size is checked while reading, so a client that lies in `Content-Length` (or
sends none) still cannot make the server hold more than the limit.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from ..model import from_builtins
from ._errors import BadRequest, PayloadTooLarge

__all__ = ["MAX_BODY", "read_object", "read_struct"]

T = TypeVar("T")

MAX_BODY = 1024 * 1024
"""1 MB: far above any automation (a prompt is at most a few hundred kB)."""

_any_json = msgspec.json.Decoder()


async def _read(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"the body is over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; `BadRequest` when it is not JSON or not an object."""
    data = await _read(request)
    try:
        value = _any_json.decode(data)
    except msgspec.DecodeError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value


async def read_struct(request: Request, tp: type[T], *, unknown: str = "invalid_value") -> T:
    """The body as `tp`; `ValidationError` (422) names every bad field by wire path."""
    return from_builtins(await read_object(request), tp, unknown=unknown)
