"""A fleet shares out shards, not scopes (`actors/_shard.py`): a scope that appears in a
led shard is led at once, a scope in a shard nobody leads yet is led once the plan
gives that shard out, a one-scope worker keeps its own scope (also one that comes
later), which the fleet takes back when that worker goes, and a scope lease whose
holder is gone is fenced off as the fleet takes the scope."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

import anyio
import pytest
from anyio.abc import TaskStatus

import automations as am
from automations.api import Runtime
from automations.model import Scope, Worker
from automations.persistence import AcquireLease, SaveAutomation, lease_name, shard_of
from automations.testing import ManualClock

from ..persistence.helpers import automation
from .conftest import every, first_ended_run, new
from .fleets import each_led_once, opener, until_workers

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("quick_heartbeats")]

HOME = Scope("fleet", "/repo/home")


def _in_shard(shard: int, taken: Sequence[Scope]) -> Scope:
    """A scope of `shard` other than those `taken`."""
    n = 0
    while (scope := Scope("fleet", f"/repo/s{n}")) in taken or shard_of(scope) != shard:
        n += 1
    return scope


def _elsewhere(taken: Sequence[Scope]) -> Scope:
    """A scope in a shard none of `taken` is in."""
    shards = {shard_of(scope) for scope in taken}
    n = 0
    while shard_of(scope := Scope("fleet", f"/repo/e{n}")) in shards:
        n += 1
    return scope


async def _held_open(
    opening: AbstractAsyncContextManager[Runtime],
    *,
    task_status: TaskStatus[tuple[Runtime, anyio.Event]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Keep a runtime open in a task of its own until the event given back is set."""
    async with opening as runtime:
        let_go = anyio.Event()
        task_status.started((runtime, let_go))
        await let_go.wait()


def _ticking(scope: Scope) -> am.NewAutomation:
    return new(schedule=every(60), where=am.Where(scope.project, worktree=scope.directory))


def _leads(worker_id: str, scopes: Sequence[Scope]) -> Callable[[Sequence[Worker]], bool]:
    """Whether the worker leads (at least) `scopes`."""

    def check(workers: Sequence[Worker]) -> bool:
        mine = [w for w in workers if w.id == worker_id]
        return bool(mine) and set(scopes) <= set(mine[0].scopes)

    return check


async def test_a_scope_that_appears_in_a_led_shard_or_a_new_one_is_led_and_fires(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, HOME)
    async with opened(HOME, role="client") as client:
        await client.create(_ticking(HOME))
    sibling = _in_shard(shard_of(HOME), [HOME])  # the shard is led already
    stranger = _elsewhere([HOME])  # a shard with no scope yet
    async with opened(scopes="all") as fleet:
        await until_workers(fleet, lambda ws: each_led_once(ws, [HOME]), fleet)
        created: dict[Scope, am.Automation] = {}
        for scope in (sibling, stranger):
            async with opened(scope, role="client") as client:
                created[scope] = await client.create(_ticking(scope))
        me = fleet._services.owner
        await until_workers(fleet, _leads(me, [HOME, sibling, stranger]), fleet)
        clock.advance(60)
        for scope, automation in created.items():
            async with opened(scope, role="client") as client:
                run = await first_ended_run(client, automation.id)
                assert (run.trigger, run.state) == (am.Trigger.SCHEDULE, am.RunState.SUCCEEDED)
                assert [r.id for r in (await client.runs(automation.id)).items] == [run.id]


async def test_a_one_scope_worker_that_comes_later_takes_its_scope_and_gives_it_back(
    location: str, clock: ManualClock
) -> None:
    scopes = [HOME, _in_shard(shard_of(HOME), [HOME])]  # one shard, two scopes
    opened = opener(location, clock, HOME)
    created: dict[Scope, am.Automation] = {}
    for scope in scopes:
        async with opened(scope, role="client") as client:
            created[scope] = await client.create(_ticking(scope))
    async with opened(scopes="all") as fleet:
        me = fleet._services.owner
        await until_workers(fleet, lambda ws: each_led_once(ws, scopes), fleet)
        async with opened(HOME) as own:
            found = await until_workers(
                fleet,
                lambda ws: each_led_once(ws, scopes) and _leads(own._services.owner, [HOME])(ws),
                fleet,
                own,
            )
            by_id = {w.id: w for w in found}
            assert by_id[own._services.owner].scopes == (HOME,)
            assert by_id[me].scopes == (scopes[1],)  # the shard's other scope stays
            clock.advance(60)
            for scope, automation in created.items():
                async with opened(scope, role="client") as client:
                    run = await first_ended_run(client, automation.id)
                    assert run.state is am.RunState.SUCCEEDED
                    assert [r.id for r in (await client.runs(automation.id)).items] == [run.id]
        await until_workers(fleet, _leads(me, scopes), fleet)


async def test_a_scope_its_own_worker_led_first_is_taken_when_that_worker_goes(
    location: str, clock: ManualClock
) -> None:
    scopes = [HOME, _in_shard(shard_of(HOME), [HOME])]
    opened = opener(location, clock, HOME)
    created: dict[Scope, am.Automation] = {}
    for scope in scopes:
        async with opened(scope, role="client") as client:
            created[scope] = await client.create(_ticking(scope))
    async with anyio.create_task_group() as holding:
        # It leads its scope before the fleet opens, so the shard's term begins
        # without it (no supervisor of it yet), and goes while the fleet leads.
        own, let_go = await holding.start(_held_open, opened(HOME))
        await until_workers(own, _leads(own._services.owner, [HOME]), own)
        async with opened(scopes="all") as fleet:
            me = fleet._services.owner
            await until_workers(fleet, lambda ws: each_led_once(ws, scopes), fleet, own)
            assert _leads(own._services.owner, [HOME])(await fleet.workers())
            let_go.set()
            await until_workers(fleet, _leads(me, scopes), fleet)  # its shard takes it now
            clock.advance(60)
            async with opened(HOME, role="client") as client:
                run = await first_ended_run(client, created[HOME].id)
                assert (run.trigger, run.state) == (am.Trigger.SCHEDULE, am.RunState.SUCCEEDED)
                assert [r.id for r in (await client.runs(created[HOME].id)).items] == [run.id]


async def test_a_scope_lease_of_a_gone_holder_is_fenced_off_as_its_shard_takes_the_scope(
    location: str, clock: ManualClock
) -> None:
    """A one-scope worker frozen past its heartbeat's expiry still names itself in its
    scope's own lease: the shard moves that lease on, so its writes are refused."""
    opened = opener(location, clock, HOME)
    async with opened(HOME, role="client") as client:
        await client.create(_ticking(HOME))
        store = client._services.store
        frozen = await store.write(AcquireLease(lease_name(HOME), "frozen-worker", clock.now()))
    async with opened(scopes="all") as fleet:
        await until_workers(fleet, lambda ws: each_led_once(ws, [HOME]), fleet)
        store = fleet._services.store
        row = await store.reader.lease(lease_name(HOME))
        assert row is not None and (row.holder, row.epoch > frozen) == ("", True)
        with pytest.raises(am.LeaseLost):
            await store.write(SaveAutomation(HOME, automation(), None, epoch=frozen))
