"""`add` warns when the worker serving the project has no executor of that name
(issue 21, item 8): its runs would fail `execution_failed` without a word."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import automations as am

from .test_cli import _read_until, _rest, _start, cli


def test_add_says_nothing_when_it_cannot_tell(tmp_path: Path) -> None:
    db = tmp_path / "automations.db"
    added = cli(db, "add", "Lonely", "--every", "1h", "--executor", "nosuch")
    assert "warning" not in added.stderr  # no worker serves: nothing to compare with


@pytest.mark.anyio
async def test_add_warns_when_the_serving_worker_lacks_the_executor(
    tmp_path: Path, anyio_backend: str
) -> None:
    db = tmp_path / "automations.db"
    serve = await _start(db, anyio_backend, "serve")
    try:
        await _read_until(serve, "Ctrl-C to stop")
        missing = cli(db, "add", "Agent", "--every", "1h", "--executor", "myagent")
        assert missing.returncode == 0  # created all the same: a worker may come
        assert missing.stderr.strip().splitlines() == [
            "warning: no worker has executor 'myagent': the worker serving this project has "
            "demo; its runs will fail until a worker registers it (automations serve "
            "--executor myagent=module:function)"
        ]
        fine = cli(db, "add", "Demo", "--every", "1h")
        assert fine.stderr == ""
        scope = {"project": "cli-tests", "directory": str(tmp_path)}
        async with am.open_runtime(db, role="client", **scope) as client:  # type: ignore[arg-type]
            assert await client.served_executors() == frozenset({"demo"})
    finally:
        serve.send_signal(signal.SIGINT)
        log = await _rest(serve)
    assert serve.returncode == 0, log
    async with am.open_runtime(db, role="client", **scope) as client:  # type: ignore[arg-type]
        assert await client.served_executors() is None  # nobody serves it now
