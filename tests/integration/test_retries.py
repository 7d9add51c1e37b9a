"""Retries: a failed run's next attempt is a run of its own, recorded `scheduled` with
the failure and started when it is due, on the runtime's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
import pytest

import automations as am
from automations.api import Runtime
from automations.persistence import AcquireLease, lease_name, open_store
from automations.testing import ManualClock

from .conftest import T0, OpenRuntime, definition_where, every, new

pytestmark = pytest.mark.anyio

TEN_S_DOUBLING = am.RetryPolicy(
    max_attempts=3, backoff=timedelta(seconds=10), multiplier=2, max_backoff=timedelta(minutes=5)
)
SLOT = T0 + timedelta(minutes=1)


class Flaky:
    """Fails its first `failures` calls (raising `error`), then succeeds; notes when
    each call started, on the test's clock."""

    def __init__(
        self, clock: ManualClock, failures: int, error: type[Exception] = RuntimeError
    ) -> None:
        self.clock = clock
        self.failures = failures
        self.error = error
        self.at: list[datetime] = []

    async def __call__(self, ctx: am.RunContext) -> str:
        self.at.append(self.clock.now())
        if len(self.at) <= self.failures:
            raise self.error("the model is overloaded")
        return "done"


async def _fire_once(rt: Runtime, clock: ManualClock, **changes: object) -> am.Automation:
    """A one-shot at `SLOT`, fired by the lease holder's scheduler."""
    a = await rt.create(new(schedule=am.Once(at=SLOT), **changes))
    await clock.wait_sleepers(1)  # the scheduler
    clock.set(SLOT)
    return a


async def _attempt(rt: Runtime, a: am.Automation, attempt: int) -> am.Run:
    """Attempt `attempt` of `a`'s chain, once it is recorded."""
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                if (
                    isinstance(event, am.RunUpdated)
                    and event.run.automation_id == a.id
                    and event.run.attempt == attempt
                ):
                    return event.run
    raise AssertionError("the event stream ended")


async def _due(clock: ManualClock, run: am.Run) -> None:
    """Move the clock to when the waiting retry `run` is due."""
    await clock.wait_sleeper_until(run.triggered_at)
    clock.set(run.triggered_at)


async def _runs(rt: Runtime, a: am.Automation) -> list[am.Run]:
    return sorted((await rt.runs(a.id, limit=100)).items, key=lambda r: r.attempt)


async def test_a_run_failing_twice_then_succeeding_runs_at_t_t_plus_10_and_t_plus_30(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    flaky = Flaky(clock, failures=2)
    async with runtime_factory({"default": flaky}) as rt:
        a = await _fire_once(rt, clock, retry=TEN_S_DOUBLING)
        first = await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        assert first.state is am.RunState.FAILED
        second = await _attempt(rt, a, 2)
        assert second.state is am.RunState.SCHEDULED
        assert second.triggered_at == SLOT + timedelta(seconds=10)
        await _due(clock, second)
        assert (await rt.wait(second.id, timeout=10)).state is am.RunState.FAILED
        third = await _attempt(rt, a, 3)
        assert third.triggered_at == SLOT + timedelta(seconds=30)
        await _due(clock, third)
        assert (await rt.wait(third.id, timeout=10)).state is am.RunState.SUCCEEDED

        assert flaky.at == [SLOT, SLOT + timedelta(seconds=10), SLOT + timedelta(seconds=30)]
        runs = await _runs(rt, a)
        assert [(r.attempt, r.state) for r in runs] == [
            (1, am.RunState.FAILED),
            (2, am.RunState.FAILED),
            (3, am.RunState.SUCCEEDED),
        ]
        assert [r.trigger for r in runs] == [
            am.Trigger.SCHEDULE,
            am.Trigger.RETRY,
            am.Trigger.RETRY,
        ]
        assert [r.retry_of for r in runs] == [None, first.id, first.id]
        assert [r.started_at for r in runs] == flaky.at
        # One logical run, and it succeeded: the failed attempts never made a streak.
        done = await definition_where(rt, a.id, lambda x: x.next_fire_at is None)
        assert done.failure_streak == 0


async def test_a_retry_waiting_across_a_restart_fires_after_it(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    flaky = Flaky(clock, failures=1)
    async with runtime_factory({"default": flaky}) as rt:
        a = await _fire_once(rt, clock, retry=TEN_S_DOUBLING)
        await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        waiting = await _attempt(rt, a, 2)
    # Closed during the backoff: the retry stays recorded, `scheduled`, for the next worker.
    back = waiting.triggered_at + timedelta(seconds=2)
    clock.set(back)
    async with runtime_factory({"default": flaky}) as rt:
        ended = await rt.wait(waiting.id, timeout=10)
        assert ended.state is am.RunState.SUCCEEDED and ended.started_at == back
        assert flaky.at == [SLOT, back]
        runs = await _runs(rt, a)
        assert [(r.attempt, r.id) for r in runs] == [(1, waiting.retry_of), (2, waiting.id)]


@pytest.mark.parametrize("how", ["cancel", "delete", "pause"])
async def test_a_cancel_a_delete_or_a_pause_during_the_backoff_stops_the_chain(
    runtime_factory: OpenRuntime, clock: ManualClock, how: str
) -> None:
    flaky = Flaky(clock, failures=1)
    async with runtime_factory({"default": flaky}) as rt:
        a = await _fire_once(rt, clock, retry=TEN_S_DOUBLING)
        await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        waiting = await _attempt(rt, a, 2)
        if how == "cancel":
            await rt.cancel(waiting.id)
        elif how == "delete":
            await rt.delete(a.id)
        else:
            await rt.pause(a.id)
        stopped = await rt.wait(waiting.id, timeout=10)
        assert (stopped.state, stopped.stop_reason) == (
            am.RunState.STOPPED,
            am.StopReason.CANCELLED,
        )
        assert stopped.started_at is None  # its executor never ran
        clock.set(waiting.triggered_at + timedelta(minutes=5))
        await rt.create(new(title="Written after the retry's time, so it was handled"))
        assert flaky.at == [SLOT]
        assert [r.attempt for r in await _runs(rt, a)] == [1, 2]


async def test_a_step_cap_is_not_retried(runtime_factory: OpenRuntime, clock: ManualClock) -> None:
    async def greedy(ctx: am.RunContext) -> None:
        for _ in range(5):
            await ctx.step()

    async with runtime_factory({"default": greedy}) as rt:
        a = await _fire_once(rt, clock, retry=TEN_S_DOUBLING, step_cap=2)
        failed = await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        assert failed.error is not None and failed.error.code is am.ErrorCode.STEP_CAP
        done = await definition_where(rt, a.id, lambda x: x.failure_streak == 1)
        assert done.next_fire_at is None
        assert [r.id for r in await _runs(rt, a)] == [failed.id]


async def test_needs_user_input_is_never_retried(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async def asks(ctx: am.RunContext) -> None:
        await ctx.ask(am.Question("Deploy now?"))

    async with runtime_factory({"default": asks}) as rt:
        policy = am.RetryPolicy(max_attempts=5)
        a = await _fire_once(rt, clock, retry=policy)
        failed = await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        assert failed.error is not None and failed.error.code is am.ErrorCode.NEEDS_USER_INPUT
        await definition_where(rt, a.id, lambda x: x.failure_streak == 1)
        assert [r.id for r in await _runs(rt, a)] == [failed.id]


@pytest.mark.parametrize(
    ("error", "retry_on", "retried"),
    [
        (am.Retryable, (), True),
        (am.NotRetryable, (am.ErrorCode.EXECUTION_FAILED,), False),
        (RuntimeError, (am.ErrorCode.TIMEOUT,), False),
    ],
    ids=["asked-for", "refused", "code-not-chosen"],
)
async def test_the_executor_asks_for_or_refuses_a_retry(
    runtime_factory: OpenRuntime,
    clock: ManualClock,
    error: type[Exception],
    retry_on: tuple[am.ErrorCode, ...],
    retried: bool,
) -> None:
    flaky = Flaky(clock, failures=1, error=error)
    policy = am.RetryPolicy(max_attempts=2, backoff=timedelta(seconds=5), retry_on=retry_on)
    async with runtime_factory({"default": flaky}) as rt:
        a = await _fire_once(rt, clock, retry=policy)
        failed = await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        assert failed.state is am.RunState.FAILED
        if retried:
            second = await _attempt(rt, a, 2)
            await _due(clock, second)
            assert (await rt.wait(second.id, timeout=10)).state is am.RunState.SUCCEEDED
        else:
            await definition_where(rt, a.id, lambda x: x.failure_streak == 1)
            assert [r.id for r in await _runs(rt, a)] == [failed.id]


async def test_a_chain_is_one_run_to_the_overlap_policy_the_streak_and_the_count_stop(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    """Every minute, attempts 2 minutes apart: the slot that comes while a retry waits
    is skipped for it (overlap "skip"); the three failed attempts are one failure and
    one executed run."""
    flaky = Flaky(clock, failures=10)
    policy = am.RetryPolicy(max_attempts=3, backoff=timedelta(seconds=45), multiplier=1)
    async with runtime_factory({"default": flaky}, min_interval=timedelta(seconds=1)) as rt:
        a = await rt.create(new(schedule=every(60), retry=policy, stop=am.AfterCount(5)))
        assert a.next_fire_at is not None
        slot = a.next_fire_at
        await clock.wait_sleepers(1)  # the scheduler
        clock.set(slot)
        await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        second = await _attempt(rt, a, 2)
        assert second.triggered_at == slot + timedelta(seconds=45)

        next_slot = slot + timedelta(seconds=60)  # while attempt 2 runs, then 3 waits
        await _due(clock, second)
        assert (await rt.wait(second.id, timeout=10)).state is am.RunState.FAILED
        third = await _attempt(rt, a, 3)
        assert third.triggered_at == second.triggered_at + timedelta(seconds=45)
        clock.set(next_slot)
        skipped = await rt.wait(
            (await _run_of_slot(rt, a, next_slot)).id, until=am.RunState.STOPPED, timeout=10
        )
        assert skipped.stop_reason is am.StopReason.PREVIOUS_RUN_AWAITING_INPUT
        assert skipped.held_by is not None and skipped.held_by.run_id == third.id

        await _due(clock, third)
        assert (await rt.wait(third.id, timeout=10)).state is am.RunState.FAILED
        done = await definition_where(rt, a.id, lambda x: x.failure_streak == 1)
        assert done.executed_runs == 1
        assert flaky.at == [slot, second.triggered_at, third.triggered_at]


async def _run_of_slot(rt: Runtime, a: am.Automation, slot: datetime) -> am.Run:
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is None or run.automation_id != a.id or run.trigger is am.Trigger.RETRY:
                    continue
                if run.triggered_at == slot:
                    return run
    raise AssertionError("the event stream ended")


@pytest.mark.parametrize("overlap", [am.Overlap.CANCEL_OTHER, am.Overlap.BUFFER_ONE])
async def test_a_slot_that_comes_during_the_backoff_supersedes_or_waits_for_the_chain(
    runtime_factory: OpenRuntime, clock: ManualClock, overlap: am.Overlap
) -> None:
    flaky = Flaky(clock, failures=1)
    policy = am.RetryPolicy(max_attempts=2, backoff=timedelta(seconds=90))
    async with runtime_factory({"default": flaky}, min_interval=timedelta(seconds=1)) as rt:
        a = await rt.create(new(schedule=every(60), retry=policy, overlap=overlap))
        assert a.next_fire_at is not None
        slot = a.next_fire_at
        await clock.wait_sleepers(1)  # the scheduler
        clock.set(slot)
        await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        retry = await _attempt(rt, a, 2)
        assert retry.triggered_at == slot + timedelta(seconds=90)

        next_slot = slot + timedelta(seconds=60)  # the retry is still waiting
        clock.set(next_slot)
        later = await _run_of_slot(rt, a, next_slot)
        if overlap is am.Overlap.CANCEL_OTHER:
            superseded = await rt.wait(retry.id, timeout=10)
            assert superseded.stop_reason is am.StopReason.SUPERSEDED
            assert (await rt.wait(later.id, timeout=10)).state is am.RunState.SUCCEEDED
            assert flaky.at == [slot, next_slot]
        else:
            await _due(clock, retry)
            assert (await rt.wait(retry.id, timeout=10)).state is am.RunState.SUCCEEDED
            ran = await rt.wait(later.id, timeout=10)  # after the chain, not beside it
            assert ran.state is am.RunState.SUCCEEDED
            assert ran.started_at is not None and ran.started_at >= retry.triggered_at
            assert flaky.at == [slot, retry.triggered_at, retry.triggered_at]


async def test_a_deposed_holder_does_not_start_the_retry_it_recorded(
    runtime_factory: OpenRuntime, clock: ManualClock, location: str
) -> None:
    flaky = Flaky(clock, failures=1)
    async with runtime_factory({"default": flaky}) as rt:
        a = await _fire_once(rt, clock, retry=TEN_S_DOUBLING)
        await rt.wait((await _attempt(rt, a, 1)).id, timeout=10)
        waiting = await _attempt(rt, a, 2)
        async with open_store(location) as other:  # a standby took the lease of a frozen holder
            await other.write(AcquireLease(lease_name(rt.scope), "a-standby", clock.now()))
        await _due(clock, waiting)
        ended = await rt.wait(waiting.id, timeout=10)
        assert (ended.state, ended.stop_reason) == (am.RunState.STOPPED, am.StopReason.EXPIRED)
        assert ended.started_at is None and flaky.at == [SLOT]  # fenced: never `running`
