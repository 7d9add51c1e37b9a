"""SIGKILL during a retry's backoff: the retry is durable, and the next lease holder
starts it when it is due."""

from __future__ import annotations

import os
import signal
import sys
from datetime import timedelta
from typing import Any

import anyio
import pytest

import automations as am

from .test_failover import ROOT, _read_line

pytestmark = pytest.mark.anyio

SCOPE: dict[str, Any] = {"project": "crash", "directory": "/crash"}
BACKOFF = timedelta(seconds=2)


async def succeeds(ctx: am.RunContext) -> str:
    return "done"


async def test_a_retry_waiting_when_its_worker_is_killed_runs_in_the_next_worker(
    location: str,
) -> None:
    async with am.open_runtime(location, **SCOPE) as setup:
        policy = am.RetryPolicy(max_attempts=2, backoff=BACKOFF)
        a = await setup.create(
            am.NewAutomation(
                title="flaky",
                prompt="crash test",
                timezone="UTC",
                schedule=am.Cron("0 0 1 1 *"),
                retry=policy,
            )
        )
    command = [sys.executable, "-m", "tests.crash.retrier", location, a.id]
    async with await anyio.open_process(command, cwd=ROOT) as worker:
        try:
            first_id = (await _read_line(worker)).strip()
            os.kill(worker.pid, signal.SIGKILL)
            await worker.wait()
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    async with am.open_runtime(location, executors={"default": succeeds}, **SCOPE) as rt:
        runs = {run.attempt: run for run in (await rt.runs(a.id, limit=10)).items}
        first, retry = runs[1], runs[2]
        assert first.id == first_id and first.state is am.RunState.FAILED
        assert retry.retry_of == first_id and retry.trigger is am.Trigger.RETRY
        assert first.completed_at is not None
        assert retry.triggered_at == first.completed_at + BACKOFF
        ended = await rt.wait(retry.id, timeout=15)
        assert ended.state is am.RunState.SUCCEEDED, ended
        assert ended.started_at is not None and ended.started_at >= retry.triggered_at
        assert sorted(run.attempt for run in (await rt.runs(a.id, limit=10)).items) == [1, 2]
