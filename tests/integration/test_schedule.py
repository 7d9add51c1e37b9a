"""Scheduled fires on a ManualClock: the clock moves only when the test says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

import automations as am
from automations.actors._slot_starts import CLAIM_MS
from automations.api import Runtime
from automations.testing import ManualClock

from .conftest import OpenRuntime, definition_where, every, new

pytestmark = pytest.mark.anyio


async def _ended_runs(rt: Runtime, automation_id: str, count: int) -> list[am.Run]:
    """Wait until `count` runs of the automation have ended; all its ended runs."""
    ended: dict[str, am.Run] = {}
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.automation_id == automation_id and run.state.is_terminal:
                    ended[run.id] = run
                if len(ended) >= count:
                    break
    return sorted(ended.values(), key=lambda r: (r.triggered_at, r.id))


async def _advance_to(clock: ManualClock, when: datetime) -> None:
    """Move the clock to `when` once the scheduler is asleep on it."""
    await clock.wait_sleepers(1)
    clock.set(when)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def test_cron_fires_each_slot_once_at_its_instant(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    seen: list[tuple[datetime, datetime]] = []

    async def agent(ctx: am.RunContext) -> None:
        seen.append((ctx.run.triggered_at, clock.now()))

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new(schedule=am.Cron("*/5 * * * *"), timezone="UTC"))
        slots = [clock.now() + timedelta(minutes=5 * k) for k in range(1, 4)]
        assert a.next_fires[:3] == tuple(slots)
        for k, slot in enumerate(slots, start=1):
            await _advance_to(clock, slot)
            await _ended_runs(rt, a.id, k)
        runs = await _ended_runs(rt, a.id, 3)
    assert [r.triggered_at for r in runs] == slots
    assert all(r.trigger is am.Trigger.SCHEDULE and not r.attended for r in runs)
    assert all(r.state is am.RunState.SUCCEEDED for r in runs)
    assert seen == [(slot, slot) for slot in slots]  # fired at the instant, not before


async def test_dst_days_follow_the_rules(runtime_factory: OpenRuntime, clock: ManualClock) -> None:
    clock.set(utc(2026, 3, 28, 12))
    async with runtime_factory() as rt:
        a = await rt.create(new(schedule=am.Cron("30 2 * * *"), timezone="Europe/Berlin"))
        # 02:30 does not exist on 29 March in Berlin: it fires at 03:00 CEST (01:00Z).
        assert a.next_fire_at == utc(2026, 3, 29, 1, 0)
        await _advance_to(clock, utc(2026, 3, 29, 1, 0))
        (run,) = await _ended_runs(rt, a.id, 1)
        assert run.triggered_at == utc(2026, 3, 29, 1, 0)
        latest = await definition_where(
            rt, a.id, lambda x: x.next_fire_at == utc(2026, 3, 30, 0, 30)
        )
        assert latest.next_fire_at == utc(2026, 3, 30, 0, 30)


async def test_downtime_over_several_slots_gives_one_missed_record(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(schedule=am.Cron("*/5 * * * *"), timezone="UTC"))
    clock.advance(60 * 60 + 30)  # down from 09:00 to 10:00:30: twelve slots passed
    async with runtime_factory() as rt:
        record, on_time = await _ended_runs(rt, a.id, 2)
        # 09:05 to 09:55 are later than the 60 s catch-up window: one record for all.
        assert record.stop_reason is am.StopReason.MISSED_SCHEDULE
        assert record.missed is not None
        first = a.next_fire_at
        assert first is not None
        assert (record.missed.first, record.missed.last, record.missed.count) == (
            first,
            first + timedelta(minutes=50),
            11,
        )
        # 10:00 is 30 s late, inside the window: it runs.
        assert on_time.triggered_at == first + timedelta(minutes=55)
        assert on_time.state is am.RunState.SUCCEEDED
        assert len((await rt.runs(a.id)).items) == 2


@pytest.mark.parametrize(("late_by", "count"), [(20 * 60 + 90, 4), (5 * 60 + 90, 1)])
async def test_catchup_latest_also_runs_the_latest_missed_slot(
    runtime_factory: OpenRuntime, clock: ManualClock, late_by: int, count: int
) -> None:
    # With one missed slot, the record names the slot the catch-up run executes: the
    # record must not take that slot's place in the once-per-slot index.
    async with runtime_factory() as rt:
        a = await rt.create(
            new(schedule=am.Cron("*/5 * * * *"), timezone="UTC", catchup=am.Catchup.LATEST)
        )
    clock.advance(late_by)  # every slot up to the last whole five minutes is > 60 s late
    async with runtime_factory() as rt:
        record, catchup = await _ended_runs(rt, a.id, 2)
        first, last = a.next_fires[0], a.next_fires[count - 1]
        assert record.missed == am.Missed(first=first, last=last, count=count)
        assert (catchup.trigger, catchup.triggered_at) == (am.Trigger.CATCHUP, last)
        assert catchup.state is am.RunState.SUCCEEDED


async def _fire_until_stopped(rt: Runtime, clock: ManualClock, count: int) -> am.Automation:
    """A 30 s interval with `AfterCount(count)`, fired slot by slot one past its stop."""
    a = await rt.create(new(schedule=every(30), stop=am.AfterCount(count)))
    for k in range(1, count + 2):
        await _advance_to(clock, a.created_at + timedelta(seconds=30 * k))
        if k <= count:
            await _ended_runs(rt, a.id, k)
    await clock.wait_sleepers(1)
    return await definition_where(rt, a.id, lambda x: x.executed_runs == count)


async def test_count_stop_gives_exactly_that_many_runs_and_no_missed_record(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        done = await _fire_until_stopped(rt, clock, 3)
        assert done.next_fire_at is None and done.next_fires == ()
        clock.advance(3600)
        await clock.wait_sleepers(1)
    async with runtime_factory() as rt:
        runs = (await rt.runs(done.id)).items
        assert len(runs) == 3
        assert all(r.state is am.RunState.SUCCEEDED for r in runs)


async def test_paused_automations_do_not_fire(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(schedule=every(30)))
        await rt.pause(a.id)
        await _advance_to(clock, a.created_at + timedelta(minutes=10))
        await clock.wait_sleepers(1)
        assert (await rt.runs(a.id)).items == []
        resumed = await rt.resume(a.id)
        assert resumed.next_fire_at is not None and resumed.next_fire_at > clock.now()


async def test_a_oneshot_fires_once(runtime_factory: OpenRuntime, clock: ManualClock) -> None:
    async with runtime_factory() as rt:
        at = clock.now() + timedelta(minutes=1)
        a = await rt.create(new(schedule=am.Once(at=at), timezone="UTC"))
        await _advance_to(clock, at)
        (run,) = await _ended_runs(rt, a.id, 1)
        assert run.triggered_at == at and run.state is am.RunState.SUCCEEDED
        done = await definition_where(rt, a.id, lambda x: x.next_fire_at is None)
        assert done.next_fires == ()


async def test_an_unattended_question_fails_with_needs_user_input(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async def agent(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("Anyone there?"))

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new(schedule=every(30)))
        await _advance_to(clock, a.created_at + timedelta(seconds=30))
        (run,) = await _ended_runs(rt, a.id, 1)
    assert run.state is am.RunState.FAILED and run.error is not None
    assert run.error.code is am.ErrorCode.NEEDS_USER_INPUT
    assert not run.attended


async def test_an_ask_of_a_run_that_is_ending_raises_no_type_error(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    """The ask of an unattended run fails the run; an executor that shields the ask and
    catches `Exception` hears that the blocker was rejected, on trio as on asyncio."""
    seen: list[Exception] = []

    async def agent(ctx: am.RunContext) -> str:
        reply = "went on"
        with anyio.CancelScope(shield=True):
            try:
                reply = await ctx.ask(am.Question("Anyone there?"))
            except Exception as exc:
                seen.append(exc)
        return reply

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new(schedule=every(30)))
        await _advance_to(clock, a.created_at + timedelta(seconds=30))
        (run,) = await _ended_runs(rt, a.id, 1)
    assert [type(exc) for exc in seen] == [am.BlockerRejected]
    assert run.state is am.RunState.FAILED and run.error is not None
    assert run.error.code is am.ErrorCode.NEEDS_USER_INPUT


async def test_unattended_reject_lets_the_executor_go_on(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async def agent(ctx: am.RunContext) -> str:
        try:
            await ctx.ask(am.Permission(tool="bash"))
        except am.BlockerRejected:
            return "went on without it"
        return "asked"

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(
            new(schedule=every(30), unattended_blockers=am.UnattendedBlockers.REJECT)
        )
        await _advance_to(clock, a.created_at + timedelta(seconds=30))
        (run,) = await _ended_runs(rt, a.id, 1)
    assert (run.state, run.result) == (am.RunState.SUCCEEDED, "went on without it")


async def test_interval_anchored_on_completion(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async def slow(ctx: am.RunContext) -> None:
        await clock.sleep(10)  # the run takes ten seconds of clock time

    async with runtime_factory({"default": slow}) as rt:
        a = await rt.create(new(schedule=every(30), anchor=am.Anchor.COMPLETION))
        first = a.created_at + timedelta(seconds=30)
        await _advance_to(clock, first)
        await clock.wait_sleepers(2)  # the scheduler and the running executor
        clock.advance(10)
        (run,) = await _ended_runs(rt, a.id, 1)
        assert run.completed_at == first + timedelta(seconds=10)
        nxt = await definition_where(rt, a.id, lambda x: x.anchored_at is not None)
        assert nxt.anchored_at == run.completed_at
        assert nxt.next_fire_at == run.completed_at + timedelta(seconds=30)


async def _stall_after_first_fire(
    runtime_factory: OpenRuntime, clock: ManualClock, stall: int, ended: int
) -> tuple[datetime, list[am.Run]]:
    """An every-minute cron fires once; then the process stalls for `stall` seconds."""
    async with runtime_factory() as rt:
        a = await rt.create(new(schedule=am.Cron("* * * * *"), timezone="UTC"))
        first = a.next_fire_at
        assert first is not None
        await _advance_to(clock, first)
        await _ended_runs(rt, a.id, 1)
        await _advance_to(clock, first + timedelta(seconds=stall))
        return first, await _ended_runs(rt, a.id, ended)


async def test_a_stall_of_65_s_executes_the_slot(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    first, runs = await _stall_after_first_fire(runtime_factory, clock, stall=65, ended=2)
    assert [r.triggered_at for r in runs] == [first, first + timedelta(minutes=1)]
    assert all(r.state is am.RunState.SUCCEEDED for r in runs)


async def test_a_stall_of_180_s_records_the_slot_missed(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    first, runs = await _stall_after_first_fire(runtime_factory, clock, stall=180, ended=4)
    by_slot = {r.triggered_at: r for r in runs}
    assert by_slot[first].state is am.RunState.SUCCEEDED
    # +60 s is 120 s late: missed. +120 s is exactly 60 s late, which is still on time.
    record = by_slot[first + timedelta(minutes=1)]
    assert record.missed is not None
    assert (record.missed.first, record.missed.count) == (first + timedelta(minutes=1), 1)
    assert by_slot[first + timedelta(minutes=2)].state is am.RunState.SUCCEEDED
    # +180 s is due right now; it runs, or is skipped while +120 s still runs (overlap).
    assert by_slot[first + timedelta(minutes=3)].state in (
        am.RunState.SUCCEEDED,
        am.RunState.STOPPED,
    )


async def test_a_oneshot_found_30_s_late_at_restart_is_recorded_missed(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    at = clock.now() + timedelta(minutes=5)
    async with runtime_factory() as rt:
        a = await rt.create(new(schedule=am.Once(at=at), timezone="UTC"))
    clock.set(at + timedelta(seconds=30))
    async with runtime_factory() as rt:
        (record,) = await _ended_runs(rt, a.id, 1)
        assert record.stop_reason is am.StopReason.MISSED_SCHEDULE
        assert record.missed is not None
        assert (record.missed.first, record.missed.last, record.missed.count) == (at, at, 1)
        done = await definition_where(rt, a.id, lambda x: x.next_fire_at is None)
        assert done.next_fires == ()


async def test_count_101_works_past_a_page_of_the_ledger(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        done = await _fire_until_stopped(rt, clock, 101)
        assert done.next_fire_at is None
        first_page = await rt.runs(done.id, limit=100)
        assert first_page.next_cursor is not None
        second_page = await rt.runs(done.id, limit=100, cursor=first_page.next_cursor)
        runs = [*first_page.items, *second_page.items]
        assert len(runs) == 101, sorted(
            (r.triggered_at.isoformat(), r.state.value, str(r.stop_reason)) for r in runs
        )[-4:]


async def test_the_actor_of_an_automation_about_to_fire_is_warmed_before_its_slot(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(schedule=every(60)))
        slot = a.next_fire_at
        assert slot is not None
        await clock.wait_sleeper_until(slot - timedelta(seconds=2))  # the warm-up's moment
        assert rt._supervisor.active_automations == 0
        clock.set(slot - timedelta(seconds=1))
        # warmed; now asleep until the run of the slot is recorded, ahead of it
        await clock.wait_sleeper_until(slot - timedelta(milliseconds=CLAIM_MS))
        assert rt._supervisor.active_automations == 1
        clock.set(slot)
        (run,) = await _ended_runs(rt, a.id, 1)
        assert run.triggered_at == slot


async def test_a_clock_set_back_fires_no_slot_twice_and_goes_on_when_it_catches_up(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(schedule=am.Cron("*/5 * * * *"), timezone="UTC"))
        slots = list(a.next_fires[:4])
        for k, slot in enumerate(slots[:3], start=1):
            await _advance_to(clock, slot)
            await _ended_runs(rt, a.id, k)
        await _advance_to(clock, slots[0] - timedelta(minutes=1))  # the clock steps back
        await _advance_to(clock, slots[2])  # the fired slots come round again: nothing fires
        await clock.wait_sleepers(1)
        assert len((await rt.runs(a.id)).items) == 3
        await _advance_to(clock, slots[3])
        runs = await _ended_runs(rt, a.id, 4)
        assert len((await rt.runs(a.id)).items) == 4  # no missed record either
    assert [r.triggered_at for r in runs] == slots
    assert all(r.state is am.RunState.SUCCEEDED and r.started_at == r.triggered_at for r in runs)
