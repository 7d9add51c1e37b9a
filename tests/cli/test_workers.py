"""`automations workers`: the live workers, as a table for people and as JSON."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from automations.api import open_runtime
from automations.cli import main

from .terminal import Worker


def _workers(db: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["--db", str(db), "--project", "fleet", "workers", *args]) == 0
    return capsys.readouterr().out


def _leads(listed: list[dict[str, object]]) -> int:
    scopes = listed[0]["scopes"] if listed else []
    assert isinstance(scopes, list)
    return len(scopes)


def test_workers_lists_a_running_worker_then_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    db = tmp_path / "automations.db"
    opened = open_runtime(db, project="fleet", directory=str(tmp_path), max_scheduled_runs=3)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(opened):
        # A worker opened alone has written its row by the time it is open.
        (listed,) = json.loads(_workers(db, capsys, "--json"))
        assert (listed["pid"], listed["capacity"], listed["running"]) == (os.getpid(), 3, 0)
        assert set(listed) >= {"id", "host", "startedAt", "heartbeatAt", "expiresAt", "scopes"}
        table = _workers(db, capsys)
        assert listed["id"] in table and "0 of 3" in table
    assert "no worker is running" in _workers(db, capsys)
    assert json.loads(_workers(db, capsys, "--json")) == []


def test_serve_all_scopes_leads_every_scope_and_workers_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "automations.db"
    for directory in ("/repo/a", "/repo/b"):
        args = ["--db", str(db), "--project", "fleet", "--directory", directory]
        assert main([*args, "add", "Brief", "--every", "1h"]) == 0
    env = dict(os.environ, AUTOMATIONS_DB=str(db), AUTOMATIONS_PROJECT="fleet")
    worker = Worker(env, tmp_path, "--all-scopes")
    try:
        worker.read_until("serving every scope")
        deadline = time.monotonic() + 30
        while _leads(listed := json.loads(_workers(db, capsys, "--json"))) < 2:
            assert time.monotonic() < deadline, listed
            time.sleep(0.05)  # the worker's next heartbeat, in another process
        (fleet,) = listed
        assert fleet["fleet"] is True and fleet["pid"] == worker.process.pid
        assert {scope["directory"] for scope in fleet["scopes"]} == {"/repo/a", "/repo/b"}
    finally:
        log = worker.stop()
    assert "stopped cleanly" in log
