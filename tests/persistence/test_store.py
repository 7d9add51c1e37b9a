"""The store's invariants, through its public operations, on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import msgspec
import pytest

from automations.model import (
    Conflict,
    DuplicateSlot,
    IllegalTransition,
    NotFound,
    RunState,
    StopReason,
    Tombstone,
    Trigger,
    WriterKeyBusy,
    advance,
)
from automations.persistence import AUTOMATION_DELETED, AUTOMATION_UPDATED, RUN_UPDATED
from automations.persistence.sqlite import SqliteStore, open_sqlite_store

from .helpers import NOW, OTHER, SCOPE, automation, run

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with open_sqlite_store(tmp_path / "automations.db") as opened:
        yield opened


async def test_created_automations_are_read_back_in_scope_only(store: SqliteStore) -> None:
    mine, theirs = automation("mine"), automation("theirs", project="project-b")
    await store.create_automation(SCOPE, mine)
    await store.create_automation(OTHER, theirs)
    assert await store.reader.automation(SCOPE, mine.id) == mine
    assert await store.reader.automation(SCOPE, theirs.id) is None
    assert await store.reader.automations(SCOPE) == [mine]
    assert await store.reader.automations(OTHER) == [theirs]


async def test_list_is_newest_update_first(store: SqliteStore) -> None:
    first, second = automation("first"), automation("second")
    await store.create_automation(SCOPE, first)
    await store.create_automation(SCOPE, second)
    renamed = msgspec.structs.replace(
        first, title="renamed", revision=2, updated_at=NOW + timedelta(seconds=1)
    )
    await store.update_automation(SCOPE, renamed, expected_revision=1)
    assert [a.title for a in await store.reader.automations(SCOPE)] == ["renamed", "second"]


async def test_a_stale_revision_is_a_conflict_and_changes_nothing(store: SqliteStore) -> None:
    a = automation()
    await store.create_automation(SCOPE, a)
    b = msgspec.structs.replace(a, title="b", revision=2)
    await store.update_automation(SCOPE, b, expected_revision=1)
    stale = msgspec.structs.replace(a, title="stale", revision=2)
    before = await store.projections()
    with pytest.raises(Conflict, match="revision 2, not 1"):
        await store.update_automation(SCOPE, stale, expected_revision=1)
    assert await store.projections() == before
    with pytest.raises(Conflict, match="already exists"):
        await store.create_automation(SCOPE, a)


async def test_another_scope_cannot_change_or_delete(store: SqliteStore) -> None:
    a = automation()
    await store.create_automation(SCOPE, a)
    with pytest.raises(NotFound):
        await store.update_automation(
            OTHER, msgspec.structs.replace(a, revision=2), expected_revision=1
        )
    with pytest.raises(NotFound):
        await store.delete_automation(
            OTHER, Tombstone(id=a.id, revision=2), expected_revision=1, at=NOW
        )
    with pytest.raises(NotFound):
        await store.save_run(OTHER, run(a.id), expected_revision=None, at=NOW)
    with pytest.raises(Conflict, match="already exists"):  # an id names one automation
        await store.create_automation(OTHER, msgspec.structs.replace(a, title="taken over"))
    assert await store.reader.automation(SCOPE, a.id) == a
    assert await store.reader.automation(OTHER, a.id) is None


async def test_delete_leaves_a_tombstone_and_the_runs(store: SqliteStore) -> None:
    a = automation()
    await store.create_automation(SCOPE, a)
    r = run(a.id)
    await store.save_run(SCOPE, r, expected_revision=None, at=NOW)
    seq = await store.delete_automation(
        SCOPE, Tombstone(id=a.id, revision=2), expected_revision=1, at=NOW
    )
    assert await store.reader.automation(SCOPE, a.id) is None
    assert await store.reader.run_by_id(SCOPE, r.id) == r
    entries = await store.reader.journal(SCOPE, 0, 10)
    assert [e.kind for e in entries] == [AUTOMATION_UPDATED, RUN_UPDATED, AUTOMATION_DELETED]
    assert entries[-1].seq == seq and entries[-1].revision == 2
    with pytest.raises(NotFound):  # no new run for a deleted automation
        await store.save_run(SCOPE, run(a.id), expected_revision=None, at=NOW)


async def test_run_transitions_follow_the_state_machine(store: SqliteStore) -> None:
    a = automation()
    await store.create_automation(SCOPE, a)
    r1 = run(a.id)
    await store.save_run(SCOPE, r1, expected_revision=None, at=NOW)
    r2 = advance(r1, RunState.RUNNING, at=NOW)
    await store.save_run(SCOPE, r2, expected_revision=1, at=NOW)
    r3 = advance(r2, RunState.STOPPED, at=NOW, stop_reason=StopReason.CANCELLED)
    await store.save_run(SCOPE, r3, expected_revision=2, at=NOW)
    # A transition computed from a stale revision loses the race...
    late = advance(r2, RunState.SUCCEEDED, at=NOW, result="late")
    with pytest.raises(Conflict):
        await store.save_run(SCOPE, late, expected_revision=2, at=NOW)
    # ...and the database refuses an illegal transition even with the right revision.
    forged = msgspec.structs.replace(late, revision=4)
    with pytest.raises(IllegalTransition):
        await store.save_run(SCOPE, forged, expected_revision=3, at=NOW)
    assert await store.reader.run_by_id(SCOPE, r1.id) == r3


async def test_a_slot_fires_at_most_once(store: SqliteStore) -> None:
    a = automation(every=timedelta(minutes=1))
    await store.create_automation(SCOPE, a)
    slot = NOW + timedelta(minutes=1)
    await store.save_run(
        SCOPE,
        run(a.id, trigger=Trigger.SCHEDULE, triggered_at=slot),
        expected_revision=None,
        at=NOW,
    )
    with pytest.raises(DuplicateSlot):
        await store.save_run(
            SCOPE,
            run(a.id, trigger=Trigger.CATCHUP, triggered_at=slot),
            expected_revision=None,
            at=NOW,
        )
    # Manual runs never take a slot, whatever their time.
    await store.save_run(SCOPE, run(a.id, triggered_at=slot), expected_revision=None, at=NOW)


async def test_one_active_run_per_writer_key(store: SqliteStore) -> None:
    a, b = automation("a"), automation("b")
    await store.create_automation(SCOPE, a)
    await store.create_automation(SCOPE, b)
    key = a.writer_key
    first = run(a.id)
    await store.save_run(SCOPE, first, expected_revision=None, at=NOW, writer_key=key)
    with pytest.raises(WriterKeyBusy):
        await store.save_run(SCOPE, run(b.id), expected_revision=None, at=NOW, writer_key=key)
    done = advance(first, RunState.STOPPED, at=NOW, stop_reason=StopReason.CANCELLED)
    await store.save_run(SCOPE, done, expected_revision=1, at=NOW, writer_key=key)
    await store.save_run(SCOPE, run(b.id), expected_revision=None, at=NOW, writer_key=key)


async def test_runs_are_paginated_newest_first(store: SqliteStore) -> None:
    a = automation()
    await store.create_automation(SCOPE, a)
    runs = [run(a.id, triggered_at=NOW + timedelta(seconds=i % 7)) for i in range(25)]
    for r in runs:
        await store.save_run(SCOPE, r, expected_revision=None, at=NOW)
    expected = sorted(runs, key=lambda r: (r.triggered_at, r.id), reverse=True)
    seen, cursor, pages = [], None, 0
    while True:
        page = await store.reader.runs(SCOPE, a.id, limit=10, cursor=cursor)
        seen.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected and pages == 3
    unknown = await store.reader.runs(SCOPE, a.id, limit=10, cursor="automation_run_nope")
    assert unknown.items == [] and unknown.next_cursor is None
    foreign = await store.reader.runs(OTHER, a.id, limit=10, cursor=expected[3].id)
    assert foreign.items == []


async def test_journal_sequence_numbers_increase_and_are_scoped(store: SqliteStore) -> None:
    a, b = automation("a"), automation("b", project="project-b")
    seqs = [await store.create_automation(SCOPE, a), await store.create_automation(OTHER, b)]
    seqs.append(await store.save_run(SCOPE, run(a.id), expected_revision=None, at=NOW))
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert (await store.reader.journal(SCOPE, 0, 10))[0].entity_id == a.id
    assert len(await store.reader.journal(SCOPE, 0, 10)) == 2
    assert len(await store.reader.journal(SCOPE, seqs[0], 10)) == 1
    assert await store.reader.last_seq() == seqs[-1]


async def test_bulk_create_is_all_or_nothing(store: SqliteStore) -> None:
    batch = [automation(f"a{i}") for i in range(50)]
    seqs = await store.create_automations(SCOPE, batch)
    assert len(seqs) == 50 and len(await store.reader.automations(SCOPE)) == 50
    entries = await store.reader.journal(SCOPE, 0, 100)
    assert [(e.seq, e.entity_id) for e in entries] == [
        (seq, a.id) for seq, a in zip(seqs, batch, strict=True)
    ]
    with pytest.raises(Conflict, match="already taken; nothing was created"):
        await store.create_automations(SCOPE, [automation("new"), batch[0]])
    assert len(await store.reader.automations(SCOPE)) == 50


@pytest.mark.parametrize("durability", ["full", "normal"])
async def test_everything_survives_reopening(tmp_path: Path, durability: str) -> None:
    path = tmp_path / "automations.db"
    a = automation()
    r = run(a.id)
    async with open_sqlite_store(path, durability=durability) as store:  # type: ignore[arg-type]
        await store.create_automation(SCOPE, a)
        await store.save_run(SCOPE, r, expected_revision=None, at=NOW)
        done = advance(
            advance(r, RunState.RUNNING, at=NOW), RunState.SUCCEEDED, at=NOW, result="ok"
        )
        await store.save_run(
            SCOPE, advance(r, RunState.RUNNING, at=NOW), expected_revision=1, at=NOW
        )
        await store.save_run(SCOPE, done, expected_revision=2, at=NOW)
    async with open_sqlite_store(path) as store:
        assert await store.reader.automation(SCOPE, a.id) == a
        assert await store.reader.run_by_id(SCOPE, r.id) == done


async def test_replay_rebuilds_the_projections_exactly(store: SqliteStore) -> None:
    a = automation()
    await store.create_automation(SCOPE, a)
    key = a.writer_key
    r = run(a.id)
    await store.save_run(SCOPE, r, expected_revision=None, at=NOW, writer_key=key, owner="proc-1")
    await store.delete_automation(
        SCOPE, Tombstone(id=a.id, revision=2), expected_revision=1, at=NOW
    )
    live = await store.projections()
    assert await store.replay() == 3
    assert await store.projections() == live


async def test_durability_must_be_known(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        async with open_sqlite_store(tmp_path / "x.db", durability="fast"):  # type: ignore[arg-type]
            pass


async def test_concurrent_writers_each_get_their_own_result(store: SqliteStore) -> None:
    a = automation()
    await store.create_automation(SCOPE, a)
    results: dict[int, object] = {}

    async def writer(i: int) -> None:
        r = run(a.id, trigger=Trigger.SCHEDULE, triggered_at=NOW + timedelta(seconds=i % 10))
        try:
            results[i] = await store.save_run(SCOPE, r, expected_revision=None, at=NOW)
        except DuplicateSlot as exc:
            results[i] = exc

    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(writer, i)
    committed = [v for v in results.values() if isinstance(v, int)]
    assert len(committed) == 10 and len(results) == 40  # one per slot, the rest refused
