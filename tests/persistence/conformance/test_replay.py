"""Replaying the journal rebuilds the projections: what the reader sees after `Replay()`
is what it saw before, and the invariants the projections hold still hold.

The journal is the truth and the projections a cache of it (DESIGN 7), so a store may
rebuild them (after a migration, a repair) without anyone noticing. Compared through
the reader, not the tables, so that any store's projections can be checked.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from automations.model import (
    Conflict,
    DuplicateSlot,
    Missed,
    RunState,
    StopReason,
    Tombstone,
    Trigger,
    WriterKeyBusy,
    advance,
    to_ms,
)
from automations.persistence import (
    CreateRun,
    ReconcileRuns,
    Replay,
    SaveAutomation,
    SaveRun,
    StorePort,
)

from ..helpers import NOW, OTHER, SCOPE, run
from .builders import (
    SIBLING,
    asking,
    cancelled,
    create_automation,
    create_run,
    renamed,
    scheduled,
    started,
)

pytestmark = pytest.mark.anyio

SCOPES = (SCOPE, OTHER, SIBLING)
SLOT = NOW + timedelta(minutes=5)
BACKFILLED = NOW - timedelta(hours=1)
BUSY, FREED = "worktree:/busy", "worktree:/freed"
FAR = to_ms(NOW + timedelta(days=400))


class History(msgspec.Struct):
    automations: list[str]
    runs: list[str]
    slot_of: str
    """The automation whose run holds `SLOT`."""


async def _history(store: StorePort) -> History:
    """Every kind of write that changes a projection, across three scopes."""
    a = await create_automation(store, title="a")
    b = await create_automation(store, title="b")
    c = await create_automation(store, OTHER, title="c")
    gone = await create_automation(store, SIBLING, title="gone")
    await store.update_automation(SCOPE, renamed(a, "a2"), expected_revision=1)
    streak = msgspec.structs.replace(b, failure_streak=2)
    await store.write(SaveAutomation(SCOPE, streak, 1, derived=True))
    done = run(a.id)
    await create_run(store, SCOPE, done, writer_key=FREED, owner="p1")
    await store.write(SaveRun(SCOPE, started(done), 1, NOW, writer_key=FREED, owner="p1"))
    finished = advance(started(done), RunState.SUCCEEDED, at=NOW, result="ok")
    await store.write(SaveRun(SCOPE, finished, 2, NOW, writer_key=FREED, owner="p1"))
    busy = scheduled(a.id, SLOT)
    await store.write(CreateRun(SCOPE, (busy, started(busy)), (NOW, NOW), BUSY, "p1"))
    asked = run(b.id)
    await create_run(store, SCOPE, asked, owner="p1")
    await store.write(SaveRun(SCOPE, started(asked), 1, NOW, owner="p1"))
    await store.write(SaveRun(SCOPE, asking(started(asked)), 2, NOW, owner="p1"))
    first = scheduled(b.id, NOW)
    missed = Missed(first=NOW, last=SLOT, count=6)
    record = advance(
        first, RunState.STOPPED, at=NOW, stop_reason=StopReason.MISSED_SCHEDULE, missed=missed
    )
    await store.write(CreateRun(SCOPE, (first, record), (NOW, NOW)))
    orphan = scheduled(c.id, NOW)
    await store.write(CreateRun(OTHER, (orphan, started(orphan)), (NOW, NOW), owner="dead"))
    await store.write(ReconcileRuns("dead", OTHER, "p2", NOW))
    # A jittered automation's slot run, recorded with its planned start, and a backfill.
    jittered = msgspec.structs.replace(b, jitter=timedelta(seconds=30), revision=2)
    await store.write(SaveAutomation(SCOPE, jittered, 1))
    planned = msgspec.structs.replace(scheduled(b.id, SLOT), planned_at=SLOT + timedelta(seconds=7))
    await store.write(CreateRun(SCOPE, (planned,), (NOW,), None, "p1"))
    backfilled = scheduled(a.id, BACKFILLED, Trigger.BACKFILL)
    ended = advance(started(backfilled), RunState.SUCCEEDED, at=NOW, result="ok")
    await store.write(CreateRun(SCOPE, (backfilled, started(backfilled), ended), (NOW,) * 3))
    kept = run(gone.id)
    await create_run(store, SIBLING, kept)
    await store.write(SaveRun(SIBLING, cancelled(kept), 1, NOW))
    await store.delete_automation(
        SIBLING, Tombstone(id=gone.id, revision=2), expected_revision=1, at=NOW
    )
    return History(
        automations=[a.id, b.id, c.id, gone.id],
        runs=[done.id, busy.id, asked.id, first.id, orphan.id, kept.id, planned.id, backfilled.id],
        slot_of=a.id,
    )


async def _view(store: StorePort, history: History) -> list[object]:
    """All the reader shows of the projections, in every scope."""
    reader = store.reader
    view: list[object] = []
    for scope in SCOPES:
        view += [
            await reader.automations(scope),
            await reader.due(scope, FAR, 100),
            sorted(await reader.owners(scope)),
        ]
        for id in history.automations:
            view += [
                await reader.automation(scope, id),
                await reader.runs(scope, id, limit=100, cursor=None),
                await reader.executed_runs(scope, id),
            ]
        for id in history.runs:
            view += [await reader.run_by_id(scope, id), await reader.run_owner(scope, id)]
    return view


async def _journal(store: StorePort) -> list[object]:
    return [entry for scope in SCOPES for entry in await store.reader.journal(scope, 0, 1000)]


async def test_replay_rebuilds_what_the_reader_sees(store: StorePort) -> None:
    history = await _history(store)
    live = await _view(store, history)
    journal = await _journal(store)
    assert await store.write(Replay()) == len(journal)
    assert await _view(store, history) == live
    assert await _journal(store) == journal  # replay reads the journal, never writes it


async def test_replaying_twice_changes_nothing_more(store: StorePort) -> None:
    history = await _history(store)
    await store.write(Replay())
    once = await _view(store, history)
    await store.write(Replay())
    assert await _view(store, history) == once


async def test_after_replay_the_invariants_still_hold(store: StorePort) -> None:
    history = await _history(store)
    await store.write(Replay())
    a = history.slot_of
    with pytest.raises(DuplicateSlot):
        await create_run(store, SCOPE, scheduled(a, SLOT))
    with pytest.raises(DuplicateSlot):  # a backfilled slot ran: neither runs it again
        await create_run(store, SCOPE, scheduled(a, BACKFILLED, Trigger.BACKFILL))
    with pytest.raises(WriterKeyBusy):
        await create_run(store, SCOPE, run(a), writer_key=BUSY)
    await create_run(store, SCOPE, run(a), writer_key=FREED)  # its holder ended
    current = await store.reader.automation(SCOPE, a)
    assert current is not None and current.revision == 2
    with pytest.raises(Conflict):
        await store.update_automation(SCOPE, renamed(current, "stale"), expected_revision=1)
    await store.update_automation(SCOPE, renamed(current, "a3"), expected_revision=2)
