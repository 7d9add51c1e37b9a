"""The routes under `/automation`: each decodes its input with the contract's Structs,
calls one method of the public `Runtime`, and encodes what it returns.

Order matters: the fixed paths (`/automation/events`, `/automation/preview`,
`/automation/runs/{runId}`) come before `/automation/{id}`, which would match them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..api import Runtime
from ..model import (
    AutomationError,
    AutomationPatch,
    NewAutomation,
    ValidationError,
    from_builtins,
    to_ms,
)
from ..schedules import load_zone, timezone_problem
from ._body import read_object, read_struct
from ._errors import error_response
from ._sse import EventsEndpoint
from ._wire import (
    AnswerBody,
    BackfillBody,
    ExpectedRevision,
    FieldProblem,
    LocalFire,
    Preview,
    RunPage,
    json_response,
)

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "automation_routes"]

DEFAULT_PAGE = 20
MAX_PAGE = 100
_UNKNOWN = "unsupported_automation_field"

Handler = Callable[[Request], Awaitable[Response]]


def _refusing(handler: Handler, *, conflict: str = "automation_conflict") -> Handler:
    """Turn the runtime's refusals into their status codes (the table in `_errors`)."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except AutomationError as error:
            return error_response(error, conflict=conflict)

    endpoint.__name__ = handler.__name__
    return endpoint


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ValidationError([(name, f"{name}_out_of_range_{low}_{high}")])
    return int(text)


def _viewer_zone(request: Request, fallback: str) -> str:
    """The zone a person reads times in: `?tz=`, else the `X-Timezone` header, else the
    draft's own zone."""
    given = request.query_params.get("tz") or request.headers.get("x-timezone")
    if given is None:
        return fallback if timezone_problem(fallback) is None else "UTC"
    if timezone_problem(given) is not None:
        raise ValidationError([("tz", "invalid_timezone")])
    return given


def _local(at: datetime, zone: str) -> LocalFire:
    local = at.astimezone(load_zone(zone))
    spec = "seconds" if local.microsecond == 0 else "milliseconds"
    return LocalFire(at=to_ms(at), local=local.isoformat(timespec=spec))


class _Handlers:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def list(self, request: Request) -> Response:
        seq = await self.rt.last_event_seq()  # before the read: `?since=` it misses nothing
        response = json_response(await self.rt.list())
        response.headers["x-event-seq"] = str(seq)
        return response

    async def create(self, request: Request) -> Response:
        new = await read_struct(request, NewAutomation, unknown=_UNKNOWN)
        return json_response(await self.rt.create(new))

    async def get(self, request: Request) -> Response:
        return json_response(await self.rt.get(request.path_params["id"]))

    async def update(self, request: Request) -> Response:
        body = await read_object(request)
        # A patch and the revision it expects: two Structs, as AutomationPatch forbids
        # fields of its own it does not know.
        expected = {"expectedRevision": body.pop("expectedRevision", None)}
        revision = from_builtins(expected, ExpectedRevision).expected_revision
        patch = from_builtins(body, AutomationPatch, unknown=_UNKNOWN)
        automation = await self.rt.update(
            request.path_params["id"], expected_revision=revision, **patch.changes()
        )
        return json_response(automation)

    async def delete(self, request: Request) -> Response:
        return json_response(await self.rt.delete(request.path_params["id"]))

    async def pause(self, request: Request) -> Response:
        return json_response(await self.rt.pause(request.path_params["id"]))

    async def resume(self, request: Request) -> Response:
        return json_response(await self.rt.resume(request.path_params["id"]))

    async def run(self, request: Request) -> Response:
        return json_response(await self.rt.run_now(request.path_params["id"]))

    async def backfill(self, request: Request) -> Response:
        body = await read_struct(request, BackfillBody)
        report = await self.rt.backfill(
            request.path_params["id"], body.start, body.end, overlap=body.overlap
        )
        return json_response(report)

    async def runs(self, request: Request) -> Response:
        limit = _int_query(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        cursor = request.query_params.get("cursor") or None
        page = await self.rt.runs(request.path_params["id"], limit=limit, cursor=cursor)
        return json_response(RunPage(items=page.items, next_cursor=page.next_cursor))

    async def get_run(self, request: Request) -> Response:
        return json_response(await self.rt.get_run(request.path_params["runId"]))

    async def answer(self, request: Request) -> Response:
        body = await read_struct(request, AnswerBody)
        run_id = request.path_params["runId"]
        await self.rt.answer(run_id, body.blocker_id, body.reply)
        return json_response(await self.rt.get_run(run_id))

    async def cancel(self, request: Request) -> Response:
        return json_response(await self.rt.cancel(request.path_params["runId"]))

    async def preview(self, request: Request) -> Response:
        body = await read_object(request)
        draft_zone = body.get("timezone")
        zone = _viewer_zone(request, draft_zone if isinstance(draft_zone, str) else "UTC")
        try:
            automation = self.rt.preview(from_builtins(body, NewAutomation, unknown=_UNKNOWN))
        except ValidationError as error:
            errors = [FieldProblem(field, message) for field, message in error.details]
            return json_response(Preview(valid=False, timezone=zone, next_fires=[], errors=errors))
        fires = [_local(at, zone) for at in automation.next_fires]
        return json_response(Preview(valid=True, timezone=zone, next_fires=fires, errors=[]))


def automation_routes(runtime: Runtime, events: EventsEndpoint) -> list[BaseRoute]:
    """Every route under `/automation`, fixed paths first."""
    h = _Handlers(runtime)
    return [
        Route("/automation", _refusing(h.list), methods=["GET"]),
        Route("/automation", _refusing(h.create), methods=["POST"]),
        Route("/automation/events", events, methods=["GET"]),
        Route("/automation/preview", _refusing(h.preview), methods=["POST"]),
        Route("/automation/runs/{runId}", _refusing(h.get_run), methods=["GET"]),
        Route(
            "/automation/runs/{runId}/answer",
            _refusing(h.answer, conflict="answer_conflict"),
            methods=["POST"],
        ),
        Route("/automation/runs/{runId}/cancel", _refusing(h.cancel), methods=["POST"]),
        Route("/automation/{id}", _refusing(h.get), methods=["GET"]),
        Route("/automation/{id}", _refusing(h.update), methods=["PUT"]),
        Route("/automation/{id}", _refusing(h.delete), methods=["DELETE"]),
        Route("/automation/{id}/pause", _refusing(h.pause), methods=["POST"]),
        Route("/automation/{id}/resume", _refusing(h.resume), methods=["POST"]),
        Route("/automation/{id}/run", _refusing(h.run), methods=["POST"]),
        Route("/automation/{id}/backfill", _refusing(h.backfill), methods=["POST"]),
        Route("/automation/{id}/runs", _refusing(h.runs), methods=["GET"]),
    ]
