"""`automations serve` as an operator runs it: `--metrics` on a port of its own,
`/metrics` beside `--http`, and `--log-format json` lines on standard error."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from ..http.harness import free_port, running_server

DRAFT = {
    "title": "Observed",
    "prompt": "p",
    "timezone": "UTC",
    "schedule": {"type": "cron", "expression": "0 9 * * *"},
    "executor": "instant",
}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_serve_exports_metrics_and_json_logs(tmp_path: Path, backend: str) -> None:
    port = free_port()
    options = ("--metrics", f"127.0.0.1:{port}", "--log-format", "json", "--log-level", "debug")
    with running_server(tmp_path, backend, *options) as server:
        client = server.client()
        created = client.post("/automation", json=DRAFT)
        assert created.status_code == 200, created.text
        run = client.post(f"/automation/{created.json()['id']}/run").json()
        deadline = time.monotonic() + 20
        while client.get(f"/automation/runs/{run['id']}").json()["state"] != "succeeded":
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        beside = client.get("/metrics")
        alone = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    for response in (beside, alone):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert 'automations_runs_started_total{trigger="manual"} 1.0' in response.text
        assert (
            'automations_runs_ended_total{error_code="",state="succeeded",stop_reason=""} 1.0'
            in response.text
        )
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    transitions = [line for line in lines if line.get("run_id") == run["id"]]
    assert [line["state"] for line in transitions] == ["scheduled", "running", "succeeded"]
    assert all(line["logger"] == "automations.runs" for line in transitions)
    assert all(line["level"] == "DEBUG" for line in transitions)
    assert transitions[0]["automation_id"] == created.json()["id"]
