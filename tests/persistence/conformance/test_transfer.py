"""What a store offers a copy of itself (`Exportable`) and a copy into it
(`Importable`): a digest that a replay leaves as it was, journal imports that keep
their sequence numbers and never go back, and side rows read in key order by pages."""

from __future__ import annotations

import pytest

from automations.model import StorageError
from automations.persistence import (
    COMPARED,
    NOT_COPIED,
    Exportable,
    Importable,
    ImportJournal,
    ImportRows,
    SaveAutomation,
    StorePort,
)

from ...stores import rows
from ..helpers import SCOPE, automation, run
from .builders import create_automation, create_run

pytestmark = pytest.mark.anyio


def importable(store: StorePort) -> Importable:
    assert isinstance(store, Importable) and isinstance(store, Exportable)
    return store


async def test_a_replay_leaves_the_digest_as_it_was(store: StorePort) -> None:
    target = importable(store)
    empty = await target.digest()
    assert set(empty.counts.values()) == {0}
    created = await create_automation(store)
    await create_run(store, SCOPE, run(created.id))
    before = await target.digest()
    assert before.counts["journal"] == 2 and before.counts["runs"] == 1
    assert before != empty
    await target.replay()
    assert await target.digest() == before


async def test_imported_entries_keep_their_numbers_and_never_go_back(store: StorePort) -> None:
    target = importable(store)
    await create_automation(store)
    (entry,) = await store.reader.all_journal(0, 10)
    moved = entry._replace(seq=entry.seq + 41, entity_id="automation_moved")
    assert await store.write(ImportJournal((moved,))) == 1
    assert [e.seq for e in await store.reader.all_journal(0, 10)] == [entry.seq, entry.seq + 41]
    with pytest.raises(StorageError, match="the journal is already at"):
        await store.write(ImportJournal((entry,)))
    next_seq = await store.write(SaveAutomation(SCOPE, automation("After"), None))
    assert next_seq == entry.seq + 42  # new entries follow the imported ones
    assert (await target.digest()).counts["journal"] == 3


async def test_side_rows_come_back_in_key_order_a_page_at_a_time(store: StorePort) -> None:
    target = importable(store)
    rows = tuple(
        (f"automation_run_{n:02d}", f"blocker_{b}", SCOPE.project, SCOPE.directory, 1, b'"yes"')
        for n in range(5)
        for b in (2, 1)
    )
    assert await store.write(ImportRows("answers", rows)) == 10
    pages, after = [], None
    while page := await target.side_rows("answers", after, 3):
        pages.append(page)
        after = page[-1][:2]
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    assert [row for page in pages for row in page] == sorted(rows)


async def test_the_head_of_a_pruned_journal_carries_over(store: StorePort) -> None:
    target = importable(store)
    assert await target.journal_head() == 0
    await store.write(ImportJournal((), head=100))
    assert await target.journal_head() == 100
    assert await store.reader.last_seq() == 0  # no entry was made up
    seq = await store.write(SaveAutomation(SCOPE, automation("After"), None))
    assert seq == 101 and await target.journal_head() == 101
    await store.write(ImportJournal((), head=50))  # never back
    assert await target.journal_head() == 101


async def test_every_table_is_copied_or_left_behind_on_purpose(store: StorePort) -> None:
    found = await rows(
        store,
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        if type(store).__name__.startswith("Sqlite")
        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
    )
    assert {str(name) for (name,) in found} == set(COMPARED) | NOT_COPIED
