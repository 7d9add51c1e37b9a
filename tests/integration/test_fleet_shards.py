"""A fleet shares out shards, not scopes (`actors/_shard.py`): a scope that appears in a
led shard is led at once, a scope in a shard nobody leads yet is led once the plan
gives that shard out, and a one-scope worker that comes later takes its own scope
from the fleet, which takes it back when that worker goes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

import automations as am
from automations.model import Scope, Worker
from automations.persistence import shard_of
from automations.testing import ManualClock

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
