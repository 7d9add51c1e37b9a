"""Backfill and jitter over real HTTP: the route, its refusals, the jitter field."""

from __future__ import annotations

from datetime import UTC, datetime

from .harness import Server
from .test_routes import create


def _ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


def test_backfill_runs_the_past_slots_once_and_refuses_the_future(server: Server) -> None:
    client = server.client()
    automation = create(client, "Brief", timezone="Europe/Berlin", jitter=30_000)
    assert automation["jitter"] == 30_000
    path = f"/automation/{automation['id']}/backfill"
    # 09:00 daily in Berlin, 26 March to 1 April 2026: summer time begins on the 29th.
    week = {"start": _ms(2026, 3, 26), "end": _ms(2026, 4, 1)}
    done = client.post(path, json=week)
    assert done.status_code == 200, done.text
    report = done.json()
    assert report["slots"] == 6 and report["done"] == 6 and report["existing"] == []
    hours = [datetime.fromtimestamp(r["triggeredAt"] / 1000, UTC).hour for r in report["runs"]]
    assert hours == [8, 8, 8, 7, 7, 7]
    assert {r["trigger"] for r in report["runs"]} == {"backfill"}
    assert {r["state"] for r in report["runs"]} == {"succeeded"}
    again = client.post(path, json={**week, "overlap": "allow"}).json()
    assert again["runs"] == [] and len(again["existing"]) == 6

    future = client.post(path, json={"start": week["start"], "end": _ms(2999, 1, 1)})
    assert future.status_code == 422
    assert future.json()["details"] == [{"field": "end", "message": "backfill_range_in_future"}]
    unknown = client.post(path, json={**week, "slots": 3})
    assert unknown.status_code == 422
    missing = client.post("/automation/automation_missing/backfill", json=week)
    assert missing.status_code == 404

    changed = client.put(f"/automation/{automation['id']}", json={"jitter": 0})
    assert changed.status_code == 200 and changed.json()["jitter"] == 0
    too_much = client.put(f"/automation/{automation['id']}", json={"jitter": 7_200_000})
    assert too_much.status_code == 422


def test_the_document_describes_backfill_and_jitter(server: Server) -> None:
    document = server.client().get("/openapi.json").json()
    operation = document["paths"]["/automation/{id}/backfill"]["post"]
    assert operation["operationId"] == "backfillAutomation"
    schemas = document["components"]["schemas"]
    assert set(schemas["BackfillBody"]["properties"]) == {"start", "end", "overlap"}
    assert {"slots", "done", "runs", "existing"} <= set(schemas["BackfillReport"]["properties"])
    assert "jitter" in schemas["NewAutomation"]["properties"]
    assert "jitter" in schemas["AutomationUpdate"]["properties"]
    assert "plannedAt" in schemas["Run"]["properties"]
    assert "backfill" in schemas["Trigger"]["enum"]
