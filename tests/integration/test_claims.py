"""A slot's run is recorded `CLAIM_MS` ahead of it, still `scheduled`, and is
`running` from its slot on, never before it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import anyio
import pytest

import automations as am
from automations.actors._slot_starts import CLAIM_MS
from automations.api import Runtime
from automations.model import Scope
from automations.persistence import Operation, PendingWrite, SaveRun
from automations.persistence._group_commit import GroupCommit
from automations.persistence._sql import SqlStore
from automations.testing import ManualClock

from .conftest import Gate, OpenRuntime, definition_where, every, new

pytestmark = pytest.mark.anyio

CLAIM = timedelta(milliseconds=CLAIM_MS)
T = TypeVar("T")


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
    await clock.wait_sleeper_until(slot)  # the alarm of the slot's runs
    clock.set(slot)


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


async def test_running_is_never_recorded_before_the_slot(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, _, slot, claimed):
        seen: list[am.Run] = []
        async with rt.events(0) as events:
            await clock.wait_sleeper_until(slot)
            clock.set(slot - timedelta(milliseconds=1))  # the last instant before the slot
            await clock.wait_sleeper_until(slot)  # the alarm, still waiting for the slot
            await rt.create(new(title="Written after that instant, so it was handled"))
            assert (await rt.get_run(claimed.id)).state is am.RunState.SCHEDULED
            clock.set(slot)
            with anyio.fail_after(10):
                async for event in events:
                    if isinstance(event, am.RunUpdated) and event.run.id == claimed.id:
                        seen.append(event.run)
                        if event.run.state.is_terminal:
                            break
        running = [run for run in seen if run.state is am.RunState.RUNNING]
        assert [run.started_at for run in running] == [slot]
        assert stamps.at == [slot]


async def test_a_process_late_for_the_slot_records_the_start_it_made(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, _, slot, claimed):
        await clock.wait_sleeper_until(slot)
        late = slot + timedelta(seconds=5)  # stalled past the slot, within the window
        clock.set(late)
        ended = await rt.wait(claimed.id, timeout=10)
        assert ended.state is am.RunState.SUCCEEDED
        assert ended.started_at == late and stamps.at == [late]


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


async def test_the_runs_of_a_slot_all_call_their_executors_before_any_records_its_end(
    runtime_factory: OpenRuntime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An end is bookkeeping; a start is what the slot waits for (the fire lag)."""
    order: list[tuple[str, str]] = []
    submit = GroupCommit.submit

    def noting(self: GroupCommit[Any], operation: Operation[T]) -> PendingWrite[T]:
        if isinstance(operation, SaveRun) and operation.run.state.is_terminal:
            order.append(("end", operation.run.id))
        return submit(self, operation)

    async def noted(ctx: am.RunContext) -> None:
        order.append(("call", ctx.run.id))

    monkeypatch.setattr(GroupCommit, "submit", noting)
    async with runtime_factory({"default": noted}) as rt:
        crowd = [await rt.create(new(title=f"crowd {i}", schedule=every(60))) for i in range(4)]
        slot = crowd[0].next_fire_at
        assert slot is not None and {a.next_fire_at for a in crowd} == {slot}
        await clock.wait_sleepers(1)
        clock.set(slot - CLAIM)
        await clock.wait_sleeper_until(slot)  # the alarm of the slot's runs
        for a in crowd:  # every run of the slot recorded ahead of it
            await definition_where(rt, a.id, lambda x: x.next_fire_at != slot)
        runs = [(await rt.runs(a.id, limit=1)).items[0] for a in crowd]
        clock.set(slot)
        for run in runs:
            assert (await rt.wait(run.id, timeout=10)).state is am.RunState.SUCCEEDED
    kinds = [kind for kind, _ in order]
    assert kinds == ["call"] * len(crowd) + ["end"] * len(crowd)
    assert {run_id for _, run_id in order} == {run.id for run in runs}


@pytest.mark.parametrize("change", ["delete", "pause"])
async def test_deleting_or_pausing_the_automation_before_the_slot_cancels_its_recorded_run(
    runtime_factory: OpenRuntime, clock: ManualClock, change: str
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, a, slot, claimed):
        await (rt.delete(a.id) if change == "delete" else rt.pause(a.id))
        cancelled = await rt.wait(claimed.id, timeout=10)
        assert (cancelled.state, cancelled.stop_reason) == (
            am.RunState.STOPPED,
            am.StopReason.CANCELLED,
        )
        clock.set(slot + timedelta(seconds=1))
        await rt.create(new(title="Written after the slot passed, so it was handled"))
        assert stamps.at == []


@pytest.mark.parametrize("outcome", ["committed", "refused"])
async def test_a_slot_that_comes_while_a_pause_is_written_waits_for_its_outcome(
    runtime_factory: OpenRuntime,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    outcome: str,
) -> None:
    """The slot's alarm rings while the pause is on its way to the database: its
    claimed run does not start; the pause committed takes it back, a pause refused
    lets it start (late, within its catch-up window)."""
    stamps = Stamps(clock)
    writing, go_on = anyio.Event(), anyio.Event()
    original = SqlStore.update_automation

    async def slow_pause(self: SqlStore, scope: Scope, automation: am.Automation, **kw: Any) -> int:
        if automation.paused:
            writing.set()
            await go_on.wait()
            if outcome == "refused":
                raise am.StorageError("the disk is full (simulated)")
        return await original(self, scope, automation, **kw)

    monkeypatch.setattr(SqlStore, "update_automation", slow_pause)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, a, slot, claimed):
        async with anyio.create_task_group() as tg:

            async def pause() -> None:
                with pytest.raises(am.StorageError) if outcome == "refused" else nullcontext():
                    await rt.pause(a.id)

            tg.start_soon(pause)
            await writing.wait()
            await _reach(clock, slot)  # the alarm rings: the run is held back
            await anyio.wait_all_tasks_blocked()
            assert stamps.at == []
            go_on.set()
        ended = await rt.wait(claimed.id, timeout=10)
        if outcome == "committed":
            assert (ended.state, ended.stop_reason) == (
                am.RunState.STOPPED,
                am.StopReason.CANCELLED,
            )
            assert stamps.at == []
        else:
            assert ended.state is am.RunState.SUCCEEDED
            assert stamps.at == [slot]


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
