"""A fleet worker (`open_runtime(..., scopes="all")`) serves every scope of its
database: fleet workers share the scopes' leases out, balanced, hand them over when
one joins or leaves, leave a one-scope worker its own, and fire each slot once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

import anyio
import pytest

import automations as am
from automations.actors import _presence
from automations.api import Runtime, open_runtime
from automations.model import Scope, Worker
from automations.testing import ManualClock

from .conftest import Gate, every, first_ended_run, new, noop

pytestmark = pytest.mark.anyio

SCOPES = [Scope("fleet", f"/repo/{i}") for i in range(4)]


@pytest.fixture(autouse=True)
def quick_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_presence, "HEARTBEAT_SECONDS", 0.05)


def _opener(
    location: str, clock: ManualClock
) -> Callable[..., AbstractAsyncContextManager[Runtime]]:
    @asynccontextmanager
    async def opened(scope: Scope = SCOPES[0], **options: object) -> AsyncIterator[Runtime]:
        executors = options.pop("executors", {"default": noop})
        async with open_runtime(
            location,
            executors=executors,  # type: ignore[arg-type]
            project=scope.project,
            directory=scope.directory,
            clock=clock,
            cancel_grace=2.0,
            **options,  # type: ignore[arg-type]
        ) as rt:
            yield rt

    return opened


async def _until(
    rt: Runtime, check: Callable[[Sequence[Worker]], bool], *beating: Runtime
) -> Sequence[Worker]:
    """The live workers once they satisfy `check`, read again after each heartbeat."""
    with anyio.fail_after(15):
        while not check(found := await rt.workers()):
            async with anyio.create_task_group() as beats:
                for worker in beating:
                    presence = worker._supervisor.presence
                    assert presence is not None
                    beats.start_soon(presence.next_beat)
    return found


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


def _led(workers: Sequence[Worker]) -> Counter[Scope]:
    return Counter(scope for w in workers for scope in w.scopes)


def _each_led_once(workers: Sequence[Worker], scopes: Sequence[Scope]) -> bool:
    return _led(workers) == Counter(scopes)


async def test_fleet_workers_balance_the_scopes_fire_once_and_take_over_from_one_that_leaves(
    location: str, clock: ManualClock
) -> None:
    opened = _opener(location, clock)
    automations = await _created(opened)
    async with opened(scopes="all") as first:
        found = await _until(first, lambda ws: _each_led_once(ws, SCOPES), first)
        assert len(found) == 1 and found[0].fleet  # alone: it leads every scope
        async with opened(scopes="all") as second:
            found = await _until(
                first,
                # A fair share of 2 each, within the slack of 1: 3 and 1 at worst.
                lambda ws: _each_led_once(ws, SCOPES) and all(1 <= len(w.scopes) <= 3 for w in ws),
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
        found = await _until(first, lambda ws: len(ws) == 1 and _each_led_once(ws, SCOPES), first)
        assert found[0].id == first._services.owner  # it took the leaver's scopes over


async def test_a_one_scope_worker_keeps_its_scope_and_the_fleet_leads_the_rest(
    location: str, clock: ManualClock
) -> None:
    opened = _opener(location, clock)
    await _created(opened)
    async with opened(SCOPES[0]) as own, opened(scopes="all") as fleet:
        found = await _until(fleet, lambda ws: _each_led_once(ws, SCOPES), own, fleet)
        by_id = {w.id: w for w in found}
        assert by_id[own._services.owner].scopes == (SCOPES[0],)
        assert not by_id[own._services.owner].fleet
        assert set(by_id[fleet._services.owner].scopes) == set(SCOPES[1:])


async def test_all_scopes_is_for_a_worker(location: str, clock: ManualClock) -> None:
    opened = _opener(location, clock)
    with pytest.raises(am.ValidationError, match="all_scopes_needs_role_worker"):
        async with opened(role="client", scopes="all"):
            pass
    with pytest.raises(am.ValidationError, match="scopes_must_be_all_or_none"):
        async with opened(scopes="some"):
            pass


async def test_a_fleet_worker_runs_at_most_its_capacity_whatever_the_scopes(
    location: str, clock: ManualClock
) -> None:
    opened = _opener(location, clock)
    await _created(opened)
    gate = Gate()
    async with opened(scopes="all", max_scheduled_runs=2, executors={"default": gate}) as fleet:
        await _until(fleet, lambda ws: _each_led_once(ws, SCOPES), fleet)
        clock.advance(60)  # four slots due, in four scopes
        await gate.wait_calls(2)
        busy = await _until(fleet, lambda ws: ws[0].running == 2, fleet)
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
    opened = _opener(location, clock)
    created = await _created(opened)
    moving = SCOPES[-1]  # a newcomer takes the last scope of a worker over its share
    async with opened(scopes="all") as first, opened(moving, role="client") as client:
        await _until(first, lambda ws: _each_led_once(ws, SCOPES), first)
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
            await _until(
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
    opened = _opener(location, clock)
    scope = SCOPES[0]
    async with opened(scope, role="client") as client:
        automation = await client.create(_ticking(scope))
    slot = automation.next_fire_at
    assert slot is not None
    async with opened(scopes="all") as first, opened(scope, role="client") as client:
        await _until(first, lambda ws: _led(ws) == Counter([scope]), first)
        async with client.events(await client.last_event_seq()) as events:
            clock.set(slot - timedelta(milliseconds=300))  # its run is recorded ahead
            async for event in events:
                if isinstance(event, am.RunUpdated) and event.run.state is am.RunState.SCHEDULED:
                    claimed = event.run
                    break
    # Closed with the process: the run is left scheduled, as a one-scope worker leaves it.
    async with opened(scopes="all") as second, opened(scope, role="client") as client:
        assert (await client.get_run(claimed.id)).state is am.RunState.SCHEDULED
        await _until(second, lambda ws: _led(ws) == Counter([scope]), second)
        clock.set(slot)  # the next holder starts it at its slot
        ended = await client.wait(claimed.id, timeout=10)
        assert ended.state is am.RunState.SUCCEEDED
