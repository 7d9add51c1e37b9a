"""SIGKILL of the lease holder: a standby takes over, and the dead worker's runs end."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import anyio.abc
import pytest

import automations as am

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


SCOPE: dict[str, Any] = {
    "project": "crash",
    "directory": "/crash",
    "min_interval": timedelta(seconds=1),
}


class Failover(NamedTuple):
    worker: anyio.abc.Process
    """Holds the lease; one of its runs blocks in its executor, one on a question."""
    standby: am.Runtime
    ticking: str
    """An automation on a one-second interval."""
    ids: dict[str, str]
    """The worker's blocked runs: `running` and `waiting`."""


@asynccontextmanager
async def _holder_and_standby(location: str) -> AsyncIterator[Failover]:
    db = location
    async with am.open_runtime(db, **SCOPE) as setup:
        ticking = await setup.create(_new("tick", am.Interval(every=timedelta(seconds=1))))
        blocking = await setup.create(_new("blocking", am.Cron("0 0 1 1 *"), "blocking"))
        asking = await setup.create(_new("asking", am.Cron("0 0 1 1 *"), "asking"))
    command = [sys.executable, "-m", "tests.crash.worker", db, blocking.id, asking.id]
    async with await anyio.open_process(command, cwd=ROOT) as worker:
        try:
            ids = json.loads(await _read_line(worker))
            async with am.open_runtime(db, executors={"default": _noop}, **SCOPE) as standby:
                yield Failover(worker, standby, ticking.id, ids)
        finally:
            if worker.returncode is None:
                worker.kill()
            await worker.wait()


async def test_killing_the_lease_holder_hands_over_and_reconciles(location: str) -> None:
    async with _holder_and_standby(location) as (worker, standby, ticking, ids):
        killed_at = time.time()
        os.kill(worker.pid, signal.SIGKILL)
        running = await standby.wait(ids["running"], timeout=15)
        waiting = await standby.wait(ids["waiting"], timeout=15)
        assert (running.state, running.stop_reason) == (
            am.RunState.STOPPED,
            am.StopReason.EXPIRED,
        )
        assert waiting.stop_reason is am.StopReason.BLOCKER_LOST
        fired = await _first_scheduled_after(standby, ticking, killed_at)
        takeover = fired.triggered_at.timestamp() - killed_at
        print(f"standby fired the first slot {takeover:.3f} s after the kill")
        # Executed, not just ended: a run the dead worker recorded ahead of its slot,
        # killed before it, is started by the standby.
        assert fired.trigger is am.Trigger.SCHEDULE
        assert fired.state is am.RunState.SUCCEEDED, fired
        assert takeover < 5  # a liveness bound, not a speed claim: see the benchmarks


async def test_a_run_the_killed_holder_recorded_ahead_of_its_slot_is_started_by_the_standby(
    location: str,
) -> None:
    async with _holder_and_standby(location) as (worker, standby, ticking, _):
        claimed = await _run_recorded_ahead(standby, ticking)
        os.kill(worker.pid, signal.SIGKILL)
        assert time.time() < claimed.triggered_at.timestamp()  # killed before its slot
        started = await standby.wait(claimed.id, timeout=15)
        assert started.state is am.RunState.SUCCEEDED, started
        assert started.started_at is not None
        assert started.started_at >= started.triggered_at


async def _run_recorded_ahead(rt: am.Runtime, automation_id: str) -> am.Run:
    """The first run of the automation that the events show `scheduled` for a slot to come."""

    def ahead(run: am.Run) -> bool:
        return run.state is am.RunState.SCHEDULED and run.triggered_at.timestamp() > time.time()

    return await _first_run(rt, automation_id, ahead)


async def _noop(ctx: am.RunContext) -> None:
    return None


def _new(
    title: str, schedule: am.Cron | am.Interval, executor: str = "default"
) -> am.NewAutomation:
    return am.NewAutomation(
        title=title,
        prompt="crash test",
        timezone="UTC",
        schedule=schedule,
        executor=executor,
        overlap=am.Overlap.ALLOW,
    )


async def _read_line(worker: anyio.abc.Process) -> str:
    assert worker.stdout is not None
    data = b""
    with anyio.fail_after(30):
        while not data.endswith(b"\n"):
            try:
                data += await worker.stdout.receive()
            except anyio.EndOfStream:
                raise AssertionError(f"the worker ended early: {data!r}") from None
    return data.decode()


async def _first_scheduled_after(rt: am.Runtime, automation_id: str, after: float) -> am.Run:
    def ended_after(run: am.Run) -> bool:
        return run.state.is_terminal and run.triggered_at.timestamp() > after

    return await _first_run(rt, automation_id, ended_after)


async def _first_run(
    rt: am.Runtime, automation_id: str, matches: Callable[[am.Run], bool]
) -> am.Run:
    """The first revision of a run of the automation, in the events, that `matches`."""
    with anyio.fail_after(15):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.automation_id == automation_id and matches(run):
                    return run
    raise AssertionError("no run of the automation matched")
