"""Backfill: past slots run on request, on a ManualClock, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import anyio
import pytest

import automations as am
from automations.testing import ManualClock

from .conftest import Gate, OpenRuntime, new

pytestmark = pytest.mark.anyio

BERLIN = ZoneInfo("Europe/Berlin")


def utc(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# Thursday 26 March to Thursday 2 April 2026 in Berlin: summer time begins on Sunday 29,
# so 09:00 is 08:00Z before the change and 07:00Z after it.
WEEK_START = datetime(2026, 3, 26, tzinfo=BERLIN)
WEEK_END = datetime(2026, 4, 2, tzinfo=BERLIN)
WEEK_SLOTS = [utc(3, 26, 8), utc(3, 27, 8), utc(3, 30, 7), utc(3, 31, 7), utc(4, 1, 7)]


async def test_a_week_across_the_dst_change_runs_each_weekday_once(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    clock.set(utc(4, 3, 12))
    seen: list[datetime] = []

    async def agent(ctx: am.RunContext) -> str:
        assert not ctx.attended
        seen.append(ctx.run.triggered_at)
        return "done"

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new(schedule=am.Cron("0 9 * * 1-5"), timezone="Europe/Berlin"))
        # Friday and Monday first: the full week afterwards finds them run.
        part = await rt.backfill(
            a.id, datetime(2026, 3, 27, tzinfo=BERLIN), datetime(2026, 3, 31, tzinfo=BERLIN)
        )
        assert [r.triggered_at for r in part.runs] == WEEK_SLOTS[1:3]
        reports: list[am.BackfillReport] = []
        week = await rt.backfill(a.id, WEEK_START, WEEK_END, progress=reports.append)
        again = await rt.backfill(a.id, WEEK_START, WEEK_END)
        page = await rt.runs(a.id, limit=50)

    assert week.slots == 5 and week.done == 5
    assert [r.triggered_at for r in week.runs] == [WEEK_SLOTS[0], *WEEK_SLOTS[3:]]
    assert list(week.existing) == WEEK_SLOTS[1:3]
    assert [r.done for r in reports] == [1, 2, 3, 4, 5]
    assert again.runs == () and list(again.existing) == WEEK_SLOTS
    assert sorted(seen) == WEEK_SLOTS  # each slot's executor called exactly once
    runs = sorted(page.items, key=lambda r: r.triggered_at)
    assert [r.triggered_at for r in runs] == WEEK_SLOTS
    assert all(r.trigger is am.Trigger.BACKFILL and not r.attended for r in runs)
    assert all(r.state is am.RunState.SUCCEEDED and r.result == "done" for r in runs)
    assert all(r.planned_at is None for r in runs)


async def test_a_range_reaching_into_the_future_is_refused(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(schedule=am.Cron("*/5 * * * *"), timezone="UTC"))
        now = clock.now()
        with pytest.raises(am.ValidationError) as future:
            await rt.backfill(a.id, now - timedelta(hours=1), now + timedelta(minutes=1))
        assert future.value.details == [("end", "backfill_range_in_future")]
        with pytest.raises(am.ValidationError) as empty:
            await rt.backfill(a.id, now, now - timedelta(hours=1))
        assert empty.value.details == [("end", "backfill_end_must_follow_start")]
        with pytest.raises(am.ValidationError) as naive:
            await rt.backfill(a.id, datetime(2026, 1, 1), now)
        assert naive.value.details == [("start", "datetime_needs_timezone")]
        with pytest.raises(am.ValidationError) as too_many:  # 12 a hour, 1,008 a week
            await rt.backfill(a.id, now - timedelta(days=7), now)
        assert too_many.value.details == [
            ("end", f"backfill_too_many_slots_{am.MAX_BACKFILL_SLOTS}")
        ]
        with pytest.raises(am.ValidationError, match="overlap"):
            await rt.backfill(a.id, now - timedelta(hours=1), now, overlap="sometimes")
        with pytest.raises(am.NotFound):
            await rt.backfill("automation_missing", now - timedelta(hours=1), now)
        assert (await rt.runs(a.id)).items == []


async def test_backfill_runs_go_through_the_overlap_policy(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new(schedule=am.Cron("0 * * * *"), timezone="UTC"))
        held = await rt.run_now(a.id)
        await gate.wait_calls(1)
        hour = clock.now().replace(minute=0)
        skipped = await rt.backfill(a.id, hour - timedelta(hours=2), hour)
        assert [r.stop_reason for r in skipped.runs] == [
            am.StopReason.PREVIOUS_RUN_AWAITING_INPUT
        ] * 2
        assert all(r.held_by is not None and r.held_by.run_id == held.id for r in skipped.runs)
        assert all(r.trigger is am.Trigger.BACKFILL for r in skipped.runs)
        # A skipped slot has its run: a second backfill leaves it alone.
        assert len((await rt.backfill(a.id, hour - timedelta(hours=2), hour)).existing) == 2
        gate.release.set()
        allowed = await rt.backfill(
            a.id, hour - timedelta(hours=4), hour - timedelta(hours=2), overlap=am.Overlap.ALLOW
        )
        assert [r.state for r in allowed.runs] == [am.RunState.SUCCEEDED] * 2
        assert (await rt.wait(held.id, timeout=10)).state is am.RunState.SUCCEEDED


async def test_a_client_backfills_through_the_worker(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    gate.release.set()
    async with (
        runtime_factory({"default": gate}) as worker,
        runtime_factory(role="client") as client,
    ):
        a = await client.create(new(schedule=am.Interval(every=timedelta(minutes=10))))
        start = clock.now() - timedelta(hours=1)
        none = await client.backfill(a.id, start, clock.now())  # its first slot is to come
        assert (none.slots, none.runs, none.existing) == (0, (), ())
        b = await client.create(new(schedule=am.Interval(every=timedelta(minutes=30), start=start)))
        report = await client.backfill(b.id, start, clock.now())
        assert [r.triggered_at for r in report.runs] == [start, start + timedelta(minutes=30)]
        assert all(r.state is am.RunState.SUCCEEDED for r in report.runs)
        assert sorted(gate.calls) == sorted(r.id for r in report.runs)
        assert not client._supervisor.runs  # the worker ran them
        again = await worker.backfill(b.id, start, clock.now())
        assert again.runs == () and len(again.existing) == 2


async def test_a_backfill_waits_for_a_failed_slots_retry_before_the_next_slot(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    clock.set(utc(4, 3, 12))
    calls: list[tuple[datetime, am.Trigger]] = []

    async def flaky(ctx: am.RunContext) -> str:
        calls.append((ctx.run.triggered_at, ctx.run.trigger))
        if len(calls) == 1:
            raise RuntimeError("the model is overloaded")
        return "done"

    retry = am.RetryPolicy(max_attempts=2, backoff=timedelta(seconds=10))
    async with runtime_factory({"default": flaky}) as rt:
        a = await rt.create(
            new(schedule=am.Cron("0 9 * * 1-5"), timezone="Europe/Berlin", retry=retry)
        )
        async with anyio.create_task_group() as tg:
            reports: list[am.BackfillReport] = []

            async def backfill() -> None:
                reports.append(await rt.backfill(a.id, WEEK_START, WEEK_START + timedelta(days=2)))

            tg.start_soon(backfill)
            retry_due = utc(4, 3, 12) + timedelta(seconds=10)
            await clock.wait_sleeper_until(retry_due)  # the first slot failed; its retry waits
            assert [trigger for _, trigger in calls] == [am.Trigger.BACKFILL]
            clock.set(retry_due)
    (report,) = reports
    # The retry ran before the second slot, which went on without competing with it.
    assert [trigger for _, trigger in calls] == [
        am.Trigger.BACKFILL,
        am.Trigger.RETRY,
        am.Trigger.BACKFILL,
    ]
    assert [r.state for r in report.runs] == [am.RunState.SUCCEEDED, am.RunState.SUCCEEDED]
    assert report.runs[0].trigger is am.Trigger.RETRY  # the first slot's chain, by its end
