"""The PostgreSQL inbox is claimed with `FOR UPDATE SKIP LOCKED`: two processes that
both take the commands for nobody in particular (two leaders for a moment, one of them
frozen) never take the same one, and a dead claimer's commands go to the next leader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import pytest

from automations.persistence import (
    EnqueueCommand,
    ReconcileRuns,
    RunNowCommand,
    open_store,
)
from automations.persistence.postgresql import PostgresStore
from automations.persistence.postgresql._reader import Reader

from ..helpers import SCOPE

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    async with open_store(pg_dsn) as opened:
        assert isinstance(opened, PostgresStore)
        yield opened


async def _enqueue(store: PostgresStore, count: int) -> set[int]:
    commands = [RunNowCommand(f"automation_{i}", f"automation_run_{i}") for i in range(count)]
    with store.together():
        pending = [store.submit(EnqueueCommand(SCOPE, c, None, NOW)) for c in commands]
    return {await p.outcome() for p in pending}


async def test_two_racing_claimers_never_take_the_same_command(
    store: PostgresStore, pg_dsn: str
) -> None:
    ids = await _enqueue(store, 300)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    readers = {name: Reader(pg_dsn) for name in taken}  # as two processes' pools
    for reader in readers.values():
        await anyio.to_thread.run_sync(reader.open)
    try:

        async def claim(name: str) -> None:
            cursor = 0
            while True:  # small pages, so that the two interleave
                page = await readers[name].commands(SCOPE, cursor, name, leading=True, limit=7)
                if not page:
                    return
                taken[name] += [c.id for c in page]
                cursor = max(cursor, *(c.id for c in page))

        async with anyio.create_task_group() as group:
            group.start_soon(claim, "a")
            group.start_soon(claim, "b")
    finally:
        for reader in readers.values():
            await anyio.to_thread.run_sync(reader.close)
    a, b = set(taken["a"]), set(taken["b"])
    assert not a & b, f"taken twice: {sorted(a & b)[:10]}"
    assert a | b == ids
    assert len(taken["a"]) == len(a) and len(taken["b"]) == len(b)


async def test_a_dead_claimer_s_commands_go_to_the_next_leader(store: PostgresStore) -> None:
    ids = await _enqueue(store, 3)
    claimed = await store.reader.commands(SCOPE, 0, "dead", leading=True, limit=10)
    assert {c.id for c in claimed} == ids
    assert await store.reader.commands(SCOPE, 0, "next", leading=True, limit=10) == []
    result = await store.write(ReconcileRuns("dead", SCOPE, "next", NOW, frozenset(), None))
    assert result.released == 3  # the leader's inbox reads again from the start
    # The next leader's cursor is past them already: released commands still come.
    again = await store.reader.commands(SCOPE, max(ids), "next", leading=True, limit=10)
    assert {c.id for c in again} == ids
    assert await store.reader.commands(SCOPE, 0, "dead", leading=True, limit=10) == []
