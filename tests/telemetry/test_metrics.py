"""A scripted day on a manual clock, and the exposition it leaves: exact counts of
starts, ends, missed slots, waits on people and leases, and the histograms' counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

import automations as am
from automations.api import Runtime
from automations.model import Scope
from automations.telemetry import Metrics
from automations.testing import ManualClock

from ..integration.conftest import OpenRuntime, new
from .conftest import reached

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(metrics: Metrics) -> Samples:
    """Every sample of the exposition, by name and labels (parsed back from the text)."""
    text = metrics.exposition().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def family(found: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (sample, labels), value in found.items() if sample == name}


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


async def ended(rt: Runtime, automation_id: str, count: int) -> list[am.Run]:
    """Wait until `count` runs of the automation have ended."""
    done: dict[str, am.Run] = {}
    with anyio.fail_after(10):
        async with rt.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.automation_id == automation_id and run.state.is_terminal:
                    done[run.id] = run
                if len(done) >= count:
                    break
    return list(done.values())


async def at(clock: ManualClock, when: datetime) -> None:
    await clock.wait_sleepers(1)
    clock.set(when)


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 1, hour, minute, tzinfo=UTC)


async def test_a_scripted_day_leaves_exact_counts(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async def ok(ctx: am.RunContext) -> str:
        return "done"

    async def boom(ctx: am.RunContext) -> str:
        raise RuntimeError("the model is overloaded")

    async def asks(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("Deploy now?"))

    executors: dict[str, am.Executor] = {"default": ok, "boom": boom, "asks": asks}
    metrics = Metrics()
    assert clock.now() == utc(9)
    async with runtime_factory(executors, metrics=metrics) as rt:
        daily = await rt.create(new(schedule=am.Cron("0 10,12 * * *"), timezone="UTC"))
        failing = await rt.create(
            new(schedule=am.Cron("0 11 * * *"), timezone="UTC", executor="boom")
        )
        asking = await rt.create(
            new(schedule=am.Cron("0 0 1 1 *"), timezone="UTC", executor="asks")
        )
        # 09:00: a person runs `asking`, which waits on them for half an hour.
        run = await rt.run_now(asking.id)
        waiting = await reached(rt, run.id, am.RunState.AWAITING_INPUT)
        assert waiting.blocker is not None
        clock.advance(30 * 60)
        found = samples(metrics)
        assert found[("automations_runs_awaiting_input", frozenset())] == 1
        assert found[("automations_oldest_awaiting_input_seconds", frozenset())] == 1800
        await rt.answer(run.id, waiting.blocker.id, "yes")
        assert (await rt.wait(run.id, timeout=10)).state is am.RunState.SUCCEEDED
        # 10:00 `daily` fires; 11:00 `failing` fails.
        await at(clock, utc(10))
        await ended(rt, daily.id, 1)
        await at(clock, utc(11))
        (failed,) = await ended(rt, failing.id, 1)
        assert failed.state is am.RunState.FAILED
        await at(clock, utc(11, 30))
    # Down from 11:30 to 12:05: `daily`'s 12:00 slot is missed.
    clock.set(utc(12, 5))
    async with runtime_factory(executors, metrics=metrics) as rt:
        runs = await ended(rt, daily.id, 2)
        assert sorted(r.state for r in runs) == [am.RunState.STOPPED, am.RunState.SUCCEEDED]
        found = samples(metrics)
        here = labels(project="project-a", directory="/repo/a")
        assert found[("automations_lease_held", here)] == 1
    found = samples(metrics)

    assert family(found, "automations_runs_started_total") == {
        labels(trigger="manual"): 1,
        labels(trigger="schedule"): 2,
    }
    assert family(found, "automations_runs_ended_total") == {
        labels(state="succeeded", stop_reason="", error_code=""): 2,
        labels(state="failed", stop_reason="", error_code="execution_failed"): 1,
        labels(state="stopped", stop_reason="missed_schedule", error_code=""): 1,
    }
    assert found[("automations_missed_slots_total", frozenset())] == 1
    assert family(found, "automations_fire_lag_seconds_count") == {
        labels(trigger="manual"): 1,
        labels(trigger="schedule"): 2,
    }
    # Fired at their instants, on a manual clock: no lag at all.
    assert family(found, "automations_fire_lag_seconds_sum") == {
        labels(trigger="manual"): 0,
        labels(trigger="schedule"): 0,
    }
    assert family(found, "automations_run_duration_seconds_count") == {
        labels(state="succeeded"): 2,
        labels(state="failed"): 1,
    }
    # The half hour waiting on a person is the run's; the others took no clock time.
    assert family(found, "automations_run_duration_seconds_sum") == {
        labels(state="succeeded"): 1800,
        labels(state="failed"): 0,
    }
    assert found[("automations_runs_awaiting_input", frozenset())] == 0
    assert found[("automations_oldest_awaiting_input_seconds", frozenset())] == 0
    here = labels(project="project-a", directory="/repo/a")
    assert found[("automations_lease_held", here)] == 0
    assert family(found, "automations_lease_changes_total") == {
        here | labels(change="acquired"): 2,
        here | labels(change="lost"): 2,
    }
    assert found[("automations_store_commit_operations_count", frozenset())] >= 1
    assert (
        found[("automations_store_commit_seconds_count", frozenset())]
        == found[("automations_store_commit_operations_count", frozenset())]
    )
    assert found[("automations_inbox_depth", frozenset())] == 0


async def test_metrics_name_no_run_or_automation(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    metrics = Metrics()
    async with runtime_factory(metrics=metrics) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)
        await rt.wait(run.id, timeout=10)
    text = metrics.exposition().decode()
    assert "automations_runs_ended_total" in text
    assert a.id not in text and run.id not in text
    for name, _ in samples(metrics):
        assert name.startswith("automations_")
        assert not name.endswith("_ms") and not name.endswith("_milliseconds")


async def test_a_runtime_without_metrics_or_tracing_has_no_observer(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory(tracing=False) as rt:
        assert rt.metrics is None
        assert rt._services.observer is None


async def test_each_metrics_counts_its_own_runtimes_only(
    runtime_factory: OpenRuntime,
) -> None:
    first, second = Metrics(), Metrics()
    assert first.registry is not second.registry
    async with runtime_factory(metrics=first) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)
        await rt.wait(run.id, timeout=10)
    assert family(samples(first), "automations_runs_started_total") == {labels(trigger="manual"): 1}
    assert family(samples(second), "automations_runs_started_total") == {}


def test_a_clock_is_what_ages_the_waits() -> None:
    metrics = Metrics()
    asked = datetime(2026, 6, 1, 9, tzinfo=UTC)
    metrics.use_clock(lambda: asked + timedelta(hours=2))
    run = am.Run(
        id="automation_run_1",
        automation_id="automation_1",
        revision=3,
        definition_revision=1,
        trigger=am.Trigger.MANUAL,
        triggered_at=asked,
        attended=True,
        state=am.RunState.AWAITING_INPUT,
        blocker=am.Blocker(id="b1", request=am.Question("?"), asked_at=asked),
    )
    metrics.on_commit(Scope("p", "/d"), am.RunUpdated(seq=1, run=run))
    found = samples(metrics)
    assert found[("automations_oldest_awaiting_input_seconds", frozenset())] == 7200


async def test_runtimes_of_one_process_may_share_one_metrics(
    runtime_factory: OpenRuntime,
) -> None:
    shared = Metrics()
    async with (
        runtime_factory(metrics=shared) as first,
        runtime_factory(metrics=shared, directory="/repo/b") as second,
    ):
        for rt in (first, second):
            a = await rt.create(new())
            await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    found = samples(shared)
    assert family(found, "automations_runs_started_total") == {labels(trigger="manual"): 2}
    assert family(found, "automations_lease_changes_total") == {
        labels(project="project-a", directory=d, change=c): 1
        for d in ("/repo/a", "/repo/b")
        for c in ("acquired", "lost")
    }
