"""Back-pressure in a fleet (issue 26): three workers of ten permits each, a hundred
slow runs due at once, in ten scopes.

No worker runs more than ten at any moment. Each fires its due slots in slot order as
its permits come back; a slot that waited past its catch-up window is recorded missed,
one that did not runs; every slot ends with exactly one run, none is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import datetime, timedelta

import anyio
import pytest

import automations as am
from automations.api import Runtime
from automations.model import Scope, Worker
from automations.testing import ManualClock

from .conftest import new
from .fleets import each_led_once, opener, until_workers

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("quick_heartbeats")]

SCOPES = [Scope("pressure", f"/pressure/{i}") for i in range(10)]
PER_SCOPE = 10
PERMITS = 10
WINDOW = timedelta(seconds=150)


class Slow:
    """One worker's executor: counts the runs it has going at once and holds each
    until the test lets the current wave go (a run entering after that is the next
    wave's)."""

    def __init__(self) -> None:
        self.going = 0
        self.most = 0
        self.waves: list[list[datetime]] = [[]]
        """The slots of the runs entered, by wave."""
        self.holding = True
        self._wave = anyio.Event()
        self._entered = anyio.Event()

    @property
    def entered(self) -> int:
        return sum(len(wave) for wave in self.waves)

    async def wait_entered(self, count: int) -> None:
        while self.entered < count:
            await self._entered.wait()

    def let_go(self) -> None:
        """End the held runs; those after them end at once."""
        self.holding = False
        self.waves.append([])
        self._wave.set()

    async def __call__(self, ctx: am.RunContext) -> None:
        self.going += 1
        self.most = max(self.most, self.going)
        self.waves[-1].append(ctx.run.triggered_at)
        self._entered.set()
        self._entered = anyio.Event()
        try:
            if self.holding:
                await self._wave.wait()
        finally:
            self.going -= 1


def _pressing(base: datetime) -> dict[Scope, list[am.NewAutomation]]:
    """Each automation's one slot of the hour is `base + k` seconds, k in 0-99, each
    scope's spread over the hundred; a worktree each, so no two share a writer key."""
    return {
        scope: [
            new(
                title=f"press {i}.{j}",
                schedule=am.Interval(
                    every=timedelta(hours=1), start=base + timedelta(seconds=j * 10 + i)
                ),
                catchup_window=WINDOW,
                catchup=am.Catchup.NONE,
                where=am.Where(scope.project, worktree=f"{scope.directory}/{j}"),
            )
            for j in range(PER_SCOPE)
        ]
        for i, scope in enumerate(SCOPES)
    }


def _balanced(workers: Sequence[Worker]) -> bool:
    return (
        len(workers) == 3
        and each_led_once(workers, SCOPES)
        and all(2 <= len(w.scopes) <= 5 for w in workers)
    )


async def _ended(client: Runtime, ids: set[str]) -> dict[str, list[am.Run]]:
    """Each automation's runs, once every one of them has an ended run."""
    ended: dict[str, list[am.Run]] = {}
    with anyio.fail_after(30):
        async with client.events(0) as events:
            async for event in events:
                run = event.run if isinstance(event, am.RunUpdated) else None
                if run is not None and run.state.is_terminal and run.automation_id in ids:
                    ended.setdefault(run.automation_id, []).append(run)
                if len(ended) == len(ids):
                    return ended
    raise AssertionError("the event stream ended")


async def test_no_worker_runs_more_than_its_permits_and_waiting_slots_run_in_order_or_are_missed(
    location: str, clock: ManualClock
) -> None:
    opened = opener(location, clock, SCOPES[0])
    base = clock.now() + timedelta(minutes=5)
    slot_of: dict[str, datetime] = {}
    scope_of: dict[str, Scope] = {}
    for scope, automations in _pressing(base).items():
        async with opened(scope, role="client") as client:
            for automation in await client.create_many(automations):
                assert automation.next_fire_at is not None
                slot_of[automation.id], scope_of[automation.id] = automation.next_fire_at, scope
    slow = [Slow(), Slow(), Slow()]
    async with AsyncExitStack() as stack:
        workers = [
            await stack.enter_async_context(
                opened(scopes="all", max_scheduled_runs=PERMITS, executors={"default": s})
            )
            for s in slow
        ]
        found = await until_workers(workers[0], _balanced, *workers)
        led = {w.id: set(w.scopes) for w in found}
        scopes_of = [led[worker._services.owner] for worker in workers]

        clock.set(base + timedelta(seconds=100))  # all hundred due, each on time
        for s in slow:
            await s.wait_entered(PERMITS)
        for worker in workers:  # heartbeats go by: the other slots wait for permits
            presence = worker._supervisor.presence
            assert presence is not None
            for _ in range(3):
                await presence.next_beat()
        assert [s.entered for s in slow] == [PERMITS] * 3

        clock.set(base + timedelta(seconds=200))  # waiting slots before +50 are late now
        for s in slow:
            s.let_go()
        ended: dict[str, list[am.Run]] = {}
        for scope in SCOPES:  # a client sees its own scope's events
            async with opened(scope, role="client") as client:
                ids = {a for a in slot_of if scope_of[a] == scope}
                ended |= await _ended(client, ids)

    assert [s.most for s in slow] == [PERMITS] * 3  # never more, at any moment
    late = base + timedelta(seconds=200) - WINDOW
    for s, scopes in zip(slow, scopes_of, strict=True):
        mine = sorted(slot_of[a] for a in slot_of if scope_of[a] in scopes)
        first, rest = mine[:PERMITS], mine[PERMITS:]
        assert sorted(s.waves[0]) == first  # its ten earliest slots took its permits
        assert sorted(s.waves[1]) == [slot for slot in rest if slot >= late]  # then the rest
    for automation_id, runs in ended.items():
        [run] = runs  # exactly one run for its slot: none lost, none twice
        assert run.triggered_at == slot_of[automation_id]
        if run.state is am.RunState.SUCCEEDED:
            continue
        assert run.stop_reason is am.StopReason.MISSED_SCHEDULE
        assert run.triggered_at < late, "a slot still in its window was recorded missed"
