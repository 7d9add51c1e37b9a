"""The scheduler lease, fencing, and reconciliation of runs whose process is gone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import anyio.abc
import pytest

import automations as am
from automations.actors import _reconciling
from automations.actors._services import Services
from automations.model import Scope, advance
from automations.persistence import AcquireLease, SaveRun, TakeStaleLease, lease_name, open_store
from automations.testing import ManualClock

from ..persistence.helpers import run as make_run
from .conftest import T0, OpenRuntime, every, first_ended_run, new

pytestmark = pytest.mark.anyio

SCOPE = Scope("project-a", "/repo/a")


async def test_each_acquisition_raises_the_epoch_and_stale_writes_are_refused(
    location: str, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
    async with open_store(location) as store:
        first = await store.write(AcquireLease(lease_name(SCOPE), "one", T0))
        second = await store.write(AcquireLease(lease_name(SCOPE), "two", T0))
        assert second == first + 1
        run = make_run(a.id, trigger=am.Trigger.SCHEDULE, triggered_at=T0)
        with pytest.raises(am.LeaseLost, match="another process took it over"):
            await store.write(SaveRun(SCOPE, run, None, T0, epoch=first))
        await store.write(SaveRun(SCOPE, run, None, T0, epoch=second))


async def _orphan(location: str, automation_id: str, owner: str, state: am.RunState) -> am.Run:
    """A run left in `state` by the process `owner`."""
    run = make_run(automation_id, triggered_at=T0)
    async with open_store(location) as store:
        await store.write(SaveRun(SCOPE, run, None, T0, owner=owner))
        if state is not am.RunState.SCHEDULED:
            started = advance(run, am.RunState.RUNNING, at=T0)
            await store.write(SaveRun(SCOPE, started, 1, T0, owner=owner))
            run = started
        if state is am.RunState.AWAITING_INPUT:
            blocker = am.Blocker(id="b1", request=am.Question("?"), asked_at=T0)
            waiting = advance(run, am.RunState.AWAITING_INPUT, at=T0, blocker=blocker)
            await store.write(SaveRun(SCOPE, waiting, 2, T0, owner=owner))
            run = waiting
    return run


async def test_runs_of_a_dead_process_are_reconciled_with_a_reason(
    location: str, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(overlap=am.Overlap.ALLOW))
    scheduled = await _orphan(location, a.id, "gone-1", am.RunState.SCHEDULED)
    running = await _orphan(location, a.id, "gone-1", am.RunState.RUNNING)
    waiting = await _orphan(location, a.id, "gone-1", am.RunState.AWAITING_INPUT)
    kept = await _orphan(location, a.id, "alive-2", am.RunState.RUNNING)
    async with open_store(location) as store:
        alive = store.liveness_lock("alive-2")  # a lock object outlives its store
    # this process stands in for one that is alive
    assert await anyio.to_thread.run_sync(alive.try_acquire)
    try:
        async with runtime_factory() as rt:
            ended = [await rt.wait(r.id, timeout=10) for r in (scheduled, running, waiting)]
            assert [r.stop_reason for r in ended] == [
                am.StopReason.EXPIRED,
                am.StopReason.EXPIRED,
                am.StopReason.BLOCKER_LOST,
            ]
            assert (await rt.get_run(kept.id)).state is am.RunState.RUNNING
    finally:
        await anyio.to_thread.run_sync(lambda: alive.release(remove=True))


async def test_a_standby_takes_over_the_schedule_when_the_holder_closes(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    release, closed = anyio.Event(), anyio.Event()

    async def hold(*, task_status: anyio.abc.TaskStatus[am.Runtime]) -> None:
        async with runtime_factory() as holder:
            task_status.started(holder)
            await release.wait()
        closed.set()

    async with anyio.create_task_group() as tg:
        holder = await tg.start(hold)
        a = await holder.create(new(schedule=every(30)))
        await clock.wait_sleepers(1)  # the holder's scheduler
        async with runtime_factory() as standby:
            assert clock.sleepers == 1  # the standby polls the lock; it does not schedule
            release.set()
            await closed.wait()
            await clock.wait_sleepers(1)  # the standby took the lease and now schedules
            slot = a.created_at + timedelta(seconds=30)
            clock.set(slot)
            run = await first_ended_run(standby, a.id)
            assert run.triggered_at == slot and run.trigger is am.Trigger.SCHEDULE


async def test_a_holder_deposed_before_its_first_reconciliation_steps_down_and_lives_on(
    location: str, runtime_factory: OpenRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a holder can look stale between taking the lease and reconciling: a
    standby takes it over, and the reconciliation's write is refused (`LeaseLost`).
    The holder steps down as when a renewal finds the lease taken, instead of the
    error ending its process (a fleet worker crashed so in the fleet benchmark)."""
    async with runtime_factory() as rt:
        a = await rt.create(new(overlap=am.Overlap.ALLOW))
    orphan = await _orphan(location, a.id, "gone-1", am.RunState.RUNNING)
    reconcile = _reconciling.reconcile_dead_owners
    deposed: list[int | None] = []

    async def deposed_first(services: Services, *args: Any) -> Any:
        if not deposed:  # a standby took the lease just before the first look
            deposed.append(epoch := args[1])
            assert epoch is not None
            taken = TakeStaleLease(
                lease_name(services.scope), "standby", services.now(), epoch, renewed_ms=1
            )
            assert await services.store.write(taken) is not None
        return await reconcile(services, *args)

    monkeypatch.setattr(_reconciling, "reconcile_dead_owners", deposed_first)
    async with runtime_factory() as rt:
        # The standby is not alive: the holder takes the lease again and reconciles.
        ended = await rt.wait(orphan.id, timeout=10)
        assert ended.stop_reason is am.StopReason.EXPIRED
        assert await rt.leading()
    assert len(deposed) == 1
