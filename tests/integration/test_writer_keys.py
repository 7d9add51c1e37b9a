"""Writer keys (issue 21, item 2): a question waiting on one automation stops no other;
automations naming the same worktree exclude each other, and a skip names the run that
held the key."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
import pytest

import automations as am
from automations.api import Runtime
from automations.testing import ManualClock

from .conftest import OpenRuntime, definition_where, every, new

pytestmark = pytest.mark.anyio


async def asks(ctx: am.RunContext) -> str:
    return await ctx.ask(am.Question("Deploy now?", options=("yes", "no")))


async def ticks(ctx: am.RunContext) -> str:
    await ctx.step()
    return "tick"


async def _ended(rt: Runtime, automation_id: str, count: int) -> list[am.Run]:
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


async def test_a_waiting_question_does_not_stop_another_automation_of_the_project(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory({"default": asks, "tick": ticks}) as rt:
        deploy = await rt.create(new(title="Deploy"))
        ticker = await rt.create(new(title="Ticker", schedule=every(30), executor="tick"))
        waiting = await rt.run_now(deploy.id)
        waiting = await rt.wait(waiting.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert waiting.state is am.RunState.AWAITING_INPUT
        for k in range(1, 4):
            await clock.wait_sleepers(1)
            clock.set(ticker.created_at + timedelta(seconds=30 * k))
            await _ended(rt, ticker.id, k)
        runs = await _ended(rt, ticker.id, 3)
        assert [r.state for r in runs] == [am.RunState.SUCCEEDED] * 3
        assert [r.steps for r in runs] == [1, 1, 1]
        still = await rt.get_run(waiting.id)
        assert still.state is am.RunState.AWAITING_INPUT  # untouched by the ticks
        await rt.answer(waiting.id, waiting.blocker.id if waiting.blocker else "", "yes")
        done = await rt.wait(waiting.id, timeout=10)
        assert (done.state, done.result) == (am.RunState.SUCCEEDED, "yes")


async def test_automations_naming_the_same_worktree_exclude_each_other(
    runtime_factory: OpenRuntime,
) -> None:
    shared = am.Where("project-a", worktree="/repo/a/wt")
    async with runtime_factory({"default": asks}) as rt:
        first = await rt.create(new(title="First", where=shared))
        second = await rt.create(new(title="Second", where=shared))
        other = await rt.create(new(title="Elsewhere"))
        holding = await rt.run_now(first.id)
        holding = await rt.wait(holding.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        skipped = await rt.run_now(second.id)
        assert skipped.state is am.RunState.STOPPED
        assert skipped.stop_reason is am.StopReason.PREVIOUS_RUN_AWAITING_INPUT  # pawwork's
        assert skipped.held_by == am.KeyHolder(
            run_id=holding.id, automation_id=first.id, state=am.RunState.AWAITING_INPUT
        )
        assert await rt.get_run(skipped.id) == skipped  # the detail is stored
        free = await rt.run_now(other.id)  # its own key: not in the worktree's way
        free = await rt.wait(free.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert free.state is am.RunState.AWAITING_INPUT


async def test_a_run_skipped_behind_its_own_automation_names_the_run_going_on(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory({"default": asks}) as rt:
        a = await rt.create(new())
        going = await rt.run_now(a.id)
        going = await rt.wait(going.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        skipped = await rt.run_now(a.id)
        assert skipped.stop_reason is am.StopReason.PREVIOUS_RUN_AWAITING_INPUT
        assert skipped.held_by == am.KeyHolder(
            run_id=going.id, automation_id=a.id, state=am.RunState.AWAITING_INPUT
        )


async def test_a_slot_skipped_for_a_key_held_elsewhere_is_passed_at_once(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    """The database, not this automation's runs, found the key taken (another
    automation of the worktree here; a cut-off lease holder's run on another host): the
    slot's run is recorded skipped, and the next fire moves on without waiting for the
    scheduler to look at the slot again (a second or more, doubling while it lasts)."""
    shared = am.Where("project-a", worktree="/repo/a/wt")
    async with runtime_factory({"default": asks}) as rt:
        first = await rt.create(new(title="First", where=shared))
        ticker = await rt.create(new(title="Ticker", where=shared, schedule=every(30)))
        holding = await rt.run_now(first.id)
        holding = await rt.wait(holding.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        slot = ticker.next_fire_at
        assert slot is not None
        slots = [slot + timedelta(seconds=30 * k) for k in range(4)]
        for k in range(3):
            await clock.wait_sleepers(1)
            clock.set(slots[k])
            after = slots[k + 1]

            def passed(automation: am.Automation, after: datetime = after) -> bool:
                return automation.next_fire_at == after

            moved = await definition_where(rt, ticker.id, passed)
            assert moved.next_fire_at == after  # the clock did not move on
        runs = await _ended(rt, ticker.id, 3)
        assert [r.triggered_at for r in runs] == slots[:3]
        assert {r.stop_reason for r in runs} == {am.StopReason.PREVIOUS_RUN_AWAITING_INPUT}
        assert {r.held_by.run_id if r.held_by else None for r in runs} == {holding.id}


async def test_a_catchup_run_skipped_for_a_key_held_elsewhere_passes_its_slots_at_once(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    """The same for a late episode: its missed record, then its catch-up run, skipped
    for the held key; the next fire moves past the episode without the clock moving."""
    shared = am.Where("project-a", worktree="/repo/a/wt")
    async with runtime_factory({"default": asks}) as rt:
        first = await rt.create(new(title="First", where=shared))
        ticker = await rt.create(
            new(
                title="Ticker",
                where=shared,
                schedule=every(30),
                catchup=am.Catchup.LATEST,
                catchup_window=timedelta(seconds=10),
            )
        )
        holding = await rt.run_now(first.id)
        holding = await rt.wait(holding.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        slot = ticker.next_fire_at
        assert slot is not None
        await clock.wait_sleepers(1)
        clock.set(slot + timedelta(seconds=95))  # +0, +30, +60 late; +90 on time
        after = slot + timedelta(seconds=120)

        def passed(automation: am.Automation) -> bool:
            return automation.next_fire_at == after

        await definition_where(rt, ticker.id, passed)
        runs = await _ended(rt, ticker.id, 3)
    by_slot = {(r.triggered_at - slot).total_seconds(): r for r in runs}
    assert by_slot[0].stop_reason is am.StopReason.MISSED_SCHEDULE
    for late in (60, 90):  # the catch-up run and the on-time one, each skipped
        assert by_slot[late].stop_reason is am.StopReason.PREVIOUS_RUN_AWAITING_INPUT
        held_by = by_slot[late].held_by
        assert held_by is not None and held_by.run_id == holding.id
    assert by_slot[60].trigger is am.Trigger.CATCHUP
