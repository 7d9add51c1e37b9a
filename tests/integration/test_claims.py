"""A slot's run is recorded `CLAIM_MS` ahead of it and starts at it; with nothing
else of its automation going, it is `running` `AHEAD_MS` ahead, as of the slot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import NamedTuple

import anyio
import pytest

import automations as am
from automations.actors._slot_starts import AHEAD_MS, CLAIM_MS
from automations.api import Runtime
from automations.testing import ManualClock

from .conftest import Gate, OpenRuntime, definition_where, every, new

pytestmark = pytest.mark.anyio

CLAIM = timedelta(milliseconds=CLAIM_MS)
AHEAD = timedelta(milliseconds=AHEAD_MS)


class Stamps:
    """An executor that notes the clock's time as it starts."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.at: list[datetime] = []

    async def __call__(self, ctx: am.RunContext) -> None:
        self.at.append(self.clock.now())


async def _every_minute(rt: Runtime) -> tuple[am.Automation, datetime]:
    """An automation on a one-minute interval (overlap "skip"), and its first slot."""
    a = await rt.create(new(schedule=every(60)))
    assert a.next_fire_at is not None
    return a, a.next_fire_at


async def _claim(rt: Runtime, clock: ManualClock, a: am.Automation, slot: datetime) -> am.Run:
    """Move the clock to where the run of `a`'s `slot` is recorded; that run."""
    await clock.wait_sleepers(1)  # the scheduler
    clock.set(slot - CLAIM)
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.automation_id == a.id and run.triggered_at == slot:
                    assert run.state is am.RunState.SCHEDULED
                    return run
    raise AssertionError("the event stream ended")


class Recorded(NamedTuple):
    rt: Runtime
    a: am.Automation
    slot: datetime
    run: am.Run
    """The run of `slot`, recorded and not started."""


@asynccontextmanager
async def _recorded_ahead(
    runtime_factory: OpenRuntime, clock: ManualClock, executor: am.Executor
) -> AsyncIterator[Recorded]:
    async with runtime_factory({"default": executor}) as rt:
        a, slot = await _every_minute(rt)
        yield Recorded(rt, a, slot, await _claim(rt, clock, a, slot))


async def _reach(clock: ManualClock, slot: datetime) -> None:
    await clock.wait_sleeper_until(slot - AHEAD)  # the alarm of the slot's runs
    clock.set(slot)


async def _just_ahead(clock: ManualClock, slot: datetime) -> None:
    """Move the clock to where the slot's runs may be admitted, and past that moment."""
    await clock.wait_sleeper_until(slot - AHEAD)
    clock.set(slot - AHEAD)
    await clock.wait_sleeper_until(slot)  # the alarm, now for the slot itself


async def _runs_at_its_slot_after(
    rt: Runtime, clock: ManualClock, gate: Gate, first: am.Run, claimed: am.Run, slot: datetime
) -> None:
    """`claimed`, still scheduled, was not admitted ahead because of `first`, which
    ends before the slot: the claimed run then starts at its slot all the same."""
    assert (await rt.get_run(claimed.id)).state is am.RunState.SCHEDULED
    gate.release.set()
    assert (await rt.wait(first.id, timeout=10)).state is am.RunState.SUCCEEDED

    clock.set(slot)
    ran = await rt.wait(claimed.id, timeout=10)
    assert ran.state is am.RunState.SUCCEEDED and ran.started_at == slot
    assert gate.calls == [first.id, claimed.id]


async def _run_event(rt: Runtime, run_id: str, state: am.RunState) -> am.Run:
    """The run as its event in `state` publishes it."""
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.id == run_id and run.state is state:
                    return run
    raise AssertionError("the event stream ended")


async def test_a_slot_s_run_is_recorded_ahead_of_it_and_starts_at_it(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, a, slot, claimed):
        assert claimed.trigger is am.Trigger.SCHEDULE and claimed.triggered_at == slot
        await definition_where(rt, a.id, lambda x: x.next_fire_at == slot + timedelta(seconds=60))
        assert stamps.at == []  # recorded, not started

        await _reach(clock, slot)
        ended = await rt.wait(claimed.id, timeout=10)
        assert ended.state is am.RunState.SUCCEEDED and ended.started_at == slot
        assert stamps.at == [slot]


async def test_with_nothing_else_going_a_run_is_running_ahead_of_its_slot_and_starts_at_it(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, _, slot, claimed):
        await _just_ahead(clock, slot)
        running = await _run_event(rt, claimed.id, am.RunState.RUNNING)
        assert running.started_at == slot and stamps.at == []  # durable, not started

        clock.set(slot)
        ended = await rt.wait(claimed.id, timeout=10)
        assert ended.state is am.RunState.SUCCEEDED and stamps.at == [slot]


async def test_a_process_late_for_the_slot_records_the_start_it_made(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, _, slot, claimed):
        await clock.wait_sleeper_until(slot - AHEAD)
        late = slot + timedelta(seconds=5)  # stalled past the slot, within the window
        clock.set(late)
        ended = await rt.wait(claimed.id, timeout=10)
        assert ended.state is am.RunState.SUCCEEDED
        assert ended.started_at == late and stamps.at == [late]


async def test_a_run_going_ahead_of_the_slot_but_over_by_it_does_not_skip_it(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a, slot = await _every_minute(rt)
        claimed = await _claim(rt, clock, a, slot)
        manual = await rt.run_now(a.id)
        await gate.wait_calls(1)
        await _just_ahead(clock, slot)  # left for the slot
        await _runs_at_its_slot_after(rt, clock, gate, manual, claimed, slot)


async def test_a_writer_key_busy_ahead_of_the_slot_is_looked_at_again_at_the_slot(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a, slot = await _every_minute(rt)
        other = await rt.create(new(title="Same project, same writer key"))
        holder = await rt.run_now(other.id)
        await gate.wait_calls(1)
        claimed = await _claim(rt, clock, a, slot)
        await _just_ahead(clock, slot)  # `running` refused: the key is held
        await rt.create(new(title="Written after the refusal, so it was handled"))
        await _runs_at_its_slot_after(rt, clock, gate, holder, claimed, slot)


async def test_the_overlap_policy_looks_at_the_runs_going_on_at_the_slot(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with _recorded_ahead(runtime_factory, clock, gate) as (rt, a, slot, claimed):
        manual = await rt.run_now(a.id)  # started after the record, before the slot
        await gate.wait_calls(1)

        await _reach(clock, slot)
        skipped = await rt.wait(claimed.id, timeout=10)
        assert skipped.state is am.RunState.STOPPED
        assert skipped.stop_reason is am.StopReason.PREVIOUS_RUN_AWAITING_INPUT
        assert gate.calls == [manual.id]
        gate.release.set()
        assert (await rt.wait(manual.id, timeout=10)).state is am.RunState.SUCCEEDED


async def test_a_run_going_when_the_slot_is_recorded_but_over_by_the_slot_does_not_skip_it(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a, slot = await _every_minute(rt)
        manual = await rt.run_now(a.id)
        await gate.wait_calls(1)
        claimed = await _claim(rt, clock, a, slot)
        gate.release.set()
        assert (await rt.wait(manual.id, timeout=10)).state is am.RunState.SUCCEEDED

        await _reach(clock, slot)
        ran = await rt.wait(claimed.id, timeout=10)
        assert ran.state is am.RunState.SUCCEEDED
        assert gate.calls == [manual.id, claimed.id]


async def test_deleting_the_automation_before_the_slot_cancels_its_recorded_run(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, a, _, claimed):
        await rt.delete(a.id)
        cancelled = await rt.wait(claimed.id, timeout=10)
        assert (cancelled.state, cancelled.stop_reason) == (
            am.RunState.STOPPED,
            am.StopReason.CANCELLED,
        )
        assert stamps.at == []


@pytest.mark.parametrize(
    ("back_after", "state"),
    [(timedelta(seconds=5), am.RunState.SUCCEEDED), (timedelta(seconds=90), am.RunState.STOPPED)],
    ids=["within-the-catchup-window", "past-it"],
)
async def test_a_run_recorded_before_a_restart_is_started_by_the_next_runtime_in_time(
    runtime_factory: OpenRuntime,
    clock: ManualClock,
    back_after: timedelta,
    state: am.RunState,
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (_, a, slot, claimed):
        pass
    # Closed before the slot: the run was left `scheduled`, not cancelled.
    clock.set(slot + back_after)
    async with runtime_factory({"default": stamps}) as rt:
        ended = await rt.wait(claimed.id, timeout=10)
        assert ended.state is state
        if state is am.RunState.SUCCEEDED:
            assert ended.started_at == slot + back_after and stamps.at == [slot + back_after]
        else:
            assert ended.stop_reason is am.StopReason.EXPIRED and stamps.at == []
        page = await rt.runs(a.id, limit=100)
        assert [r.id for r in page.items if r.triggered_at == slot] == [claimed.id]
