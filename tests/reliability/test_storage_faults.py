"""Storage faults: a full disk and a database locked by another process.

The full disk is SQLite's own SQLITE_FULL, caused by capping the writer connection's
`max_page_count` (a small filesystem would need root to mount); the lock is another
connection holding an exclusive transaction, as a backup tool or a careless `sqlite3`
shell would.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import apsw
import pytest

import automations as am
from automations.persistence.sqlite import Pragma, open_sqlite_store

from ..integration.conftest import OpenRuntime, new
from ..stores import sqlite_of

pytestmark = pytest.mark.anyio


def _page_count(connection: apsw.Connection) -> int:
    row = connection.execute("PRAGMA page_count").fetchone()
    assert row is not None
    return int(row[0])


async def test_a_full_disk_is_a_clear_error_reads_go_on_and_writes_recover(
    db: Path, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory() as rt:
        store = sqlite_of(rt._services.store)
        page_count = await store.reader.run(_page_count)
        await store.write(Pragma(f"PRAGMA max_page_count = {page_count + 2}"))
        created: list[am.Automation] = []

        async def fill() -> None:
            for i in range(10_000):
                created.append(await rt.create(new(title=f"fill {i}", prompt="x" * 2_000)))

        with pytest.raises(am.StorageError, match="is full; free some space and retry"):
            await fill()
        assert created, "the cap left no room at all; the test proves nothing"
        listed = await rt.list()  # reads go on
        assert {a.id for a in created} <= {a.id for a in listed}
        await store.write(Pragma(f"PRAGMA max_page_count = {2**31 - 1}"))  # space returns
        after = await rt.create(new(title="after"))
        assert (await rt.get(after.id)).title == "after"
    async with runtime_factory() as rt:  # nothing acknowledged was lost
        assert {a.id for a in created} | {after.id} <= {a.id for a in await rt.list()}


_HOLD_LOCK = """
import sys, time, apsw
connection = apsw.Connection(sys.argv[1])
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


async def test_writes_wait_for_a_lock_held_by_another_process_and_go_through(
    db: Path, runtime_factory: OpenRuntime
) -> None:
    seconds = 3.0
    async with runtime_factory() as rt:
        a = await rt.create(new())
        command = [sys.executable, "-c", _HOLD_LOCK, str(db), str(seconds)]
        async with await anyio.open_process(command) as holder:
            assert holder.stdout is not None
            with anyio.fail_after(30):
                assert b"locked" in await holder.stdout.receive()
            started = time.monotonic()
            updated = await rt.update(a.id, title="written after the lock")
            waited = time.monotonic() - started
            assert await holder.wait() == 0
        assert updated.title == "written after the lock"
        assert waited > seconds / 2, "the write did not wait for the lock"
    async with open_sqlite_store(db) as store:
        stored = await store.reader.automation(rt.scope, a.id)
        assert stored is not None and stored.title == "written after the lock"
