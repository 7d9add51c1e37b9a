"""What the PostgreSQL store promises beyond the port's conformance: the journal is
read in commit order by every process, locks die with their holder's connection,
a foreign or newer schema is refused, a broken connection is replaced."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psycopg
import pytest

from automations.api import open_runtime
from automations.model import Conflict, DatabaseRefused, StorageError
from automations.persistence import (
    Depart,
    Heartbeat,
    SaveAutomation,
    StorePort,
    lease_name,
    open_store,
    shard_of,
)
from automations.persistence.postgresql import (
    SCHEMA_VERSION,
    PostgresReadOnlyStore,
    PostgresStore,
    lock_key,
)

from ..conformance.builders import create_automation, renamed
from ..conformance.test_workers import worker
from ..helpers import NOW, SCOPE, automation

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    async with open_store(pg_dsn) as opened:
        assert isinstance(opened, PostgresStore)
        yield opened


async def test_a_batch_waits_for_another_writer_s_batch_so_seqs_follow_commit_order(
    store: PostgresStore, pg_dsn: str
) -> None:
    """Another process's batch holds the journal lock with a seq drawn: ours waits for
    its commit, so no reader ever sees our later seq before that earlier one."""
    created = await create_automation(store)
    other = psycopg.connect(pg_dsn)
    try:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(store.schema, "journal"),))
        row = other.execute(
            "INSERT INTO journal (at, kind, entity_id, revision, project, directory, body)"
            " VALUES (0, 'test.late', 'late', 1, 'p', '/d', 'x') RETURNING seq"
        ).fetchone()
        assert row is not None
        late = int(row[0])
        pending = store.submit(SaveAutomation(SCOPE, renamed(created, "next"), 1))
        with anyio.move_on_after(0.5):
            await pending.outcome()
        assert not pending.done  # blocked behind the other batch's journal lock
        assert await store.reader.last_seq() < late  # the late entry is not visible yet
        other.commit()
        with anyio.fail_after(10):
            seq = await pending.outcome()
        assert seq > late
        seen = [entry.seq for entry in await store.reader.all_journal(0, 100)]
        assert seen == sorted(seen) and late in seen and seq in seen
    finally:
        other.close()


async def test_a_heartbeat_does_not_wait_for_another_writer_s_journal_lock(
    store: PostgresStore, pg_dsn: str
) -> None:
    """A worker's liveness is not held up by another process's batch (a cut-off one
    keeps the journal lock until the server gives its session up): a batch of heartbeats
    takes no journal lock."""
    other = psycopg.connect(pg_dsn)
    try:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(store.schema, "journal"),))
        beat = worker("w1")
        with anyio.fail_after(10):
            await store.write(Heartbeat(beat))
        assert await store.reader.workers(NOW) == [beat]
        with anyio.fail_after(10):
            await store.write(Depart("w1"))
        assert await store.reader.workers(NOW) == []
    finally:
        other.close()


async def test_a_follower_of_three_concurrent_writers_misses_no_entry(pg_dsn: str) -> None:
    """Three stores (as three processes) write at once while a follower reads
    `seq > last` page after page: it receives every entry exactly once."""
    followed: list[int] = []
    async with (
        open_store(pg_dsn) as first,
        open_store(pg_dsn) as second,
        open_store(pg_dsn) as third,
    ):
        writing = True

        async def write(store: StorePort) -> None:
            for _ in range(40):
                await create_automation(store)

        async def follow() -> None:
            last = 0
            while True:
                done = not writing  # read once more after the writers finished
                for entry in await first.reader.all_journal(last, 1000):
                    followed.append(entry.seq)
                    last = entry.seq
                if done:
                    return
                await anyio.sleep(0.001)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                group.start_soon(follow)
                async with anyio.create_task_group() as writers:
                    for store in (first, second, third):
                        writers.start_soon(write, store)
                writing = False
        everything = [entry.seq for entry in await first.reader.all_journal(0, 1000)]
    assert len(everything) == 120
    assert followed == everything  # each once, in order, none skipped


def _holder(dsn: str, owner: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    module = "tests.persistence.postgresql.hold_liveness"
    return subprocess.Popen(
        [sys.executable, "-m", module, dsn, owner],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


async def test_a_lock_is_free_the_moment_its_holder_process_is_killed(
    store: PostgresStore, pg_dsn: str
) -> None:
    holder = _holder(pg_dsn, "worker-1")
    try:
        assert holder.stdout is not None
        line = await anyio.to_thread.run_sync(holder.stdout.readline)
        assert line.strip() == "held"
        lock = store.liveness_lock("worker-1")
        assert await anyio.to_thread.run_sync(lock.held_elsewhere)
        holder.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        with anyio.fail_after(5):
            while await anyio.to_thread.run_sync(lock.held_elsewhere):  # noqa: ASYNC110
                await anyio.sleep(0.01)  # another process: nothing here to wait on
        assert time.monotonic() - killed < 1.0
        assert await anyio.to_thread.run_sync(lock.try_acquire)
        await anyio.to_thread.run_sync(lock.release)
    finally:
        holder.kill()
        await anyio.to_thread.run_sync(holder.wait)
        if holder.stdout is not None:
            holder.stdout.close()


async def test_a_schema_of_another_application_is_refused_untouched(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE theirs (id int)")
    with pytest.raises(DatabaseRefused, match="another application"):
        async with open_store(pg_dsn):
            pass
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        row = connection.execute("SELECT to_regclass('journal') IS NULL").fetchone()
    assert row == (True,)


async def test_a_schema_newer_than_this_code_is_refused(pg_dsn: str) -> None:
    async with open_store(pg_dsn):
        pass
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(DatabaseRefused, match="schema version 999"):
        async with open_store(pg_dsn):
            pass


async def test_reopening_a_migrated_schema_keeps_its_data(pg_dsn: str) -> None:
    async with open_store(pg_dsn) as store:
        created = await create_automation(store)
    async with open_store(pg_dsn) as store:
        assert await store.reader.automation(SCOPE, created.id) == created


async def _as_version_left_it(dsn: str, version: int, undo: str) -> str:
    """Open a store, take it back to `version` with `undo`, open it again (migrating
    it): the schema version it ends at."""
    async with open_store(dsn) as store:
        created = await create_automation(store)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(undo)
        connection.execute(
            "UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(version),)
        )
    async with open_store(dsn) as store:
        assert await store.reader.automation(SCOPE, created.id) == created
        assert await store.reader.workers(NOW) == []
    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert row is not None
    return str(row[0])


async def test_version_2_adds_the_workers_heartbeat_table(pg_dsn: str) -> None:
    undo = "DROP TABLE workers; " + _UNDO_VERSION_4
    assert await _as_version_left_it(pg_dsn, 1, undo) == str(SCHEMA_VERSION)


async def test_version_3_leaves_room_on_the_pages_of_runs(pg_dsn: str) -> None:
    """A run's move to running rewrites its row in place of new index entries (HOT)."""
    undo = "ALTER TABLE runs RESET (fillfactor)"
    assert await _as_version_left_it(pg_dsn, 2, undo + "; " + _UNDO_VERSION_4) == "4"
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        row = connection.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'runs'::regclass"
        ).fetchone()
    assert row == (["fillfactor=50"],)


_UNDO_VERSION_4 = (
    "DROP INDEX automations_shard_due; ALTER TABLE automations DROP COLUMN shard;"
    " DROP SEQUENCE lease_epochs"
)


async def test_version_4_gives_every_automation_its_scopes_shard(pg_dsn: str) -> None:
    assert await _as_version_left_it(pg_dsn, 3, _UNDO_VERSION_4) == str(SCHEMA_VERSION) == "4"
    async with open_store(pg_dsn) as store:
        (created,) = await store.reader.automations(SCOPE)
        due = await store.reader.due_in_shards([shard_of(SCOPE)], 2**62, 10)
        assert [(scope, id) for scope, id, _ in due] == [(SCOPE, created.id)]


async def test_no_server_is_a_storage_error_that_names_it_without_password() -> None:
    with socket_free_port() as port:
        dsn = f"postgresql://someone:secret@127.0.0.1:{port}/nothing"
        with pytest.raises(StorageError, match="cannot connect") as raised:
            async with open_store(dsn):
                pass
    assert "secret" not in str(raised.value)


async def test_a_writer_whose_connection_was_killed_writes_on_a_new_one(
    store: PostgresStore, pg_dsn: str
) -> None:
    first = await create_automation(store)
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'automations-writer' AND datname = current_database()"
        ).fetchone()
    assert row is not None and row[0] >= 1
    second = await create_automation(store)
    assert {a.id for a in await store.reader.automations(SCOPE)} == {first.id, second.id}


class socket_free_port:
    """A TCP port nobody listens on (bound, then let go while the test runs)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        return None


def _lock_holders(dsn: str) -> list[int]:
    """The server pids of this process's lock connections."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        found = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'automations-lock'"
            " AND datname = current_database()"
        ).fetchall()
    return [int(pid) for (pid,) in found]


async def test_a_liveness_lock_the_server_dropped_is_taken_again(
    store: PostgresStore, pg_dsn: str
) -> None:
    """A server restart (here: its connection terminated) frees the lock; the process,
    still alive, takes it again within about a second, on a new connection."""
    probe = store.liveness_lock("worker-1")
    async with store.hold_liveness("worker-1"):
        [before] = _lock_holders(pg_dsn)
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            connection.execute("SELECT pg_terminate_backend(%s)", (before,))
        with anyio.fail_after(10):
            while _lock_holders(pg_dsn) in ([], [before]):  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the server's view: nothing here to wait on
        [after] = _lock_holders(pg_dsn)
        assert after != before
        assert await anyio.to_thread.run_sync(probe.held_elsewhere)
    assert not await anyio.to_thread.run_sync(probe.held_elsewhere)


async def test_a_leading_worker_takes_its_lease_lock_again_after_the_server_dropped_it(
    pg_dsn: str,
) -> None:
    """A server restart (here: the lock connections terminated) frees the lease's lock
    while its holder leads on: the holder takes it again after its next renewal, so
    standbys, `doctor` and `migrate` see a live holder again."""
    async with open_runtime(pg_dsn, project=SCOPE.project, directory=SCOPE.directory) as rt:
        assert await rt.leading()
        probe = rt._store.lease_lock(lease_name(SCOPE))
        assert await anyio.to_thread.run_sync(probe.held_elsewhere)
        before = _lock_holders(pg_dsn)
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            for pid in before:
                connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with anyio.fail_after(10):
            while not await anyio.to_thread.run_sync(probe.held_elsewhere):  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the server's view: nothing here to wait on
        assert await rt.leading()
        assert not set(_lock_holders(pg_dsn)) & set(before)


async def test_read_only_refuses_an_empty_schema_and_creates_nothing(pg_dsn: str) -> None:
    with pytest.raises(StorageError, match="holds no automations yet"):
        async with open_store(pg_dsn, read_only=True):
            pass
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        row = connection.execute("SELECT to_regclass('meta') IS NULL").fetchone()
    assert row == (True,)


async def test_read_only_reads_what_was_written_and_writes_nothing(pg_dsn: str) -> None:
    async with open_store(pg_dsn) as store:
        created = await create_automation(store)
    async with open_store(pg_dsn, read_only=True) as reading:
        assert await reading.reader.automation(SCOPE, created.id) == created
        with pytest.raises(StorageError, match="read-only"):
            await create_automation(reading)
        assert isinstance(reading, PostgresReadOnlyStore)
        with pytest.raises(StorageError, match="read-only transaction"):  # the server says no too
            await reading.reader.run(lambda c: c.execute("DELETE FROM automations"))
        assert await reading.reader.automations(SCOPE) == [created]


async def test_a_write_the_server_refuses_in_the_pipeline_fails_alone_and_quietly(
    store: PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The optimistic pass is pipelined: an error the server reports there (a taken
    id) voids the pass, the batch is applied again in savepoints, and nothing is
    logged about a pipeline ended in error."""
    taken = await create_automation(store)
    with caplog.at_level(logging.WARNING), store.together():
        good = store.submit(SaveAutomation(SCOPE, automation("good"), None))
        again = store.submit(SaveAutomation(SCOPE, taken, None))
    assert await good.outcome() > 0
    with pytest.raises(Conflict):
        await again.outcome()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
