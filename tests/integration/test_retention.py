"""Retention on a real runtime: what `prune` and `retention=` forget, and what stays."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

import automations as am
from automations.actors import PRUNE_EVERY
from automations.api import Runtime
from automations.testing import ManualClock

from .conftest import OpenRuntime, new

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)


async def _succeeded(rt: Runtime, automation_id: str, count: int) -> list[am.Run]:
    runs = [await rt.run_now(automation_id) for _ in range(count)]
    done = [await rt.wait(run.id, timeout=10) for run in runs]
    assert all(run.state is am.RunState.SUCCEEDED for run in done)
    return done


async def _journal_run_ids(rt: Runtime) -> set[str]:
    """The runs the journal still has events of, read from the start."""
    last, seen = await rt.last_event_seq(), set()
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                if isinstance(event, am.RunUpdated):
                    seen.add(event.run.id)
                if event.seq >= last:
                    break
    return seen


async def test_prune_forgets_runs_that_ended_before_the_age_and_keeps_the_rest(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(paused=True))
        old = await _succeeded(rt, a.id, 2)
        clock.advance((2 * DAY).total_seconds())
        (recent,) = await _succeeded(rt, a.id, 1)

        # Each run-now run has three entries: scheduled, running, succeeded.
        assert await rt.prune(older_than=DAY) == am.Pruned(runs=2, entries=6)
        assert await rt.prune(older_than=DAY) == am.Pruned()

        for run in old:
            with pytest.raises(am.NotFound):
                await rt.get_run(run.id)
        assert (await rt.get_run(recent.id)).state is am.RunState.SUCCEEDED
        assert (await rt.get(a.id)) == a
        assert await _journal_run_ids(rt) == {recent.id}
        assert [run.id for run in (await rt.runs(a.id)).items] == [recent.id]


async def test_an_age_that_is_not_positive_is_refused(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        with pytest.raises(am.ValidationError) as refused:
            await rt.prune(older_than=timedelta(0))
        assert refused.value.details == [("olderThan", "duration_must_be_positive")]
    with pytest.raises(am.ValidationError):
        async with runtime_factory(retention=-DAY):
            pass


async def test_the_lease_holder_keeps_the_ledger_to_its_retention(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory(retention=DAY) as rt:
        a = await rt.create(new(paused=True))
        old = await _succeeded(rt, a.id, 3)
        start = clock.now()
        await clock.wait_sleeper_until(start + PRUNE_EVERY)  # swept as it took the lease

        later = start + 2 * DAY
        clock.set(later)
        await clock.wait_sleeper_until(later + PRUNE_EVERY)  # the next sweep is done

        for run in old:
            with pytest.raises(am.NotFound):
                await rt.get_run(run.id)
        assert (await rt.get(a.id)).id == a.id
