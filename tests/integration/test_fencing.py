"""A process that lost the lease, slept, or closed can do nothing it should not.

Each hole found by the chaos run (tests/reliability/test_chaos.py) shown on its own,
without real signals: another process taking the lease is a write to the store, a
frozen process is a clock that jumps.
"""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

import automations as am
from automations.model import Scope, advance, new_run, new_run_id
from automations.persistence import (
    AcquireLease,
    Adopted,
    CreateRun,
    ReconcileRuns,
    StoreAnswer,
    lease_name,
    open_store,
)
from automations.testing import ManualClock

from .conftest import Gate, OpenRuntime, every, new
from .test_claims import Stamps, _claim, _reach, _recorded_ahead

pytestmark = pytest.mark.anyio


async def test_a_deposed_holder_does_not_start_the_runs_it_recorded_ahead(
    runtime_factory: OpenRuntime, clock: ManualClock, location: str
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, _, slot, claimed):
        async with open_store(location) as other:  # a standby took the lease of a frozen holder
            await other.write(AcquireLease(lease_name(rt.scope), "a-standby", clock.now()))
        await _reach(clock, slot)
        ended = await rt.wait(claimed.id, timeout=10)
        assert (ended.state, ended.stop_reason) == (am.RunState.STOPPED, am.StopReason.EXPIRED)
        assert ended.started_at is None and stamps.at == []  # never `running`


async def test_a_deposed_holder_does_not_start_a_fired_run_that_waited_for_the_one_before(
    runtime_factory: OpenRuntime, clock: ManualClock, location: str
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new(schedule=every(60), overlap=am.Overlap.BUFFER_ONE))
        assert a.next_fire_at is not None
        slot = a.next_fire_at
        first = await _claim(rt, clock, a, slot)
        await _reach(clock, slot)
        await gate.started.wait()
        later = slot + timedelta(seconds=60)
        buffered = await _claim(rt, clock, a, later)
        await _reach(clock, later)  # admitted to wait for the first run's end
        async with open_store(location) as other:  # a standby took the lease of a frozen holder
            await other.write(AcquireLease(lease_name(rt.scope), "a-standby", clock.now()))
        gate.release.set()
        assert (await rt.wait(first.id, timeout=10)).state is am.RunState.SUCCEEDED
        ended = await rt.wait(buffered.id, timeout=10)
        assert (ended.state, ended.stop_reason) == (am.RunState.STOPPED, am.StopReason.EXPIRED)
        assert ended.started_at is None and gate.calls == [first.id]  # never `running`


async def test_a_process_stalled_past_the_catchup_window_does_not_start_the_slot_late(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    stamps = Stamps(clock)
    async with _recorded_ahead(runtime_factory, clock, stamps) as (rt, a, slot, claimed):
        await clock.wait_sleeper_until(slot)
        clock.set(slot + a.catchup_window + timedelta(seconds=1))  # frozen through it
        ended = await rt.wait(claimed.id, timeout=10)
        assert (ended.state, ended.stop_reason) == (am.RunState.STOPPED, am.StopReason.EXPIRED)
        assert ended.started_at is None and slot not in stamps.at


async def test_reconciling_under_an_old_epoch_adopts_and_ends_nothing(
    location: str, clock: ManualClock
) -> None:
    scope = Scope("p", "/d")
    async with open_store(location) as store:
        old = await store.write(AcquireLease(lease_name(scope), "frozen", clock.now()))
        await store.write(AcquireLease(lease_name(scope), "standby", clock.now()))
        reconcile = ReconcileRuns("dead", scope, "frozen", clock.now(), frozenset(), old)
        with pytest.raises(am.LeaseLost):
            await store.write(reconcile)


async def test_a_close_leaves_no_adopted_run_running(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new())
        run = await _running_under(rt, a)
        # Reconciliation adopted it just as the process closes: its actor starts it and
        # the close stops it, or the close comes first and hands it back.
        rt._supervisor.adopt(Adopted(0, run, None, None))
    async with runtime_factory({"default": gate}, role="client") as client:
        after = await client.get_run(run.id)
    assert after.state is am.RunState.STOPPED
    assert after.stop_reason in {am.StopReason.EXPIRED, am.StopReason.WORKER_STOPPED}


async def test_a_stored_answer_wins_over_the_blocker_timeout(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async def agent(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("Deploy?"))

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(
            new(
                schedule=every(30),
                unattended_blockers=am.UnattendedBlockers.WAIT,
                blocker_timeout=timedelta(seconds=10),
            )
        )
        await clock.wait_sleepers(1)
        clock.set(a.created_at + timedelta(seconds=30))
        asked = await _first_blocked(rt, a.id)
        assert asked.blocker is not None
        # Stored, then the process slept through its delivery.
        store, owner = rt._services.store, rt._services.owner
        answer = StoreAnswer(rt.scope, asked.id, asked.blocker.id, "yes", clock.now(), owner)
        assert await store.write(answer)
        clock.advance(11)  # the timeout fires after the answer was stored
        ended = await rt.wait(asked.id, timeout=10)
    assert (ended.state, ended.result) == (am.RunState.SUCCEEDED, "yes")


async def test_a_cancel_ends_a_run_its_live_owner_does_not_execute(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        run = await _running_under(rt, a)  # owned by this process, executed by nobody
        with anyio.fail_after(10):
            stopped = await rt.cancel(run.id)
    assert (stopped.state, stopped.stop_reason) == (am.RunState.STOPPED, am.StopReason.CANCELLED)


async def _running_under(rt: am.Runtime, a: am.Automation) -> am.Run:
    """A manual run of `a`, `running` in the ledger under this process, no actor for it."""
    now = rt._services.now()
    run = new_run(
        id=new_run_id(),
        automation_id=a.id,
        definition_revision=a.revision,
        trigger=am.Trigger.MANUAL,
        triggered_at=now,
        attended=True,
    )
    running = advance(run, am.RunState.RUNNING, at=now)
    owner = rt._services.owner
    create = CreateRun(rt.scope, (run, running), (now, now), None, owner)
    await rt._services.store.write(create)
    return running


async def _first_blocked(rt: am.Runtime, automation_id: str) -> am.Run:
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                waiting = run is not None and run.state is am.RunState.AWAITING_INPUT
                if run is not None and waiting and run.automation_id == automation_id:
                    return run
    raise AssertionError("the event stream ended")


async def test_an_adopted_run_cancelled_before_its_actor_starts_it_is_not_executed(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new())
        run = await _running_under(rt, a)
        stopped = await rt.cancel(run.id)
        rt._supervisor.adopt(Adopted(0, run, None, None))  # adopted from before the cancel
        await rt.update(a.id, title="handled after the adoption, by the same actor")
        assert (await rt.get_run(run.id)).revision == stopped.revision
    assert gate.calls == []
