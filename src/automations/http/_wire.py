"""The HTTP layer's own bodies, as msgspec Structs beside the contract's, and the one
JSON encoder every response uses (the contract's codec: camelCase, epoch ms)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from starlette.responses import Response

from ..model import Instant, Overlap, Run, to_json

__all__ = [
    "AnswerBody",
    "BackfillBody",
    "ErrorBody",
    "ExpectedRevision",
    "FieldProblem",
    "Health",
    "InvalidBody",
    "LocalFire",
    "Preview",
    "RunPage",
    "json_response",
]


class RunPage(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """One page of an automation's runs, newest first; `nextCursor` for the next one."""

    items: list[Run]
    next_cursor: str | None


class AnswerBody(
    msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """The reply to a blocker: a string for a question, a boolean for a permission."""

    blocker_id: str
    reply: str | bool


class BackfillBody(
    msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """A past range to backfill: the slots `s` with `start <= s < end` (epoch ms) that
    have no run yet, through `overlap` (default: the automation's policy)."""

    start: Instant
    end: Instant
    overlap: Overlap | None = None


class ExpectedRevision(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """The optional `expectedRevision` beside a patch: 409 when the stored one differs."""

    expected_revision: Annotated[int, msgspec.Meta(ge=1)] | None = None


class LocalFire(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """A next fire as epoch ms and as the viewer's local wall-clock time (ISO 8601)."""

    at: int
    local: str


class FieldProblem(msgspec.Struct, gc=False, frozen=True):
    """One `(field, message)` pair of a `ValidationError`; `field` is a wire path."""

    field: str
    message: str


class Preview(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """A draft's schedule as the viewer would see it; `valid` false lists `errors`."""

    valid: bool
    timezone: str
    """The viewer's zone the `local` times are written in."""
    next_fires: list[LocalFire]
    errors: list[FieldProblem]


class Health(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    ok: bool
    database: bool
    """The database answered a read."""
    leading: bool
    """This process holds the scope's scheduler lease: it fires the schedules."""
    served: bool
    """Some worker holds it (this one or another): schedules fire."""


class ErrorBody(msgspec.Struct, gc=False, frozen=True, kw_only=True, omit_defaults=True):
    """Every error but 422: a stable code, and a message for people."""

    error: str
    message: str | None = None


class InvalidBody(msgspec.Struct, gc=False, frozen=True, kw_only=True):
    """422: every problem with the input at once."""

    error: Literal["invalid_automation"]
    details: list[FieldProblem]


def json_response(value: object, status: int = 200) -> Response:
    """`value` in the contract's wire format, with its status."""
    return Response(to_json(value), status_code=status, media_type="application/json")
