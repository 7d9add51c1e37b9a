"""Issue 26's fleet test, at a size a shared two-core machine carries beside the rest of
the suite: three fleet workers (two other processes and this one) over 24 scopes of 5
automations firing every 1 or 2 s. While they fire, one is SIGKILLed and, once the
others lead its scopes, a new one joins and takes its share: every slot of the window
is fired once (or, past a gap, recorded missed), none twice, and the handover of
scopes to the newcomer stops no run (`worker_stopped`). The issue's own size (1,000
scopes) is `python -m benchmarks fleet --churn` (docs/benchmarks.md).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

import automations as am
from automations.actors._balance import DEFAULT_SLACK
from automations.model import Scope, Worker

from ..integration.fleets import until_workers
from .test_failover import _read_line

pytestmark = [pytest.mark.anyio, pytest.mark.xdist_group("fleet-churn")]

ROOT = Path(__file__).resolve().parents[2]
SCOPES = [Scope("fleet", f"/churn/{i}") for i in range(24)]
PER_SCOPE = 5
OPTIONS: dict[str, Any] = {"project": "fleet", "min_interval": timedelta(seconds=1)}
LEAD_S = 4.0
"""From creating the automations to their first slots: the workers open meanwhile."""
WINDOW_S = 12.0
"""At least: the window lasts until a few seconds after the newcomer has its share."""


async def _noop(ctx: am.RunContext) -> None:
    return None


def _every(index: int) -> timedelta:
    return timedelta(seconds=1 + index % 2)


async def _create(location: str, t0: datetime) -> dict[str, tuple[datetime, timedelta]]:
    """Each scope's automations, their first slots spread over the second after `t0`
    (at any moment some scope has a run recorded ahead of its slot): (first slot,
    interval), by id."""
    schedules: dict[str, tuple[datetime, timedelta]] = {}
    for number, scope in enumerate(SCOPES):
        async with am.open_runtime(
            location, role="client", directory=scope.directory, **OPTIONS
        ) as client:
            for index in range(PER_SCOPE):
                k = number * PER_SCOPE + index
                first = t0 + timedelta(milliseconds=1000 * k // (len(SCOPES) * PER_SCOPE))
                schedule = am.Interval(every=_every(index), start=first)
                new = am.NewAutomation(title="t", prompt="p", timezone="UTC", schedule=schedule)
                schedules[(await client.create(new)).id] = (first, _every(index))
    return schedules


def _balanced(workers: Sequence[Worker], count: int) -> bool:
    """`count` workers lead every scope once, none over its fair share and the slack."""
    high = math.ceil(len(SCOPES) / count) + DEFAULT_SLACK
    led = Counter(scope for w in workers for scope in w.scopes)
    return (
        len(workers) == count
        and led == Counter(SCOPES)
        and all(len(w.scopes) <= high for w in workers)
    )


def _second_after(instant: datetime) -> datetime:
    return datetime.fromtimestamp(math.ceil(instant.timestamp()) + 1, UTC)


async def _sleep_until(instant: datetime) -> None:
    await anyio.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))


async def _runs_of(location: str, automations: Iterable[str]) -> list[am.Run]:
    found: list[am.Run] = []
    for scope in SCOPES:
        async with am.open_runtime(
            location, role="client", directory=scope.directory, **OPTIONS
        ) as client:
            for automation in await client.list():
                cursor: str | None = None
                while True:
                    page = await client.runs(automation.id, limit=500, cursor=cursor)
                    found.extend(page.items)
                    if (cursor := page.next_cursor) is None:
                        break
    assert {run.automation_id for run in found} <= set(automations)
    return found


async def test_a_fleet_fires_every_slot_once_through_a_death_and_a_newcomer(
    location: str,
) -> None:
    t0 = datetime.fromtimestamp(math.ceil(time.time() + LEAD_S), UTC)
    schedules = await _create(location, t0)
    command = [sys.executable, "-m", "tests.crash.fleet_worker", location]
    async with (
        await anyio.open_process(command, cwd=ROOT) as doomed,
        await anyio.open_process(command, cwd=ROOT) as other,
        am.open_runtime(
            location, executors={"default": _noop}, directory="/churn/0", scopes="all", **OPTIONS
        ) as fleet,
    ):
        newcomer: anyio.abc.Process | None = None
        try:
            for opened in (doomed, other):
                await _read_line(opened)  # its owner id: it is open
            await until_workers(fleet, lambda ws: _balanced(ws, 3), fleet)
            # The window: from the next whole second once the three share the scopes
            # (and their first slots came), until the churn is some seconds behind.
            start = max(t0, _second_after(datetime.now(UTC)))
            await _sleep_until(start + timedelta(seconds=WINDOW_S / 4))
            os.kill(doomed.pid, signal.SIGKILL)
            await until_workers(fleet, lambda ws: _balanced(ws, 2), fleet)
            newcomer = await anyio.open_process(command, cwd=ROOT)
            await _read_line(newcomer)
            await until_workers(fleet, lambda ws: _balanced(ws, 3), fleet)
            end = max(start + timedelta(seconds=WINDOW_S), _second_after(datetime.now(UTC)))
            await _sleep_until(end + timedelta(seconds=2))  # the window's last slots end
        finally:
            for process in (doomed, other, newcomer):
                if process is not None and process.returncode is None:
                    process.kill()
                    await process.wait()
    window = (start, end)
    runs = await _runs_of(location, schedules)
    per_slot = Counter((run.automation_id, run.slot) for run in runs if run.slot is not None)
    assert [key for key, count in per_slot.items() if count > 1] == []  # none fired twice
    outcomes: Counter[str] = Counter()
    for automation_id, (first, every) in schedules.items():
        covered = {slot for (a, slot) in per_slot if a == automation_id}
        for run in runs:
            if run.automation_id == automation_id and run.missed is not None:
                covered |= {run.missed.first + every * k for k in range(run.missed.count)}
        slot = first
        while slot < window[1]:
            if slot >= window[0]:
                assert slot in covered, f"{automation_id}: slot {slot} neither fired nor missed"
            slot += every
    for run in runs:
        if run.slot is not None and window[0] <= run.slot < window[1]:
            reason = "" if run.stop_reason is None else f"/{run.stop_reason.value}"
            outcomes[f"{run.state.value}{reason}"] += 1
    print(dict(outcomes))
    assert "stopped/worker_stopped" not in outcomes  # the newcomer's share was handed over
    assert outcomes["succeeded"] >= sum(outcomes.values()) * 0.9
