"""A slot fires at most once: one scheduled run per (automation, slot), whatever the
processes do, held by the store rather than by the callers' care."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automations.model import (
    DuplicateSlot,
    Missed,
    RunState,
    StopReason,
    Trigger,
    advance,
)
from automations.persistence import CreateRun, SaveRun, StorePort

from ..helpers import NOW, SCOPE, run
from .builders import cancelled, create_automation, create_run, scheduled, started

pytestmark = pytest.mark.anyio

SLOT = NOW + timedelta(minutes=5)


async def test_a_second_scheduled_run_for_a_slot_is_a_duplicate(store: StorePort) -> None:
    a = await create_automation(store)
    first = scheduled(a.id, SLOT)
    await create_run(store, SCOPE, first)
    with pytest.raises(DuplicateSlot):
        await create_run(store, SCOPE, scheduled(a.id, SLOT))
    page = await store.reader.runs(SCOPE, a.id, limit=10, cursor=None)
    assert page.items == [first]


async def test_a_catch_up_run_takes_the_same_slot_as_a_scheduled_one(store: StorePort) -> None:
    a = await create_automation(store)
    await create_run(store, SCOPE, scheduled(a.id, SLOT))
    with pytest.raises(DuplicateSlot):
        await create_run(store, SCOPE, scheduled(a.id, SLOT, Trigger.CATCHUP))


async def test_a_slot_stays_taken_once_its_run_ended(store: StorePort) -> None:
    a = await create_automation(store)
    first = scheduled(a.id, SLOT)
    await create_run(store, SCOPE, first)
    await store.write(SaveRun(SCOPE, cancelled(first), 1, NOW))
    with pytest.raises(DuplicateSlot):
        await create_run(store, SCOPE, scheduled(a.id, SLOT))


async def test_a_run_created_already_started_takes_its_slot(store: StorePort) -> None:
    a = await create_automation(store)
    first = scheduled(a.id, SLOT)
    await store.write(CreateRun(SCOPE, (first, started(first)), (NOW, NOW)))
    again = scheduled(a.id, SLOT)
    with pytest.raises(DuplicateSlot):
        await store.write(CreateRun(SCOPE, (again, started(again)), (NOW, NOW)))


async def test_of_two_runs_for_a_slot_submitted_together_the_first_commits(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    first, second = scheduled(a.id, SLOT), scheduled(a.id, SLOT)
    with store.together():
        winner = store.submit(SaveRun(SCOPE, first, None, NOW))
        loser = store.submit(SaveRun(SCOPE, second, None, NOW))
    assert isinstance(await winner.outcome(), int)
    with pytest.raises(DuplicateSlot):
        await loser.outcome()
    assert await store.reader.run_by_id(SCOPE, first.id) == first
    assert await store.reader.run_by_id(SCOPE, second.id) is None


async def test_slots_belong_to_their_automation(store: StorePort) -> None:
    a = await create_automation(store, title="a")
    b = await create_automation(store, title="b")
    await create_run(store, SCOPE, scheduled(a.id, SLOT))
    await create_run(store, SCOPE, scheduled(b.id, SLOT))  # another automation's slot
    await create_run(store, SCOPE, scheduled(a.id, SLOT + timedelta(minutes=1)))  # another slot
    assert len((await store.reader.runs(SCOPE, a.id, limit=10, cursor=None)).items) == 2


async def test_manual_runs_take_no_slot(store: StorePort) -> None:
    a = await create_automation(store)
    await create_run(store, SCOPE, scheduled(a.id, SLOT))
    await create_run(store, SCOPE, run(a.id, triggered_at=SLOT))
    await create_run(store, SCOPE, run(a.id, triggered_at=SLOT))
    assert len((await store.reader.runs(SCOPE, a.id, limit=10, cursor=None)).items) == 3


async def test_missed_slots_are_recorded_once(store: StorePort) -> None:
    a = await create_automation(store)
    missed = Missed(first=SLOT, last=SLOT + timedelta(minutes=2), count=3)

    def record() -> CreateRun:
        first = scheduled(a.id, SLOT)
        stopped = advance(
            first, RunState.STOPPED, at=NOW, stop_reason=StopReason.MISSED_SCHEDULE, missed=missed
        )
        return CreateRun(SCOPE, (first, stopped), (NOW, NOW))

    await store.write(record())
    with pytest.raises(DuplicateSlot):
        await store.write(record())
    # The record names its slots but runs none: the latest may still run (catch-up).
    await create_run(store, SCOPE, scheduled(a.id, missed.last, Trigger.CATCHUP))
