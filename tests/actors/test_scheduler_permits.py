"""Schedulers sharing one `FireLimit` (a fleet worker's cells): a scheduler counts the
free permits again after reading its due definitions, since the others took some
meanwhile; what it cannot fire stays due, in slot order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import anyio
import pytest

from automations.actors._fire_limit import FireLimit, Permit
from automations.actors._scheduler import Scheduler
from automations.actors._services import Services
from automations.model import Automation, Scope, to_ms
from automations.testing import ManualClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Reader:
    """One scope's due index; reading definitions waits until every scheduler reads."""

    def __init__(self, due: list[tuple[str, int]], reading: Reading) -> None:
        self._due = due
        self._reading = reading

    async def due(self, scope: Scope, until_ms: int, limit: int) -> list[tuple[str, int]]:
        return [row for row in self._due if row[1] <= until_ms][:limit]

    async def automations_by_ids(self, scope: Scope, ids: set[str]) -> list[Automation]:
        await self._reading.together()
        return []


class Reading:
    """Holds each reader until `count` of them read: every scheduler has counted its
    permits before any takes one."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._all = anyio.Event()

    async def together(self) -> None:
        self._count -= 1
        if self._count <= 0:
            self._all.set()
        await self._all.wait()


class Cold:
    def warm(self, automation: Automation) -> None:
        pass

    def is_warm(self, automation_id: str) -> bool:
        return False


def _services(scope: Scope, clock: ManualClock, reader: Reader) -> Services:
    store = SimpleNamespace(reader=reader)
    return cast(Services, SimpleNamespace(store=store, clock=clock, scope=scope))


async def test_schedulers_sharing_a_limit_fire_no_more_than_the_free_permits() -> None:
    clock = ManualClock(T0)
    limit = FireLimit(2)
    reading = Reading(2)
    fired: list[tuple[str, datetime]] = []
    permits: list[Permit] = []

    def fire(automation_id: str, slot: datetime, _: bool, __: int | None, permit: Permit) -> None:
        fired.append((automation_id, slot))
        permits.append(permit)

    slot = to_ms(T0)
    scopes = {name: Scope("fleet", f"/repo/{name}") for name in "ab"}
    async with anyio.create_task_group() as cells:
        for name, scope in scopes.items():
            # Two slots due in each scope, on a limit of two for both.
            due = [(f"{name}1", slot), (f"{name}2", slot + 1)]
            services = _services(scope, clock, Reader(due, reading))
            cells.start_soon(Scheduler(services, fire, warmer=Cold(), limit=limit).run)
        with anyio.fail_after(5):
            await clock.wait_sleepers(2)
            await anyio.wait_all_tasks_blocked()
            assert len(fired) == 2 and limit.taken == 2  # the other scope's slots wait
            first = {automation_id[0] for automation_id, _ in fired}
            assert len(first) == 1
            for permit in permits:
                permit.release()
            while len(fired) < 4:  # freed permits gather before the next round
                clock.advance(0.05)
                await anyio.wait_all_tasks_blocked()
        cells.cancel_scope.cancel()
    waited = [automation_id for automation_id, _ in fired[2:]]
    assert waited == sorted(waited) and {a[0] for a in waited} != first  # in slot order
    assert [s for _, s in fired] == [T0, T0 + timedelta(milliseconds=1)] * 2
