"""`GET /openapi.json`: OpenAPI 3.1, its schemas generated from the msgspec Structs
the routes decode and encode, so the document cannot drift from the wire.

Every operation lists the error shapes it can answer with; 401 only matters when
the app has a token.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import msgspec

from ..model import (
    Automation,
    AutomationPatch,
    BackfillReport,
    DefinitionDeleted,
    DefinitionUpdated,
    NewAutomation,
    Run,
    RunUpdated,
    Tombstone,
    Worker,
    ms_of,
)
from ._routes import DEFAULT_PAGE, MAX_PAGE
from ._wire import (
    AnswerBody,
    BackfillBody,
    ErrorBody,
    ExpectedRevision,
    Health,
    InvalidBody,
    Preview,
    RunPage,
)

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{name}"
_TYPES = (
    NewAutomation,
    AutomationPatch,
    Automation,
    Tombstone,
    Run,
    RunPage,
    AnswerBody,
    BackfillBody,
    BackfillReport,
    ExpectedRevision,
    Preview,
    Health,
    ErrorBody,
    InvalidBody,
    DefinitionUpdated,
    DefinitionDeleted,
    RunUpdated,
    Worker,
)
_DIGITS = {"type": "string", "pattern": "^[0-9]+$"}
_EXAMPLES: dict[str, Any] = {
    "NewAutomation": {
        "title": "Morning brief",
        "prompt": "Summarise the overnight alerts",
        "timezone": "Europe/Berlin",
        "schedule": {"type": "cron", "expression": "0 9 * * 1-5"},
    },
    "AutomationUpdate": {"title": "Evening brief", "expectedRevision": 1},
    "AnswerBody": {"blockerId": "blocker_01J0000000000000000000000", "reply": "yes"},
    "BackfillBody": {"start": 1774483200000, "end": 1775080800000, "overlap": "skip"},
}
_ERRORS = {
    "400": "the body is not JSON, or not a JSON object",
    "401": "a token is set and the request does not carry it",
    "403": "a change from another site's page, or (without a token) a Host not loopback",
    "404": "no such automation or run in this scope",
    "405": "the method is not allowed on this path",
    "409": "a conflict: a stale `expectedRevision`, or another answer to an answered blocker",
    "413": "the body is over 1 MB",
    "503": "the runtime is closing, the database failed, or no worker serves this scope",
}


def _schema_hook(tp: type) -> dict[str, Any]:
    """The model's `Instant` and `Millis`: integers of milliseconds on the wire."""
    if issubclass(tp, msgspec.Struct):  # pragma: no cover - msgspec handles Structs
        raise NotImplementedError
    name = tp.__name__
    if name == "Instant":
        return {"type": "integer", "description": "epoch milliseconds"}
    if name == "Millis":
        return {"type": "integer", "description": "milliseconds"}
    raise NotImplementedError(f"no schema for {tp!r}")


def _millis_defaults(schema: dict[str, Any]) -> None:
    """Durations default to milliseconds, as the wire has them: msgspec writes a
    `timedelta` default as an ISO 8601 duration (`PT60S`)."""
    for prop in schema.get("properties", {}).values():
        default = prop.get("default")
        if prop.get("description") == "milliseconds" and isinstance(default, str):
            prop["default"] = ms_of(msgspec.convert(default, timedelta))


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    ok: dict[str, Any],
    *,
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json(ok, "success")}
    for status, text in _ERRORS.items():
        responses[status] = _json(_ref("ErrorBody"), text)
    responses["422"] = _json(_ref("InvalidBody"), "invalid input: every (field, message)")
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        operation["parameters"] = params
    if body is not None:
        content: dict[str, Any] = {"schema": _ref(body)}
        if body in _EXAMPLES:
            content["example"] = _EXAMPLES[body]
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    return operation


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _components() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        _TYPES, schema_hook=_schema_hook, ref_template=_REF
    )
    for schema in components.values():
        _millis_defaults(schema)
    update = copy.deepcopy(components["AutomationPatch"])
    update["title"] = "AutomationUpdate"
    update["description"] = "A patch, and the revision it expects (409 when stale)."
    expected = components.pop("ExpectedRevision")["properties"]["expectedRevision"]
    update["properties"]["expectedRevision"] = expected
    components["AutomationUpdate"] = update
    components["Event"] = {
        "oneOf": [_ref("DefinitionUpdated"), _ref("DefinitionDeleted"), _ref("RunUpdated")],
        "discriminator": {"propertyName": "type"},
    }
    return components


def openapi_document(*, title: str = "automations", version: str = "0") -> dict[str, Any]:
    """The whole document, built once per app."""
    automation_id = [_path("id")]
    run_id = [_path("runId")]
    list_of = {"type": "array", "items": _ref("Automation")}
    events = {
        "summary": "Server-Sent Events of every change: `id:` is the journal sequence number",
        "parameters": [
            _query("since", _DIGITS, "replay the events after this sequence number, then go live"),
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": _DIGITS,
                "description": "set by a reconnecting EventSource; wins over `since`",
            },
        ],
        "responses": {
            "200": {
                "description": "`event:` the type, `data:` an Event as JSON",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "401": _json(_ref("ErrorBody"), _ERRORS["401"]),
            "403": _json(_ref("ErrorBody"), _ERRORS["403"]),
            "422": _json(_ref("InvalidBody"), "a bad `since` or `Last-Event-ID`"),
            "503": _json(_ref("ErrorBody"), "every event stream allowed is open"),
        },
    }
    runs_params = [
        *automation_id,
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            f"runs per page (default {DEFAULT_PAGE})",
        ),
        _query("cursor", {"type": "string"}, "`nextCursor` of the previous page"),
    ]
    preview_params = [
        _query("tz", {"type": "string"}, "the viewer's IANA zone (or header X-Timezone)")
    ]
    paths = {
        "/automation": {
            "get": _operation("List automations, newest update first", list_of),
            "post": _operation("Create an automation", _ref("Automation"), body="NewAutomation"),
        },
        "/automation/events": {"get": events},
        "/automation/preview": {
            "post": _operation(
                "A draft's next fires in the viewer's zone, and its problems; stores nothing",
                _ref("Preview"),
                body="NewAutomation",
                params=preview_params,
            )
        },
        "/automation/runs/{runId}": {"get": _operation("One run", _ref("Run"), params=run_id)},
        "/automation/runs/{runId}/answer": {
            "post": _operation(
                "Answer the run's blocker; the run once the answer is stored (its worker takes it"
                " a moment later)",
                _ref("Run"),
                body="AnswerBody",
                params=run_id,
            )
        },
        "/automation/runs/{runId}/cancel": {
            "post": _operation("Cancel a run; the run once ended", _ref("Run"), params=run_id)
        },
        "/automation/{id}": {
            "get": _operation("One automation", _ref("Automation"), params=automation_id),
            "put": _operation(
                "Change the fields given",
                _ref("Automation"),
                body="AutomationUpdate",
                params=automation_id,
            ),
            "delete": _operation(
                "Delete it (its runs stay)", _ref("Tombstone"), params=automation_id
            ),
        },
        "/automation/{id}/pause": {
            "post": _operation("Pause", _ref("Automation"), params=automation_id)
        },
        "/automation/{id}/resume": {
            "post": _operation("Resume", _ref("Automation"), params=automation_id)
        },
        "/automation/{id}/run": {
            "post": _operation("Run now; the run as scheduled", _ref("Run"), params=automation_id)
        },
        "/automation/{id}/backfill": {
            "post": _operation(
                "Run the past slots of a range that have no run yet, one after another;"
                " what it did, once the last run ended",
                _ref("BackfillReport"),
                body="BackfillBody",
                params=automation_id,
            )
        },
        "/automation/{id}/runs": {
            "get": _operation("Runs, newest first", _ref("RunPage"), params=runs_params)
        },
        "/workers": {
            "get": {
                "summary": "The live worker processes of the database, their load and leases",
                "responses": {
                    "200": _json({"type": "array", "items": _ref("Worker")}, "by id"),
                    "401": _json(_ref("ErrorBody"), _ERRORS["401"]),
                    "403": _json(_ref("ErrorBody"), _ERRORS["403"]),
                    "503": _json(_ref("ErrorBody"), "the database failed"),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Who holds the scheduler lease, and whether the database answers",
                "responses": {
                    "200": _json(_ref("Health"), "healthy"),
                    "401": _json(_ref("ErrorBody"), _ERRORS["401"]),
                    "403": _json(_ref("ErrorBody"), _ERRORS["403"]),
                    "503": _json(_ref("Health"), "the database does not answer"),
                },
            }
        },
    }
    _name_and_link(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "security": [{}, {"bearer": []}],
        "components": {
            "schemas": _components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


_OPERATION_IDS = {
    ("/automation", "get"): "listAutomations",
    ("/automation", "post"): "createAutomation",
    ("/automation/events", "get"): "followEvents",
    ("/automation/preview", "post"): "previewAutomation",
    ("/automation/runs/{runId}", "get"): "getRun",
    ("/automation/runs/{runId}/answer", "post"): "answerRun",
    ("/automation/runs/{runId}/cancel", "post"): "cancelRun",
    ("/automation/{id}", "get"): "getAutomation",
    ("/automation/{id}", "put"): "updateAutomation",
    ("/automation/{id}", "delete"): "deleteAutomation",
    ("/automation/{id}/pause", "post"): "pauseAutomation",
    ("/automation/{id}/resume", "post"): "resumeAutomation",
    ("/automation/{id}/run", "post"): "runAutomation",
    ("/automation/{id}/backfill", "post"): "backfillAutomation",
    ("/automation/{id}/runs", "get"): "listRuns",
    ("/workers", "get"): "listWorkers",
    ("/healthz", "get"): "health",
}
_LINKS = {
    "createAutomation": ("id", "$response.body#/id", [
        "getAutomation", "updateAutomation", "pauseAutomation", "resumeAutomation",
        "runAutomation", "backfillAutomation", "listRuns", "deleteAutomation",
    ]),
    "runAutomation": ("runId", "$response.body#/id", ["getRun", "answerRun", "cancelRun"]),
}  # fmt: skip


def _name_and_link(paths: dict[str, Any]) -> None:
    """operationIds, and links from what creates an automation or a run to what takes
    its id, so that a client generator (or Schemathesis) can follow them."""
    for (path, method), operation_id in _OPERATION_IDS.items():
        paths[path][method]["operationId"] = operation_id
    by_id = {operation_id: key for key, operation_id in _OPERATION_IDS.items()}
    for source, (parameter, expression, targets) in _LINKS.items():
        path, method = by_id[source]
        paths[path][method]["responses"]["200"]["links"] = {
            target: {"operationId": target, "parameters": {parameter: expression}}
            for target in targets
        }
