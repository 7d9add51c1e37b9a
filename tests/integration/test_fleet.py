"""A fleet worker (`open_runtime(..., scopes="all")`) serves every scope of its
database: fleet workers share the scopes' leases out, balanced, hand them over when
one joins or leaves, leave a one-scope worker its own, and fire each slot once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

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
) -> dict[Scope, am.Automation]:
    """A ticking automation in each of `SCOPES`, created by a client of its scope."""
    created: dict[Scope, am.Automation] = {}
    for scope in SCOPES:
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


async def test_a_run_claimed_by_a_cell_that_hands_its_scope_over_is_not_left_behind(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, SCOPES[0])
    created = await _created(opened)
    moving = SCOPES[-1]  # a newcomer takes the last scope of a worker over its share
    async with opened(scopes="all") as first, opened(moving, role="client") as client:
        await until_workers(first, lambda ws: each_led_once(ws, SCOPES), first)
        slot = created[moving].next_fire_at
        assert slot is not None
        async with client.events(await client.last_event_seq()) as events:
            clock.set(slot - timedelta(milliseconds=300))  # its run is recorded ahead
            async for event in events:
                if isinstance(event, am.RunUpdated) and event.run.state is am.RunState.SCHEDULED:
                    claimed = event.run
                    break
        async with opened(scopes="all") as second:
            mine = second._services.owner
            await until_workers(
                first, lambda ws: any(w.id == mine and moving in w.scopes for w in ws), second
            )
            # The first worker's cell closed while its process lives on: the run it had
            # recorded ahead of its slot ends with a reason instead of staying scheduled.
            ended = await client.wait(claimed.id, until=am.RunState.STOPPED, timeout=10)
            assert (ended.state, ended.stop_reason) == (
                am.RunState.STOPPED,
                am.StopReason.WORKER_STOPPED,
            )
            found = await second.workers()
            assert moving in next(w.scopes for w in found if w.id == second._services.owner)


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
        async with client.events(await client.last_event_seq()) as events:
            clock.set(slot - timedelta(milliseconds=300))  # its run is recorded ahead
            async for event in events:
                if isinstance(event, am.RunUpdated) and event.run.state is am.RunState.SCHEDULED:
                    claimed = event.run
                    break
    # Closed with the process: the run is left scheduled, as a one-scope worker leaves it.
    async with opened(scopes="all") as second, opened(scope, role="client") as client:
        assert (await client.get_run(claimed.id)).state is am.RunState.SCHEDULED
        await until_workers(second, lambda ws: led(ws) == Counter([scope]), second)
        clock.set(slot)  # the next holder starts it at its slot
        ended = await client.wait(claimed.id, timeout=10)
        assert ended.state is am.RunState.SUCCEEDED
