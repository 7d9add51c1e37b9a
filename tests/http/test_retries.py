"""The retry policy over HTTP: set on create, changed and removed on update, checked,
and described by the OpenAPI document."""

from __future__ import annotations

from automations.http import openapi_document

from .harness import Server
from .test_routes import create

POLICY = {
    "maxAttempts": 4,
    "backoff": 30_000,
    "multiplier": 2.0,
    "maxBackoff": 600_000,
    "retryOn": ["execution_failed", "timeout"],
}


def test_a_retry_policy_is_set_changed_and_removed(server: Server) -> None:
    client = server.client()
    created = create(client, "Flaky feed", retry={"maxAttempts": 4, "backoff": 30_000})
    assert created["retry"] == POLICY
    path = f"/automation/{created['id']}"

    shorter = {**POLICY, "maxAttempts": 2, "retryOn": ["timeout"]}
    updated = client.put(path, json={"retry": shorter, "expectedRevision": 1})
    assert updated.status_code == 200, updated.text
    assert updated.json()["retry"] == shorter and updated.json()["revision"] == 2

    removed = client.put(path, json={"retry": None})
    assert removed.status_code == 200 and removed.json()["retry"] is None


def test_a_bad_retry_policy_is_refused_with_every_problem(server: Server) -> None:
    client = server.client()
    before = len(client.get("/automation").json())
    bad = {"maxAttempts": 0, "backoff": 60_000, "maxBackoff": 1_000, "retryOn": ["step_cap"]}
    response = client.post(
        "/automation",
        json={
            "title": "Bad",
            "prompt": "Bad",
            "timezone": "UTC",
            "schedule": {"type": "cron", "expression": "0 9 * * *"},
            "retry": bad,
        },
    )
    assert response.status_code == 422
    assert response.json()["details"] == [
        {"field": "retry.maxAttempts", "message": "max_attempts_out_of_range_1_100"},
        {"field": "retry.maxBackoff", "message": "max_backoff_below_backoff"},
        {"field": "retry.retryOn", "message": "error_code_never_retried"},
    ]
    assert len(client.get("/automation").json()) == before


def test_the_openapi_document_describes_the_policy_and_the_attempts() -> None:
    schemas = openapi_document()["components"]["schemas"]
    policy = schemas["RetryPolicy"]["properties"]
    assert set(policy) == set(POLICY)
    assert policy["retryOn"]["items"] == {"$ref": "#/components/schemas/ErrorCode"}
    # Durations are milliseconds on the wire, their defaults too.
    assert (policy["backoff"]["default"], policy["maxBackoff"]["default"]) == (10_000, 600_000)
    assert schemas["NewAutomation"]["properties"]["catchupWindow"]["default"] == 60_000
    ref = {"$ref": "#/components/schemas/RetryPolicy"}
    for name in ("NewAutomation", "Automation", "AutomationUpdate"):
        assert ref in schemas[name]["properties"]["retry"]["anyOf"]
    run = schemas["Run"]["properties"]
    assert run["attempt"] == {"type": "integer", "default": 1}
    assert run["retryOf"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert "retry" in schemas["Trigger"]["enum"]
