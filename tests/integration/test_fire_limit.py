"""`max_scheduled_runs`: how many scheduled runs go on at once; due slots wait their turn."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest

import automations as am
from automations.actors import _scheduler as scheduler
from automations.api import Runtime
from automations.model import Scope
from automations.persistence.sqlite import Reader
from automations.testing import ManualClock

from .conftest import Gate, OpenRuntime, new

pytestmark = pytest.mark.anyio

EVERY_FIVE = am.Cron("*/5 * * * *")


class Counting:
    """An executor that counts the runs going on at once and waits for its release."""

    def __init__(self) -> None:
        self.going = 0
        self.most = 0
        self.started = 0
        self.release = anyio.Event()
        self._changed = anyio.Event()

    async def wait_started(self, count: int) -> None:
        while self.started < count:
            await self._changed.wait()

    async def __call__(self, ctx: am.RunContext) -> None:
        self.going += 1
        self.started += 1
        self.most = max(self.most, self.going)
        self._changed.set()
        self._changed = anyio.Event()
        try:
            await self.release.wait()
        finally:
            self.going -= 1


async def _terminal_runs(rt: Runtime, count: int) -> dict[str, am.Run]:
    """The first run to end of each of `count` automations, by automation id."""
    ended: dict[str, am.Run] = {}
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                if isinstance(event, am.RunUpdated) and event.run.state.is_terminal:
                    ended.setdefault(event.run.automation_id, event.run)
                    if len(ended) >= count:
                        break
    return ended


async def _create_on_one_slot(rt: Runtime, count: int) -> list[am.Automation]:
    return await rt.create_many(
        new(title=f"shared slot {i}", schedule=EVERY_FIVE, timezone="UTC", overlap="allow")
        for i in range(count)
    )


async def _reach_slot(clock: ManualClock, automations: list[am.Automation]) -> datetime:
    """Move the clock to the automations' shared next slot once the scheduler sleeps."""
    slot = automations[0].next_fire_at
    assert slot is not None and all(a.next_fire_at == slot for a in automations)
    await clock.wait_sleepers(1)
    clock.set(slot)
    return slot


async def test_a_slot_shared_by_more_automations_than_the_limit_runs_them_in_turn(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    agent = Counting()
    async with runtime_factory({"default": agent}, max_scheduled_runs=2) as rt:
        automations = await _create_on_one_slot(rt, 5)
        slot = await _reach_slot(clock, automations)
        await agent.wait_started(2)
        await anyio.wait_all_tasks_blocked()
        assert (agent.started, rt._supervisor.fire_limit.taken) == (2, 2)  # three slots wait
        agent.release.set()
        runs = await _terminal_runs(rt, 5)
    assert agent.most == 2
    assert sorted(runs) == sorted(a.id for a in automations)
    assert all(r.state is am.RunState.SUCCEEDED and r.triggered_at == slot for r in runs.values())


async def test_a_slot_that_waits_past_its_catchup_window_is_recorded_missed(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}, max_scheduled_runs=1) as rt:
        slot = await _reach_slot(clock, await _create_on_one_slot(rt, 2))
        await gate.wait_calls(1)
        clock.set(slot + timedelta(seconds=90))  # the waiting slot is now 90 s late
        gate.release.set()
        runs = await _terminal_runs(rt, 2)
    ran, waited = sorted(runs.values(), key=lambda r: r.missed is not None)
    assert ran.state is am.RunState.SUCCEEDED and ran.triggered_at == slot
    assert waited.stop_reason is am.StopReason.MISSED_SCHEDULE
    assert waited.missed is not None
    assert (waited.missed.first, waited.missed.last, waited.missed.count) == (slot, slot, 1)
    assert len(gate.calls) == 1


async def test_run_now_takes_no_permit(runtime_factory: OpenRuntime, clock: ManualClock) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}, max_scheduled_runs=1) as rt:
        scheduled = await _create_on_one_slot(rt, 1)
        manual = await rt.create(new(title="by hand", overlap="allow"))
        await _reach_slot(clock, scheduled)
        await gate.wait_calls(1)  # the scheduled run holds the only permit
        await rt.run_now(manual.id)
        await gate.wait_calls(2)
        gate.release.set()
        runs = await _terminal_runs(rt, 2)
    assert {r.state for r in runs.values()} == {am.RunState.SUCCEEDED}


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "3"])
async def test_the_limit_must_be_a_positive_int_or_none(
    runtime_factory: OpenRuntime, limit: object
) -> None:
    with pytest.raises(am.ValidationError) as caught:
        async with runtime_factory(max_scheduled_runs=limit):
            pass
    assert caught.value.details == [("max_scheduled_runs", "must_be_positive_int_or_none")]


async def test_freed_permits_gather_into_a_round(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    """With room for 16 (a round is 2), one freed permit waits 20 ms for another."""
    releases: dict[str, anyio.Event] = {}
    started = anyio.Event()

    async def agent(ctx: am.RunContext) -> None:
        nonlocal started
        releases[ctx.run.automation_id] = release = anyio.Event()
        started.set()
        await release.wait()

    async def wait_started(count: int) -> None:
        nonlocal started
        while len(releases) < count:
            await started.wait()
            started = anyio.Event()

    async with runtime_factory({"default": agent}, max_scheduled_runs=16) as rt:
        assert rt._supervisor.fire_limit.round == 2
        slot = await _reach_slot(clock, await _create_on_one_slot(rt, 17))
        await wait_started(16)
        releases[next(iter(releases))].set()
        await _terminal_runs(rt, 1)
        await anyio.wait_all_tasks_blocked()
        # One permit is free, not a round yet: it stays free until 20 ms have passed.
        assert (len(releases), rt._supervisor.fire_limit.taken) == (16, 15)
        clock.set(slot + timedelta(milliseconds=20))
        await wait_started(17)
        for release in releases.values():
            release.set()
        runs = await _terminal_runs(rt, 17)
    assert all(r.state is am.RunState.SUCCEEDED and r.triggered_at == slot for r in runs.values())


async def test_a_slot_shared_by_more_than_a_refill_reads_each_batch_once(
    runtime_factory: OpenRuntime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The due-index reads 3 rows at a time here. A read cut at its last slot is due
    again when that slot is; it is read again once the slots read before have fired
    (the start-up read, then three), not at every round of two fires (eight or more)."""
    async with runtime_factory() as rt:
        automations = await _create_on_one_slot(rt, 7)
    slot = automations[0].next_fire_at
    assert slot is not None
    reads: list[int] = []
    due = Reader.due

    async def counting(self: Reader, scope: Scope, until_ms: int, limit: int) -> Any:
        rows = await due(self, scope, until_ms, limit)
        reads.append(len(rows))
        return rows

    monkeypatch.setattr(scheduler, "_BATCH", 3)
    monkeypatch.setattr(Reader, "due", counting)
    async with runtime_factory(max_scheduled_runs=2) as rt:
        await clock.wait_sleepers(1)
        clock.set(slot)
        runs = await _terminal_runs(rt, 7)
    assert sorted(runs) == sorted(a.id for a in automations)
    assert all(r.state is am.RunState.SUCCEEDED and r.triggered_at == slot for r in runs.values())
    assert len(reads) <= 4, reads


async def test_a_cancelled_run_gives_its_permit_to_the_slot_waiting(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}, max_scheduled_runs=1) as rt:
        first, second = await _create_on_one_slot(rt, 2)
        await _reach_slot(clock, [first, second])
        await gate.wait_calls(1)  # one run holds the only permit; the other slot waits
        holder = await rt.get_run(gate.calls[0])
        await rt.cancel(holder.id)
        await gate.wait_calls(2)  # the waiting slot fired with the freed permit
        gate.release.set()
        runs = await _terminal_runs(rt, 2)
    states = {run.automation_id: run.state for run in runs.values()}
    waited = second.id if holder.automation_id == first.id else first.id
    assert states == {holder.automation_id: am.RunState.STOPPED, waited: am.RunState.SUCCEEDED}
    assert rt._supervisor.fire_limit.taken == 0
