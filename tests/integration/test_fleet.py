"""A fleet worker (`open_runtime(..., scopes="all")`) serves every scope of its
database: fleet workers share the scopes' leases out, balanced, hand them over when
one joins or leaves, leave a one-scope worker its own, and fire each slot once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import NamedTuple

import pytest

import automations as am
from automations.api import Runtime
from automations.model import Scope
from automations.testing import ManualClock

from .conftest import Gate, every, first_ended_run, new
from .fleets import each_led_once, led, opener, until_workers

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("quick_heartbeats")]

SCOPES = [Scope("fleet", f"/repo/{i}") for i in range(4)]


def _ticking(scope: Scope) -> am.NewAutomation:
    """Every minute, writing to a worktree of its own (no two share a writer key)."""
    return new(schedule=every(60), where=am.Where(scope.project, worktree=scope.directory))


async def _created(
    opened: Callable[..., AbstractAsyncContextManager[Runtime]],
    scopes: Sequence[Scope] = SCOPES,
) -> dict[Scope, am.Automation]:
    """A ticking automation in each of `scopes`, created by a client of its scope."""
    created: dict[Scope, am.Automation] = {}
    for scope in scopes:
        async with opened(scope, role="client") as client:
            created[scope] = await client.create(_ticking(scope))
    return created


async def test_fleet_workers_balance_the_scopes_fire_once_and_take_over_from_one_that_leaves(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, SCOPES[0])
    automations = await _created(opened)
    async with opened(scopes="all") as first:
        found = await until_workers(first, lambda ws: each_led_once(ws, SCOPES), first)
        assert len(found) == 1 and found[0].fleet  # alone: it leads every scope
        async with opened(scopes="all") as second:
            found = await until_workers(
                first,
                # A fair share of 2 each, within the slack of 1: 3 and 1 at worst.
                lambda ws: each_led_once(ws, SCOPES) and all(1 <= len(w.scopes) <= 3 for w in ws),
                first,
                second,
            )
            clock.advance(60)
            for scope, automation in automations.items():
                async with opened(scope, role="client") as client:
                    run = await first_ended_run(client, automation.id)
                    assert run.trigger is am.Trigger.SCHEDULE
                    assert run.state is am.RunState.SUCCEEDED
                    page = await client.runs(automation.id)
                    assert [r.id for r in page.items] == [run.id]  # fired once
        found = await until_workers(
            first, lambda ws: len(ws) == 1 and each_led_once(ws, SCOPES), first
        )
        assert found[0].id == first._services.owner  # it took the leaver's scopes over


async def test_a_one_scope_worker_keeps_its_scope_and_the_fleet_leads_the_rest(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, SCOPES[0])
    await _created(opened)
    async with opened(SCOPES[0]) as own, opened(scopes="all") as fleet:
        found = await until_workers(fleet, lambda ws: each_led_once(ws, SCOPES), own, fleet)
        by_id = {w.id: w for w in found}
        assert by_id[own._services.owner].scopes == (SCOPES[0],)
        assert not by_id[own._services.owner].fleet
        assert set(by_id[fleet._services.owner].scopes) == set(SCOPES[1:])


async def test_all_scopes_is_for_a_worker(location: str, clock: ManualClock) -> None:
    opened = opener(location, clock, SCOPES[0])
    with pytest.raises(am.ValidationError, match="all_scopes_needs_role_worker"):
        async with opened(role="client", scopes="all"):
            pass
    with pytest.raises(am.ValidationError, match="scopes_must_be_all_or_none"):
        async with opened(scopes="some"):
            pass


async def test_a_fleet_worker_runs_at_most_its_capacity_whatever_the_scopes(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, SCOPES[0])
    await _created(opened)
    gate = Gate()
    async with opened(scopes="all", max_scheduled_runs=2, executors={"default": gate}) as fleet:
        await until_workers(fleet, lambda ws: each_led_once(ws, SCOPES), fleet)
        clock.advance(60)  # four slots due, in four scopes
        await gate.wait_calls(2)
        busy = await until_workers(fleet, lambda ws: ws[0].running == 2, fleet)
        assert busy[0].capacity == 2
        presence = fleet._supervisor.presence
        assert presence is not None
        for _ in range(3):  # heartbeats go by: the other two slots wait for a permit
            await presence.next_beat()
        assert len(gate.calls) == 2
        gate.release.set()
        await gate.wait_calls(4)  # each freed permit lets a waiting slot fire


async def test_a_run_recorded_ahead_of_its_slot_goes_with_the_scope_handed_over(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, SCOPES[0])
    created = await _created(opened)
    moving = SCOPES[-1]  # a newcomer takes the last scope of a worker over its share
    ran_second: list[str] = []

    async def second_ran(ctx: am.RunContext) -> None:
        ran_second.append(ctx.run.id)

    async with opened(scopes="all") as first, opened(moving, role="client") as client:
        await until_workers(first, lambda ws: each_led_once(ws, SCOPES), first)
        slot = created[moving].next_fire_at
        assert slot is not None
        claimed = await _recorded_ahead(client, clock, slot)
        async with opened(scopes="all", executors={"default": second_ran}) as second:
            mine = second._services.owner
            await until_workers(
                first, lambda ws: any(w.id == mine and moving in w.scopes for w in ws), second
            )
            # The first worker's cell let the lease go with the run, which it had not
            # begun: the scope's new holder starts it at its slot, once.
            clock.set(slot)
            ended = await client.wait(claimed.id, timeout=10)
            assert ended.state is am.RunState.SUCCEEDED
            assert ran_second == [claimed.id]
            page = await client.runs(created[moving].id)
            assert [r.id for r in page.items] == [claimed.id]


class HandedOver(NamedTuple):
    first: Runtime
    """The fleet worker that led every scope and gave `SCOPES[-1]` away."""
    client: Runtime
    going: am.Run
    """The run of `SCOPES[-1]` that `first` executes (held by the gate)."""


@asynccontextmanager
async def _going_when_handed_over(
    location: str, clock: ManualClock, gate: Gate
) -> AsyncIterator[HandedOver]:
    """A run of each scope going on in one fleet worker, held by `gate`, when a second
    worker joins and takes the last scope over."""
    opened = opener(location, clock, SCOPES[0])
    created = await _created(opened)
    moving = SCOPES[-1]
    async with (
        opened(scopes="all", executors={"default": gate}) as first,
        opened(moving, role="client") as client,
    ):
        await until_workers(first, lambda ws: each_led_once(ws, SCOPES), first)
        slot = created[moving].next_fire_at
        assert slot is not None
        clock.set(slot)
        await gate.wait_calls(len(SCOPES))  # a run in each scope, the moving one's too
        (going,) = (await client.runs(created[moving].id)).items
        assert going.id in gate.calls
        async with opened(scopes="all") as second:
            newcomer = second._services.owner
            await until_workers(
                first,
                lambda ws: any(w.id == newcomer and moving in w.scopes for w in ws),
                first,
                second,
            )
            try:
                yield HandedOver(first, client, going)
            finally:
                gate.release.set()


async def test_a_run_going_on_in_a_cell_whose_scope_is_handed_over_ends_where_it_began(
    location: str, clock: ManualClock
) -> None:
    gate = Gate()
    async with _going_when_handed_over(location, clock, gate) as (first, client, going):
        me = first._services.owner
        mine = next(w for w in await first.workers() if w.id == me)
        assert SCOPES[-1] not in mine.scopes and mine.running == len(SCOPES)
        assert (await client.get_run(going.id)).state is am.RunState.RUNNING
        gate.release.set()  # the run was not stopped by the handover: it ends here
        ended = await client.wait(going.id, timeout=10)
        assert (ended.state, ended.result) == (am.RunState.SUCCEEDED, "released")
        assert not gate.cancelled
        await until_workers(first, lambda ws: next(w for w in ws if w.id == me).running == 0, first)


async def test_a_run_going_on_after_its_scope_was_handed_over_is_cancelled_where_it_runs(
    location: str, clock: ManualClock
) -> None:
    gate = Gate()
    async with _going_when_handed_over(location, clock, gate) as (_, client, going):
        # The cell without its lease still takes the commands sent to its runs.
        ended = await client.cancel(going.id)
        assert (ended.state, ended.stop_reason) == (am.RunState.STOPPED, am.StopReason.CANCELLED)
        assert gate.cancelled


async def test_a_run_that_fails_after_its_scope_was_handed_over_is_retried_by_the_new_holder(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, SCOPES[0])
    moving = SCOPES[-1]
    await _created(opened, SCOPES[:-1])
    async with opened(moving, role="client") as client:
        retry = am.RetryPolicy(max_attempts=2, backoff=timedelta(seconds=10))
        created = await client.create(
            new(
                schedule=every(60),
                where=am.Where(moving.project, worktree=moving.directory),
                retry=retry,
            )
        )
    gate, ran_second = Gate(), []

    async def fails_when_released(ctx: am.RunContext) -> None:
        await gate(ctx)
        raise RuntimeError("the agent fell over")

    async def second_ran(ctx: am.RunContext) -> None:
        ran_second.append(ctx.run.id)

    async with (
        opened(scopes="all", executors={"default": fails_when_released}) as first,
        opened(moving, role="client") as client,
    ):
        await until_workers(first, lambda ws: each_led_once(ws, SCOPES), first)
        assert created.next_fire_at is not None
        clock.set(created.next_fire_at)
        await gate.wait_calls(len(SCOPES))
        async with opened(scopes="all", executors={"default": second_ran}) as second:
            newcomer = second._services.owner
            await until_workers(
                first, lambda ws: any(w.id == newcomer and moving in w.scopes for w in ws), second
            )
            async with client.events(await client.last_event_seq()) as events:
                gate.release.set()  # the run fails where it began; its retry is not its own
                async for event in events:
                    if isinstance(event, am.RunUpdated) and event.run.attempt == 2:
                        retry_run = event.run
                        break
            clock.advance(10)  # the retry is due: the scope's holder starts it
            ended = await client.wait(retry_run.id, timeout=10)
            assert ended.state is am.RunState.SUCCEEDED
            assert ran_second == [retry_run.id]


async def _recorded_ahead(client: Runtime, clock: ManualClock, slot: datetime) -> am.Run:
    """The run of `slot`, recorded ahead of it (`scheduled`) once the clock is near."""
    async with client.events(await client.last_event_seq()) as events:
        clock.set(slot - timedelta(milliseconds=300))
        async for event in events:
            if isinstance(event, am.RunUpdated) and event.run.state is am.RunState.SCHEDULED:
                return event.run
    raise AssertionError("the events ended before the run was recorded")


async def test_a_closing_fleet_worker_leaves_a_claimed_run_to_the_next_one(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, SCOPES[0])
    scope = SCOPES[0]
    async with opened(scope, role="client") as client:
        automation = await client.create(_ticking(scope))
    slot = automation.next_fire_at
    assert slot is not None
    async with opened(scopes="all") as first, opened(scope, role="client") as client:
        await until_workers(first, lambda ws: led(ws) == Counter([scope]), first)
        claimed = await _recorded_ahead(client, clock, slot)
    # Closed with the process: the run is left scheduled, as a one-scope worker leaves it.
    async with opened(scopes="all") as second, opened(scope, role="client") as client:
        assert (await client.get_run(claimed.id)).state is am.RunState.SCHEDULED
        await until_workers(second, lambda ws: led(ws) == Counter([scope]), second)
        clock.set(slot)  # the next holder starts it at its slot
        ended = await client.wait(claimed.id, timeout=10)
        assert ended.state is am.RunState.SUCCEEDED
