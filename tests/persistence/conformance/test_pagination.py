"""Runs page newest first (`triggeredAt`, then `id`) with an opaque cursor: every run
once, none missed, whatever the page size, and a cursor naming nothing is an empty page.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from automations.model import Run
from automations.persistence import Page, StorePort

from ..helpers import NOW, SCOPE, run
from .builders import create_automation, create_run

pytestmark = pytest.mark.anyio


async def _runs(store: StorePort, automation_id: str, count: int) -> list[Run]:
    """`count` runs, several per instant (ties decided by id); newest first."""
    runs = [run(automation_id, triggered_at=NOW + timedelta(seconds=i % 7)) for i in range(count)]
    for r in runs:
        await create_run(store, SCOPE, r)
    return sorted(runs, key=lambda r: (r.triggered_at, r.id), reverse=True)


async def _pages(store: StorePort, automation_id: str, limit: int) -> list[Page]:
    pages: list[Page] = []
    cursor: str | None = None
    while True:
        page = await store.reader.runs(SCOPE, automation_id, limit=limit, cursor=cursor)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        assert len(pages) <= 100, "the cursor never ends"
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 4, 10, 25, 26])
async def test_pages_hold_every_run_once_newest_first(store: StorePort, limit: int) -> None:
    a = await create_automation(store)
    expected = await _runs(store, a.id, 25)
    pages = await _pages(store, a.id, limit)
    assert [r for page in pages for r in page.items] == expected
    assert all(len(page.items) == limit for page in pages[:-1])
    assert len(pages) == -(-25 // limit)  # no empty page after the last


async def test_runs_added_while_paging_neither_repeat_nor_hide_the_others(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    expected = await _runs(store, a.id, 12)
    first = await store.reader.runs(SCOPE, a.id, limit=5, cursor=None)
    newer = run(a.id, triggered_at=NOW + timedelta(days=1))
    await create_run(store, SCOPE, newer)  # lands before the cursor: not on a later page
    seen, cursor = list(first.items), first.next_cursor
    while cursor is not None:
        page = await store.reader.runs(SCOPE, a.id, limit=5, cursor=cursor)
        seen.extend(page.items)
        cursor = page.next_cursor
    assert seen == expected


async def test_an_unknown_cursor_is_an_empty_page(store: StorePort) -> None:
    a = await create_automation(store)
    await _runs(store, a.id, 3)
    page = await store.reader.runs(SCOPE, a.id, limit=10, cursor="automation_run_unknown")
    assert page.items == [] and page.next_cursor is None


async def test_a_cursor_of_another_automation_is_an_empty_page(store: StorePort) -> None:
    a = await create_automation(store, title="a")
    b = await create_automation(store, title="b")
    await _runs(store, a.id, 3)
    theirs = await _runs(store, b.id, 3)
    page = await store.reader.runs(SCOPE, a.id, limit=10, cursor=theirs[0].id)
    assert page.items == [] and page.next_cursor is None


async def test_a_page_holds_only_its_automation_s_runs(store: StorePort) -> None:
    a = await create_automation(store, title="a")
    b = await create_automation(store, title="b")
    mine = await _runs(store, a.id, 4)
    await _runs(store, b.id, 4)
    page = await store.reader.runs(SCOPE, a.id, limit=10, cursor=None)
    assert page.items == mine and page.next_cursor is None


async def test_an_automation_without_runs_has_one_empty_page(store: StorePort) -> None:
    a = await create_automation(store)
    page = await store.reader.runs(SCOPE, a.id, limit=10, cursor=None)
    assert page.items == [] and page.next_cursor is None
