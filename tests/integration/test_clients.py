"""Clients and workers on one database: commands in through the inbox, events out.

Every test opens two runtimes on the same file, as two processes would: a worker that
executes and a client (or a second worker) that asks it through the database.
"""

from __future__ import annotations

import time
from datetime import timedelta

import anyio
import pytest

import automations as am
from automations.actors import STALE_SECONDS, is_led
from automations.model import Scope, StorageError
from automations.persistence import (
    AcquireLease,
    CommandOutcome,
    CompleteCommand,
    EnqueueCommand,
    PurgeCommands,
    RunNowCommand,
    lease_name,
    open_store,
)
from automations.persistence._sql import SqlReader
from automations.testing import ManualClock

from ..stores import rows
from .conftest import T0, Gate, OpenRuntime, every, first_ended_run, new

pytestmark = pytest.mark.anyio


async def _pending_commands(location: str) -> int:
    async with open_store(location) as store:
        [(count,)] = await rows(store, "SELECT count(*) FROM commands")
    assert isinstance(count, int)
    return count


async def _asking(ctx: am.RunContext) -> str:
    reply = await ctx.ask(am.Question("Deploy now?", options=("yes", "no")))
    allowed = await ctx.ask(am.Permission(tool="bash", detail="make deploy"))
    return f"{reply}/{allowed}"


async def test_a_client_run_now_executes_in_the_worker_and_its_events_reach_the_client(
    location: str, runtime_factory: OpenRuntime
) -> None:
    gate = Gate()
    async with (
        runtime_factory({"default": gate}) as worker,
        runtime_factory(role="client") as client,
    ):
        a = await client.create(new())
        run = await client.run_now(a.id)
        assert run.state is am.RunState.SCHEDULED
        assert run.trigger is am.Trigger.MANUAL
        await gate.wait_calls(1)
        assert gate.calls == [run.id]
        assert run.id not in client._supervisor.runs
        gate.release.set()
        done = await client.wait(run.id, timeout=10)
        assert done.state is am.RunState.SUCCEEDED
        assert done.result == "released"
        states: list[am.RunState] = []
        with anyio.fail_after(10):
            async with client.events(0) as events:
                async for event in events:
                    if isinstance(event, am.RunUpdated) and event.run.id == run.id:
                        states.append(event.run.state)
                        if event.run.state.is_terminal:
                            break
        assert states == [am.RunState.SCHEDULED, am.RunState.RUNNING, am.RunState.SUCCEEDED]
        assert await worker.get_run(run.id) == done
    assert await _pending_commands(location) == 0


async def test_a_client_answers_and_cancels_runs_that_execute_in_the_worker(
    runtime_factory: OpenRuntime,
) -> None:
    gate = Gate()
    executors = {"default": _asking, "gate": gate}
    async with runtime_factory(executors) as worker, runtime_factory(role="client") as client:
        a = await client.create(new())
        run = await worker.run_now(a.id)
        run = await client.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert run.blocker is not None
        await client.answer(run.id, run.blocker.id, "yes")
        asked = await client.wait(
            run.id, until=am.RunState.AWAITING_INPUT, newer_than=run.revision, timeout=10
        )
        assert asked.blocker is not None
        assert isinstance(asked.blocker.request, am.Permission)
        await client.answer(run.id, asked.blocker.id, True)
        done = await client.wait(run.id, timeout=10)
        assert (done.state, done.result) == (am.RunState.SUCCEEDED, "yes/True")

        blocked = await worker.run_now(a.id)
        await client.wait(blocked.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        stopped = await client.cancel(blocked.id)
        assert (stopped.state, stopped.stop_reason) == (
            am.RunState.STOPPED,
            am.StopReason.CANCELLED,
        )

        b = await client.create(new(executor="gate"))
        running = await worker.run_now(b.id)
        await gate.wait_calls(1)
        stopped = await client.cancel(running.id)
        assert stopped.stop_reason is am.StopReason.CANCELLED
        assert gate.cancelled


async def test_a_client_without_a_worker_says_so_and_leaves_nothing_behind(
    location: str, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory(role="client") as client:
        a = await client.create(new())
        with pytest.raises(am.NotServed, match="no worker serves project 'project-a'"):
            await client.run_now(a.id)
        with pytest.raises(am.NotFound):
            await client.run_now("aut_missing")
        assert await client.runs(a.id) == ([], None)
    assert await _pending_commands(location) == 0


async def test_a_runtime_opens_while_the_journal_cannot_be_read(
    runtime_factory: OpenRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database stops answering just after the store opened: the runtime is still
    handed out (its calls say what is wrong) rather than waiting the outage out."""

    async def failing(self: SqlReader, scope: Scope | None = None) -> int:
        raise StorageError("the database does not answer (simulated)")

    monkeypatch.setattr(SqlReader, "last_seq", failing)
    for role in ("client", "worker"):
        with anyio.fail_after(10):
            async with runtime_factory(role=role) as rt:
                assert rt.scope == Scope("project-a", "/repo/a")


async def test_a_client_run_now_of_an_automation_of_another_project_is_not_found(
    runtime_factory: OpenRuntime,
) -> None:
    async with (
        runtime_factory() as worker,
        runtime_factory(role="client", project="project-b") as client,
    ):
        a = await worker.create(new())
        with pytest.raises(am.NotFound):
            await client.run_now(a.id)


async def test_definitions_a_client_writes_are_scheduled_by_the_worker(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with (
        runtime_factory(min_interval=every(1).every) as worker,
        runtime_factory(role="client", min_interval=every(1).every) as client,
    ):
        a = await client.create(new(schedule=every(60)))
        assert a.next_fire_at is not None
        await clock.wait_sleepers(1)
        clock.set(a.next_fire_at)  # the worker learns of it through the follower, then fires
        fired = await first_ended_run(worker, a.id)
        assert (fired.trigger, fired.triggered_at) == (am.Trigger.SCHEDULE, a.next_fire_at)
        paused = await client.pause(a.id)
        assert paused.paused
        assert (await worker.get(a.id)).paused


async def test_deleting_from_a_client_cancels_the_run_in_the_worker(
    runtime_factory: OpenRuntime,
) -> None:
    gate = Gate()
    async with (
        runtime_factory({"default": gate}) as worker,
        runtime_factory(role="client") as client,
    ):
        a = await client.create(new())
        run = await worker.run_now(a.id)
        await gate.wait_calls(1)
        tombstone = await client.delete(a.id)
        assert tombstone.revision == a.revision + 1
        ended = await client.wait(run.id, timeout=10)
        assert (ended.state, ended.stop_reason) == (am.RunState.STOPPED, am.StopReason.CANCELLED)
        assert gate.cancelled
        with pytest.raises(am.NotFound):
            await worker.get(a.id)


async def test_a_standby_worker_executes_its_own_runs_and_cancels_the_leaders(
    runtime_factory: OpenRuntime,
) -> None:
    leader_gate, standby_gate = Gate(), Gate()
    async with (
        runtime_factory({"default": leader_gate}) as leader,
        runtime_factory({"default": standby_gate}) as standby,
    ):
        a = await leader.create(new(overlap=am.Overlap.ALLOW))
        mine = await standby.run_now(a.id)
        await standby_gate.wait_calls(1)
        assert standby_gate.calls == [mine.id]
        theirs = await leader.run_now(a.id)
        await leader_gate.wait_calls(1)
        stopped = await standby.cancel(theirs.id)
        assert stopped.stop_reason is am.StopReason.CANCELLED
        assert leader_gate.cancelled
        standby_gate.release.set()
        assert (await leader.wait(mine.id, timeout=10)).state is am.RunState.SUCCEEDED


async def test_each_project_on_one_database_has_its_own_scheduler(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    interval = every(1).every
    async with (
        runtime_factory(min_interval=interval) as first,
        runtime_factory(min_interval=interval, project="project-b") as second,
    ):
        a = await first.create(new(schedule=every(60)))
        b = await second.create(new(schedule=every(60)))
        assert a.next_fire_at == b.next_fire_at
        assert a.next_fire_at is not None
        await clock.wait_sleepers(2)
        clock.set(a.next_fire_at)
        for rt, automation in ((first, a), (second, b)):
            fired = await first_ended_run(rt, automation.id)
            assert fired.trigger is am.Trigger.SCHEDULE


async def test_answered_commands_nobody_read_are_purged_and_pending_ones_kept(
    location: str,
) -> None:
    scope = Scope("project-a", "/repo/a")
    async with open_store(location) as store:
        done = await store.write(EnqueueCommand(scope, RunNowCommand("a1", "r1"), None, T0))
        pending = await store.write(EnqueueCommand(scope, RunNowCommand("a1", "r2"), None, T0))
        await store.write(CompleteCommand(done, CommandOutcome(message="lost sender"), T0))
        assert await store.write(PurgeCommands(T0)) == 0  # not older than the bound
        assert await store.write(PurgeCommands(T0 + timedelta(minutes=10))) == 1
        assert await store.reader.command_outcome(pending) is None  # still pending
        with pytest.raises(LookupError):
            await store.reader.command_outcome(done)


async def test_a_scope_is_led_by_a_lock_holder_or_a_live_fresh_lease(
    location: str, runtime_factory: OpenRuntime
) -> None:
    """Between a take-over and the new holder getting the lock back, nobody holds the
    lock, yet a worker leads: clients must not be told nobody serves them."""
    async with runtime_factory(role="client") as client:
        services = client._services
        assert not await is_led(services.store, client.scope)  # nobody at all
        alive = services.store.liveness_lock("taker")
        # stands in for the live worker that took the lease
        assert await anyio.to_thread.run_sync(alive.try_acquire)
        try:
            now_ms = int(time.time() * 1000)
            await services.store.write(AcquireLease(lease_name(client.scope), "taker", T0, now_ms))
            assert await is_led(services.store, client.scope)  # led without the lock
            stale_ms = now_ms - int((STALE_SECONDS + 1) * 1000)
            await services.store.write(
                AcquireLease(lease_name(client.scope), "taker", T0, stale_ms)
            )
            assert not await is_led(services.store, client.scope)  # it stopped renewing
        finally:
            await anyio.to_thread.run_sync(lambda: alive.release(remove=True))
        await services.store.write(AcquireLease(lease_name(client.scope), "taker", T0, now_ms))
        assert not await is_led(services.store, client.scope)  # fresh, but its process is gone
