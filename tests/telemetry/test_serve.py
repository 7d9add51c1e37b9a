"""`automations serve` as an operator runs it: `--metrics` on a port of its own,
`/metrics` beside `--http`, and `--log-format json` lines on standard error."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..http.harness import _env, free_port, running_server

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


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_serve_metrics_alone_without_the_http_api(tmp_path: Path, backend: str) -> None:
    port = free_port()
    command = [sys.executable, "-m", "automations", "--db", str(tmp_path / "m.db")]
    command += ["serve", "--metrics", f"127.0.0.1:{port}"]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=_env(backend, {}), cwd=tmp_path, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + 30
        while True:  # polled with a deadline until the port answers, never a bare sleep
            assert process.poll() is None, log.read_text()
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except httpx.TransportError:
                text = ""
            if 'automations_lease_held{directory="' in text and "} 1.0" in text:
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    output = log.read_text()
    assert process.returncode == 0, output
    assert f"metrics on http://127.0.0.1:{port}/metrics" in output
    assert "HTTP API" not in output and "Traceback" not in output
