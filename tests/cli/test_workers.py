"""`automations workers`: the live workers, as a table for people and as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from automations.api import open_runtime
from automations.cli import main


def _workers(db: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["--db", str(db), "--project", "fleet", "workers", *args]) == 0
    return capsys.readouterr().out


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
