"""Schedulers sharing one `FireLimit` (a fleet worker's cells), their slots due at
the same moment: the permits go to the earliest slots whichever scope they are in,
and the rest wait in slot order."""

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
    """One scope's due index; a read lets the other tasks run, as a store's does."""

    def __init__(self, due: list[tuple[str, int]]) -> None:
        self._due = due

    async def due(self, scope: Scope, until_ms: int, limit: int) -> list[tuple[str, int]]:
        await anyio.lowlevel.checkpoint()
        return [row for row in self._due if row[1] <= until_ms][:limit]

    async def automations_by_ids(self, scope: Scope, ids: set[str]) -> list[Automation]:
        await anyio.lowlevel.checkpoint()
        return []


class Cold:
    def warm(self, automation: Automation) -> None:
        pass

    def is_warm(self, automation_id: str) -> bool:
        return False


def _services(scope: Scope, clock: ManualClock, reader: Reader) -> Services:
    store = SimpleNamespace(reader=reader)
    return cast(Services, SimpleNamespace(store=store, clock=clock, scope=scope))


async def test_schedulers_sharing_a_limit_fire_the_earliest_slots_first() -> None:
    clock = ManualClock(T0)
    limit = FireLimit(2)
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
            services = _services(scope, clock, Reader(due))
            cells.start_soon(Scheduler(services, fire, warmer=Cold(), limit=limit).run)
        with anyio.fail_after(5):
            await clock.wait_sleepers(2)
            await anyio.wait_all_tasks_blocked()
            assert len(fired) == 2 and limit.taken == 2  # the later slots wait
            assert {automation_id for automation_id, _ in fired} == {"a1", "b1"}
            for permit in permits:
                permit.release()
            while len(fired) < 4:
                clock.advance(0.05)
                await anyio.wait_all_tasks_blocked()
        cells.cancel_scope.cancel()
    assert {automation_id for automation_id, _ in fired[2:]} == {"a2", "b2"}
    assert [s for _, s in fired] == [T0] * 2 + [T0 + timedelta(milliseconds=1)] * 2
