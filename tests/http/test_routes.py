"""Every route over real HTTP: a Hypercorn server in a subprocess, on asyncio and on
trio, driven with httpx as any client would."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .harness import Server
from .sse import messages, run_state, until

CRON = {"type": "cron", "expression": "0 9 * * *"}


def new(title: str, executor: str = "instant", **fields: Any) -> dict[str, Any]:
    body = {"title": title, "prompt": title, "timezone": "UTC", "schedule": CRON}
    return {**body, "executor": executor, **fields}


def create(client: httpx.Client, title: str, executor: str = "instant", **fields: Any) -> Any:
    response = client.post("/automation", json=new(title, executor, **fields))
    assert response.status_code == 200, response.text
    return response.json()


def wait_run(client: httpx.Client, run_id: str, states: set[str]) -> Any:
    """Poll a run until it is in one of `states`, with a deadline."""
    deadline = time.monotonic() + 30
    while True:
        run = client.get(f"/automation/runs/{run_id}").json()
        if run["state"] in states:
            return run
        assert time.monotonic() < deadline, f"run stuck in {run['state']}"
        time.sleep(0.02)


def test_create_list_get_update_pause_resume_delete(server: Server) -> None:
    client = server.client()
    created = create(client, "Morning brief")
    assert created["revision"] == 1 and created["nextFires"]
    automation_id = created["id"]

    listed = client.get("/automation")
    assert listed.status_code == 200 and int(listed.headers["x-event-seq"]) >= 1
    assert automation_id in [a["id"] for a in listed.json()]
    assert client.get(f"/automation/{automation_id}").json() == created

    updated = client.put(
        f"/automation/{automation_id}", json={"title": "Brief", "expectedRevision": 1}
    )
    assert updated.status_code == 200 and updated.json()["title"] == "Brief"
    assert updated.json()["revision"] == 2
    stale = client.put(
        f"/automation/{automation_id}", json={"title": "Late", "expectedRevision": 1}
    )
    assert stale.status_code == 409 and stale.json()["error"] == "automation_conflict"
    assert client.get(f"/automation/{automation_id}").json()["title"] == "Brief"

    paused = client.post(f"/automation/{automation_id}/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    resumed = client.post(f"/automation/{automation_id}/resume")
    assert resumed.status_code == 200 and resumed.json()["paused"] is False

    deleted = client.delete(f"/automation/{automation_id}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": automation_id, "revision": 5, "deleted": True}
    gone = client.get(f"/automation/{automation_id}")
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"
    assert automation_id not in [a["id"] for a in client.get("/automation").json()]


def test_a_question_answered_over_http_while_another_client_follows_the_stream(
    server: Server,
) -> None:
    client, follower = server.client(), server.client()
    automation = create(client, "Release", "ask")
    since = client.get("/automation").headers["x-event-seq"]
    with follower.stream("GET", "/automation/events", params={"since": since}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = messages(response)
        run = client.post(f"/automation/{automation['id']}/run")
        assert run.status_code == 200, run.text
        run_id = run.json()["id"]

        waiting = until(stream, lambda m: run_state(m, run_id, "awaiting_input"))[-1]
        blocker = waiting.data["run"]["blocker"]
        assert blocker["request"] == {
            "type": "question",
            "text": "Ship it?",
            "options": ["yes", "no"],
        }

        wrong = client.post(
            f"/automation/runs/{run_id}/answer", json={"blockerId": blocker["id"], "reply": "maybe"}
        )
        assert wrong.status_code == 422
        assert wrong.json()["details"] == [{"field": "reply", "message": "reply_not_among_options"}]
        answered = client.post(
            f"/automation/runs/{run_id}/answer", json={"blockerId": blocker["id"], "reply": "yes"}
        )
        assert answered.status_code == 200, answered.text

        done = until(stream, lambda m: run_state(m, run_id, "succeeded"))[-1]
        assert done.data["run"]["result"] == "answer: yes"
        again = client.post(
            f"/automation/runs/{run_id}/answer", json={"blockerId": blocker["id"], "reply": "yes"}
        )
        assert again.status_code == 200  # the same answer again changes nothing
        other = client.post(
            f"/automation/runs/{run_id}/answer", json={"blockerId": blocker["id"], "reply": "no"}
        )
        assert other.status_code == 409 and other.json()["error"] == "answer_conflict"
    assert client.get(f"/automation/runs/{run_id}").json()["state"] == "succeeded"


def test_a_permission_is_answered_with_a_boolean(server: Server) -> None:
    client = server.client()
    automation = create(client, "Deploy", "permit")
    run = client.post(f"/automation/{automation['id']}/run").json()
    waiting = wait_run(client, run["id"], {"awaiting_input"})
    blocker = waiting["blocker"]
    assert blocker["request"] == {"type": "permission", "tool": "deploy", "detail": "to staging"}
    path = f"/automation/runs/{run['id']}/answer"
    text = client.post(path, json={"blockerId": blocker["id"], "reply": "yes"})
    assert text.status_code == 422
    assert text.json()["details"] == [{"field": "reply", "message": "permission_needs_bool"}]
    allowed = client.post(path, json={"blockerId": blocker["id"], "reply": True})
    assert allowed.status_code == 200
    assert wait_run(client, run["id"], {"succeeded"})["result"] == "allowed: True"


def test_run_now_and_cancel(server: Server) -> None:
    client = server.client()
    automation = create(client, "Long job", "hang")
    run = client.post(f"/automation/{automation['id']}/run").json()
    assert run["automationId"] == automation["id"] and run["trigger"] == "manual"
    wait_run(client, run["id"], {"running"})
    cancelled = client.post(f"/automation/runs/{run['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "stopped" and cancelled.json()["stopReason"] == "cancelled"


def test_runs_pagination_across_pages(server: Server) -> None:
    client = server.client()
    automation = create(client, "Paged", overlap="allow")
    ids = []
    for _ in range(5):
        run = client.post(f"/automation/{automation['id']}/run").json()
        wait_run(client, run["id"], {"succeeded"})
        ids.append(run["id"])

    pages, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/automation/{automation['id']}/runs", params=params)
        assert page.status_code == 200, page.text
        pages.append([run["id"] for run in page.json()["items"]])
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [run_id for p in pages for run_id in p] == ids[::-1]  # newest first

    unknown = client.get(f"/automation/{automation['id']}/runs", params={"cursor": "run_nope"})
    assert unknown.json() == {"items": [], "nextCursor": None}
    for bad in ("0", "101", "x"):
        refused = client.get(f"/automation/{automation['id']}/runs", params={"limit": bad})
        assert refused.status_code == 422 and refused.json()["details"][0]["field"] == "limit"


def test_every_error_status(server: Server) -> None:
    client = server.client()
    automation = create(client, "Errors")
    path = f"/automation/{automation['id']}"
    headers = {"content-type": "application/json"}

    for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b""):
        refused = client.post("/automation", content=body, headers=headers)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["error"] == "bad_request"
    assert client.put(path, content=b"null", headers=headers).status_code == 400

    huge = {"title": "x", "prompt": "p" * (1024 * 1024), "timezone": "UTC", "schedule": CRON}
    too_large = client.post("/automation", json=huge)
    assert too_large.status_code == 413 and too_large.json()["error"] == "body_too_large"

    invalid = client.post(
        "/automation",
        json={
            "title": "",
            "prompt": "p",
            "timezone": "Mars/Base",
            "schedule": {"type": "cron", "expression": "nope"},
        },
    )
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["error"] == "invalid_automation"
    fields = {d["field"] for d in body["details"]}
    assert {"timezone", "schedule.expression"} <= fields
    unknown_field = client.post("/automation", json=new("x") | {"colour": "red"})
    assert unknown_field.status_code == 422
    assert unknown_field.json()["details"] == [
        {"field": "colour", "message": "unsupported_automation_field"}
    ]
    for extreme, field in (
        ({"stop": {"type": "count", "count": 2**70}}, "stop.count"),
        ({"schedule": {"type": "interval", "every": 2**55}}, "schedule.every"),
        ({"schedule": {"type": "once", "at": 10**30}}, "schedule.at"),
        ({"maxDuration": 2**56}, "maxDuration"),
    ):
        refused = client.post("/automation", json=new("x") | extreme)
        assert refused.status_code == 422, refused.text
        assert [d["field"] for d in refused.json()["details"]] == [field]
    huge_since = client.get("/automation/events", headers={"Last-Event-ID": "9" * 30})
    assert huge_since.status_code == 422
    bad_revision = client.put(path, json={"expectedRevision": "one"})
    assert bad_revision.status_code == 422

    for method, missing in (
        ("GET", "/automation/automation_nope"),
        ("PUT", "/automation/automation_nope"),
        ("DELETE", "/automation/automation_nope"),
        ("POST", "/automation/automation_nope/pause"),
        ("POST", "/automation/automation_nope/run"),
        ("GET", "/automation/runs/run_nope"),
        ("POST", "/automation/runs/run_nope/cancel"),
        ("GET", "/no/such/route"),
    ):
        kwargs: dict[str, Any] = {"json": {"title": "t"}} if method == "PUT" else {}
        response = client.request(method, missing, **kwargs)
        assert response.status_code == 404, (method, missing, response.text)
        assert response.json()["error"] == "not_found"
    answer = client.post(
        "/automation/runs/run_nope/answer", json={"blockerId": "b", "reply": "yes"}
    )
    assert answer.status_code == 404

    stale = client.put(path, json={"title": "t", "expectedRevision": 9})
    assert stale.status_code == 409 and stale.json() == {
        "error": "automation_conflict",
        "message": stale.json()["message"],
    }
    wrong_method = client.patch(path)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    bad_since = client.get("/automation/events", params={"since": "-1"})
    assert bad_since.status_code == 422


def test_preview_in_the_viewers_zone_stores_nothing(server: Server) -> None:
    client = server.client()
    before = len(client.get("/automation").json())
    draft = new("Draft") | {"timezone": "America/New_York"}
    preview = client.post("/automation/preview", params={"tz": "Europe/Berlin"}, json=draft)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["valid"] and body["errors"] == [] and body["timezone"] == "Europe/Berlin"
    assert len(body["nextFires"]) == 5
    first = body["nextFires"][0]
    assert first["local"].startswith(time.strftime("%Y")[:2]) and first["local"].endswith(
        "15:00:00+01:00"
    )

    header = client.post("/automation/preview", headers={"x-timezone": "Asia/Tokyo"}, json=draft)
    assert header.json()["nextFires"][0]["local"].endswith("23:00:00+09:00")
    assert header.json()["nextFires"][0]["at"] == first["at"]

    bad = client.post(
        "/automation/preview",
        json={
            "title": "",
            "timezone": "UTC",
            "schedule": {"type": "cron", "expression": "61 * * * *"},
        },
    )
    assert bad.status_code == 200
    assert bad.json()["valid"] is False and bad.json()["nextFires"] == []
    assert {"prompt", "schedule.expression"} <= {
        e["field"] for e in bad.json()["errors"]
    } or bad.json()["errors"]
    zone = client.post("/automation/preview", params={"tz": "Nowhere/Land"}, json=draft)
    assert zone.status_code == 422 and zone.json()["details"] == [
        {"field": "tz", "message": "invalid_timezone"}
    ]
    assert len(client.get("/automation").json()) == before


def test_health_openapi_and_the_console_page(server: Server) -> None:
    client = server.client()
    deadline = time.monotonic() + 30
    while not (health := client.get("/healthz")).json()["leading"]:  # it takes the lease
        assert time.monotonic() < deadline, health.text
        time.sleep(0.02)
    assert health.status_code == 200
    assert health.json() == {"ok": True, "database": True, "leading": True, "served": True}

    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/automation",
        "/automation/{id}",
        "/automation/{id}/pause",
        "/automation/{id}/resume",
        "/automation/{id}/run",
        "/automation/{id}/runs",
        "/automation/runs/{runId}",
        "/automation/runs/{runId}/answer",
        "/automation/runs/{runId}/cancel",
        "/automation/preview",
        "/automation/events",
        "/healthz",
    }
    create = document["paths"]["/automation"]["post"]
    assert create["operationId"] == "createAutomation"
    assert create["responses"]["200"]["links"]["getAutomation"]["parameters"] == {
        "id": "$response.body#/id"
    }
    assert {"400", "404", "409", "413", "422"} <= set(create["responses"])
    assert {"InvalidBody", "ErrorBody", "Automation", "Run", "NewAutomation"} <= set(
        document["components"]["schemas"]
    )

    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="static/console.js">' in page.text
    assert client.get("/static/index.html").status_code == 200


def test_workers_lists_the_serving_process_with_its_lease(server: Server) -> None:
    client = server.client()
    deadline = time.monotonic() + 30
    while not (found := client.get("/workers")).json()[0]["scopes"]:  # its next heartbeat
        assert time.monotonic() < deadline, found.text
        time.sleep(0.02)
    assert found.status_code == 200
    (worker,) = found.json()
    assert worker["pid"] == server.process.pid
    assert worker["scopes"][0]["project"] == "http-tests"
    assert worker["startedAt"] <= worker["heartbeatAt"] < worker["expiresAt"]
    document = client.get("/openapi.json").json()
    listing = document["paths"]["/workers"]["get"]
    assert listing["operationId"] == "listWorkers"
    assert "Worker" in document["components"]["schemas"]
