"""Jitter on a ManualClock, on both stores: a crowd on one slot starts spread out."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import anyio
import pytest

import automations as am
from automations.actors._slot_starts import CLAIM_MS
from automations.model import to_json
from automations.schedules import jitter_offset
from automations.testing import ManualClock

from .conftest import OpenRuntime, new

pytestmark = pytest.mark.anyio

SLOT = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
JITTER = timedelta(seconds=10)
CROWD = 1000


class Starts:
    """The executor: notes when each run starts, and wakes a test waiting for a count."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.at: dict[str, datetime] = {}
        self.calls = 0
        self._changed = anyio.Event()

    async def __call__(self, ctx: am.RunContext) -> None:
        self.calls += 1
        self.at[ctx.run.id] = self.clock.now()
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, count: int) -> None:
        with anyio.fail_after(30, reason=f"{self.calls} of {count} at {self.clock.now()}"):
            while self.calls < count:
                await self._changed.wait()


async def _recorded(rt: am.Runtime, count: int) -> dict[str, am.Run]:
    """Wait until `count` runs are recorded `scheduled` ahead of their start."""
    runs: dict[str, am.Run] = {}
    with anyio.fail_after(30):
        async with rt.events(0) as events:
            async for event in events:
                if isinstance(event, am.RunUpdated) and event.run.state is am.RunState.SCHEDULED:
                    runs[event.run.id] = event.run
                    if len(runs) == count:
                        return runs
    raise AssertionError("the event stream ended")


async def test_a_crowd_on_one_slot_starts_spread_over_the_jitter_window(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    starts = Starts(clock)
    async with runtime_factory({"default": starts}, max_scheduled_runs=None) as rt:
        news = [
            new(title=f"n{k}", schedule=am.Cron("0 10 * * *"), timezone="UTC", jitter=JITTER)
            for k in range(CROWD)
        ]
        crowd = await rt.create_many(news)
        assert all(a.jitter == JITTER and a.next_fire_at == SLOT for a in crowd)
        await clock.wait_sleepers(1)
        clock.set(SLOT - timedelta(milliseconds=CLAIM_MS))  # the slot's runs are recorded
        recorded = await _recorded(rt, CROWD)
        assert starts.calls == 0  # none starts before its planned start
        planned = {run.automation_id: run.planned_at for run in recorded.values()}
        # The instants every process computes from the automation id and the slot.
        assert planned == {a.id: SLOT + jitter_offset(a.id, SLOT, JITTER) for a in crowd}
        step = timedelta(milliseconds=500)
        now = SLOT
        while now <= SLOT + JITTER:
            clock.set(now)
            await starts.wait_for(sum(1 for p in planned.values() if p is not None and p <= now))
            now += step
        await starts.wait_for(CROWD)
        ended = [(await rt.runs(a.id)).items for a in crowd]

    assert starts.calls == CROWD and len(starts.at) == CROWD  # each exactly once
    assert all(len(runs) == 1 for runs in ended)
    runs = [runs[0] for runs in ended]
    assert all(r.triggered_at == SLOT and r.trigger is am.Trigger.SCHEDULE for r in runs)
    for run in runs:
        assert run.planned_at is not None and run.started_at is not None
        assert SLOT <= run.planned_at < SLOT + JITTER
        assert run.planned_at <= starts.at[run.id] == run.started_at < run.planned_at + step
    per_second = Counter(int((r.started_at - SLOT).total_seconds()) for r in runs if r.started_at)
    assert len(per_second) >= 10  # spread over the whole window
    assert max(per_second.values()) <= CROWD * 15 // 100  # no second holds more than 15%


async def test_jitter_is_set_and_changed_like_any_field(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        assert a.jitter == timedelta(0)
        b = await rt.update(a.id, jitter=timedelta(seconds=30))
        assert b.jitter == timedelta(seconds=30) and b.revision == a.revision + 1
        assert b.next_fire_at == a.next_fire_at  # the slot stays; its start moves
        assert (await rt.update(a.id, jitter=timedelta(seconds=30))).revision == b.revision
        with pytest.raises(am.ValidationError) as above:
            await rt.update(a.id, jitter=timedelta(hours=2))
        assert above.value.details == [("jitter", "jitter_above_maximum_1h")]
        with pytest.raises(am.ValidationError) as negative:
            await rt.create(new(jitter=timedelta(seconds=-1)))
        assert negative.value.details == [("jitter", "duration_must_be_positive")]
        assert b'"jitter":30000' in to_json(b)  # milliseconds on the wire


async def test_a_jittered_run_left_by_a_closed_process_starts_within_the_window_of_its_plan(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    """The catch-up window counts from the planned start: a run the next worker finds
    past its slot's window, but within its planned start's, still starts (once)."""
    jitter = timedelta(minutes=10)
    starts = Starts(clock)
    async with runtime_factory({"default": starts}) as rt:
        for k in range(20):  # one planned at least a minute after its slot
            cron = am.Cron("0 10 * * *")
            a = await rt.create(new(title=f"a{k}", schedule=cron, timezone="UTC", jitter=jitter))
            if jitter_offset(a.id, SLOT, jitter) >= timedelta(minutes=1):
                break
            await rt.delete(a.id)
        planned = SLOT + jitter_offset(a.id, SLOT, jitter)
        assert planned - SLOT >= timedelta(minutes=1)
        await clock.wait_sleepers(1)
        clock.set(SLOT - timedelta(milliseconds=CLAIM_MS))
        (claimed,) = (await _recorded(rt, 1)).values()
        assert claimed.planned_at == planned and claimed.triggered_at == SLOT
    late = planned + timedelta(seconds=30)  # past SLOT + 60 s, within planned + 60 s
    clock.set(late)
    async with runtime_factory({"default": starts}) as rt:
        ended = await rt.wait(claimed.id, timeout=10)
        runs = (await rt.runs(a.id)).items
    assert ended.state is am.RunState.SUCCEEDED and ended.started_at == late
    assert starts.calls == 1 and [r.id for r in runs] == [claimed.id]
