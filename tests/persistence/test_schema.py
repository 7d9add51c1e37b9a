"""Which files the store opens, creates, migrates, and refuses (untouched)."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import timedelta
from pathlib import Path

import apsw
import pytest

from automations.model import (
    DatabaseRefused,
    Missed,
    RunState,
    Scope,
    StopReason,
    StorageError,
    Trigger,
    advance,
    to_ms,
)
from automations.persistence import SaveAutomation, SaveRun, shard_of
from automations.persistence.sqlite import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    apply_in_savepoint,
    open_sqlite_store,
)
from automations.persistence.sqlite._schema import MIGRATIONS

from .helpers import NOW, SCOPE, automation, run

pytestmark = pytest.mark.anyio


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pragma(path: Path, name: str) -> int:
    connection = apsw.Connection(str(path))
    try:
        row = connection.execute(f"PRAGMA {name}").fetchone()
        assert row is not None
        return int(row[0])
    finally:
        connection.close()


async def test_a_new_file_is_private_marked_ours_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "automations.db"
    async with open_sqlite_store(path):
        pass
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _pragma(path, "application_id") == APPLICATION_ID
    assert _pragma(path, "user_version") == SCHEMA_VERSION
    connection = apsw.Connection(str(path))
    row = connection.execute("PRAGMA journal_mode").fetchone()
    connection.close()
    assert row is not None and row[0] == "wal"


async def test_an_existing_empty_file_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    async with open_sqlite_store(path):
        pass
    assert _pragma(path, "user_version") == SCHEMA_VERSION


async def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    connection = apsw.Connection(str(path))
    connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    connection.close()
    before = _digest(path)
    with pytest.raises(DatabaseRefused) as caught:
        async with open_sqlite_store(path):
            pass
    message = str(caught.value)
    assert str(path) in message and "another application" in message
    assert _digest(path) == before
    assert not (tmp_path / "other.db-wal").exists()


async def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    async with open_sqlite_store(path):
        pass
    connection = apsw.Connection(str(path))
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    connection.execute("PRAGMA journal_mode = DELETE")
    connection.close()
    before = _digest(path)
    with pytest.raises(DatabaseRefused) as caught:
        async with open_sqlite_store(path):
            pass
    message = str(caught.value)
    assert str(path) in message
    assert f"schema version {SCHEMA_VERSION + 7}" in message
    assert f"versions up to {SCHEMA_VERSION}" in message
    assert _digest(path) == before


@pytest.mark.parametrize(
    "content",
    [b"this is a text file, not a database\n" * 20, b"SQLite format 3\x00" + b"\xff" * 4000],
)
async def test_a_file_that_is_not_a_database_is_refused_untouched(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(DatabaseRefused, match="not a readable SQLite database"):
        async with open_sqlite_store(path):
            pass
    assert path.read_bytes() == content


async def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        async with open_sqlite_store(tmp_path / "nowhere" / "automations.db"):
            pass


async def test_version_6_gives_missed_records_the_columns_of_their_last_revision(
    tmp_path: Path,
) -> None:
    path = tmp_path / "automations.db"
    connection = apsw.Connection(str(path))
    for step in MIGRATIONS[:5]:  # a file as version 5 left it
        assert isinstance(step, str)
        connection.execute(step)
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute("PRAGMA user_version = 5")
    a = automation()
    # Today's code writes the columns versions 7 and 9 added: lent for this write only.
    connection.execute("ALTER TABLE automations ADD COLUMN key TEXT")
    connection.execute("ALTER TABLE automations ADD COLUMN shard INTEGER NOT NULL DEFAULT 0")
    apply_in_savepoint(connection, SaveAutomation(SCOPE, a, None), str(path))
    connection.execute("ALTER TABLE automations DROP COLUMN key")
    connection.execute("ALTER TABLE automations DROP COLUMN shard")
    slot = NOW + timedelta(minutes=5)
    scheduled = run(a.id, trigger=Trigger.SCHEDULE, triggered_at=slot)
    missed = advance(
        scheduled,
        RunState.STOPPED,
        at=NOW,
        stop_reason=StopReason.MISSED_SCHEDULE,
        missed=Missed(first=slot, last=slot, count=1),
    )
    for revision, expected in ((scheduled, None), (missed, 1)):
        apply_in_savepoint(connection, SaveRun(SCOPE, revision, expected, NOW), str(path))
    # Version 5 kept the columns of the first revision: the slot, and no missed_first.
    connection.execute(
        "UPDATE runs SET slot = ?, missed_first = NULL WHERE id = ?", (to_ms(slot), missed.id)
    )
    connection.close()
    columns = "SELECT slot, missed_first FROM runs WHERE id = ?"

    async with open_sqlite_store(path) as store:
        rows = await store.reader.run(lambda c: c.execute(columns, (missed.id,)).fetchall())
        assert rows == [(None, to_ms(slot))]
        live = await store.projections()
        await store.replay()
        assert await store.projections() == live
    assert _pragma(path, "user_version") == SCHEMA_VERSION == 9


async def test_version_7_keeps_automations_without_a_key_and_indexes_the_journal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "automations.db"
    async with open_sqlite_store(path) as store:
        a = automation()
        await store.write(SaveAutomation(SCOPE, a, None))
    connection = apsw.Connection(str(path))  # as version 6 left it: no key, no index
    connection.execute("DROP INDEX automations_key; DROP INDEX journal_entity")
    connection.execute("ALTER TABLE automations DROP COLUMN key; PRAGMA user_version = 6")
    connection.execute("ALTER TABLE leases DROP COLUMN executors; DROP TABLE progress")
    connection.execute("DROP TABLE workers")  # version 8's
    connection.execute(_UNDO_VERSION_9)
    connection.close()
    async with open_sqlite_store(path) as store:
        assert await store.reader.automation(SCOPE, a.id) == a
        assert await store.reader.automation_by_key(SCOPE, "any") is None
        plan = await store.reader.run(
            lambda c: c.execute(
                "EXPLAIN QUERY PLAN SELECT at FROM journal WHERE entity_id = ?", ("x",)
            ).fetchall()
        )
        assert "journal_entity" in str(plan)
    assert _pragma(path, "user_version") == SCHEMA_VERSION


async def test_version_8_adds_the_workers_heartbeat_table(tmp_path: Path) -> None:
    path = tmp_path / "automations.db"
    async with open_sqlite_store(path) as store:
        a = automation()
        await store.write(SaveAutomation(SCOPE, a, None))
    connection = apsw.Connection(str(path))  # as version 7 left it
    connection.execute(_UNDO_VERSION_9)
    connection.execute("DROP TABLE workers; PRAGMA user_version = 7")
    connection.close()
    async with open_sqlite_store(path) as store:
        assert await store.reader.automation(SCOPE, a.id) == a
        assert await store.reader.workers(NOW) == []
    assert _pragma(path, "user_version") == SCHEMA_VERSION == 9


_UNDO_VERSION_9 = (
    "DROP INDEX automations_shard_due; ALTER TABLE automations DROP COLUMN shard;"
    " DROP INDEX leases_epoch"
)


async def test_version_9_gives_every_automation_its_scopes_shard(tmp_path: Path) -> None:
    path = tmp_path / "automations.db"
    elsewhere = Scope("project-b", "/repo/b")
    assert shard_of(elsewhere) != shard_of(SCOPE)
    async with open_sqlite_store(path) as store:
        here, there = automation(), automation(project=elsewhere.project)
        await store.write(SaveAutomation(SCOPE, here, None))
        await store.write(SaveAutomation(elsewhere, there, None))
    connection = apsw.Connection(str(path))  # as version 8 left it
    connection.execute(_UNDO_VERSION_9 + "; PRAGMA user_version = 8")
    connection.close()
    async with open_sqlite_store(path) as store:
        far = to_ms(NOW + timedelta(days=400))
        due = await store.reader.due_in_shards([shard_of(SCOPE), shard_of(elsewhere)], far, 10)
        assert sorted(id for _, id, _ in due) == sorted([here.id, there.id])
        assert await store.reader.due_in_shards([shard_of(elsewhere)], far, 10) == [
            (elsewhere, there.id, to_ms(there.next_fire_at or NOW))
        ]
        plan = await store.reader.run(
            lambda c: c.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM automations"
                " WHERE shard = 1 AND next_fire_at <= 5 ORDER BY next_fire_at"
            ).fetchall()
        )
        assert "automations_shard_due" in str(plan)
    assert _pragma(path, "user_version") == SCHEMA_VERSION == 9
