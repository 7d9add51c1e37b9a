"""Every advisory lock of a PostgreSQL store is held on one session of its own: a fleet
worker leading a thousand scopes needs one server connection for their locks. That
session dropped, every lock on it is lost, as a lock's own connection dropped was."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import anyio
import psycopg
import pytest

from automations.model import Scope, StorageError
from automations.persistence import lease_name, open_store
from automations.persistence.postgresql import PostgresStore
from automations.persistence.postgresql._locks import AdvisoryLock

pytestmark = pytest.mark.anyio

SCOPES = [Scope("fleet", f"/repo/{i}") for i in range(3)]


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    async with open_store(pg_dsn) as opened:
        assert isinstance(opened, PostgresStore)
        yield opened


def _sessions(dsn: str) -> dict[int, int]:
    """Advisory locks granted, by the backend pid of the lock sessions holding them."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT a.pid, count(l.pid) FROM pg_stat_activity a LEFT JOIN pg_locks l"
            " ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted"
            " WHERE a.application_name = 'automations-lock'"
            " AND a.datname = current_database() GROUP BY a.pid"
        ).fetchall()
    return {int(pid): int(count) for pid, count in rows}


async def test_the_locks_of_a_store_share_one_session_closed_once_none_is_held(
    store: PostgresStore, pg_dsn: str
) -> None:
    locks = [store.lease_lock(lease_name(scope)) for scope in SCOPES] + [
        store.liveness_lock("worker-1")
    ]
    for lock in locks:
        assert await anyio.to_thread.run_sync(lock.try_acquire)
    assert list(_sessions(pg_dsn).values()) == [len(locks)]  # one backend holds them all
    for lock in locks:
        await anyio.to_thread.run_sync(lock.release)
    assert _sessions(pg_dsn) == {}


async def test_a_key_is_held_by_one_lock_of_the_store_at_a_time(store: PostgresStore) -> None:
    """As when each lock had a session of its own (the server's are re-entrant)."""
    lease = lease_name(SCOPES[0])
    first, second = store.lease_lock(lease), store.lease_lock(lease)
    assert await anyio.to_thread.run_sync(first.try_acquire)
    assert not await anyio.to_thread.run_sync(second.try_acquire)
    assert await anyio.to_thread.run_sync(second.held_elsewhere)
    assert not await anyio.to_thread.run_sync(first.held_elsewhere)
    await anyio.to_thread.run_sync(first.release)
    assert await anyio.to_thread.run_sync(second.try_acquire)
    await anyio.to_thread.run_sync(second.release)


async def test_a_dropped_session_loses_every_lock_on_it(store: PostgresStore, pg_dsn: str) -> None:
    lease, liveness = store.lease_lock(lease_name(SCOPES[0])), store.liveness_lock("worker-1")
    for lock in (lease, liveness):
        assert await anyio.to_thread.run_sync(lock.try_acquire)
    [before] = _sessions(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", (before,))
    with anyio.fail_after(10):
        while lease.held:  # noqa: ASYNC110
            await anyio.sleep(0.02)  # the server's goodbye: nothing here to wait on
    assert not liveness.held
    for lock in (lease, liveness):  # taken again, on a new session
        assert await anyio.to_thread.run_sync(lock.try_acquire)
    [after] = _sessions(pg_dsn)
    assert after != before and _sessions(pg_dsn)[after] == 2
    for lock in (lease, liveness):
        await anyio.to_thread.run_sync(lock.release)


async def test_a_key_let_go_is_free_for_another_store_at_once(
    store: PostgresStore, pg_dsn: str
) -> None:
    mine = store.lease_lock(lease_name(SCOPES[0]))
    kept = store.liveness_lock("worker-1")  # the session stays open: only the key goes
    for lock in (mine, kept):
        assert await anyio.to_thread.run_sync(lock.try_acquire)
    async with open_store(pg_dsn) as other:
        theirs = other.lease_lock(lease_name(SCOPES[0]))
        assert not await anyio.to_thread.run_sync(theirs.try_acquire)
        await anyio.to_thread.run_sync(mine.release)
        assert not mine.held and kept.held
        assert await anyio.to_thread.run_sync(theirs.try_acquire)
        assert await anyio.to_thread.run_sync(mine.held_elsewhere)
        await anyio.to_thread.run_sync(theirs.release)
    await anyio.to_thread.run_sync(kept.release)


async def test_a_statement_refused_on_a_live_session_loses_no_other_lock(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's lock table full, say: that one take fails; the liveness lock held
    on the same session stays held (closing the session would have let every other
    process take this live one for dead)."""
    alive = store.liveness_lock("worker-1")
    assert await anyio.to_thread.run_sync(alive.try_acquire)
    session = store.locks._connection
    assert session is not None

    def refused(*args: object, **kwargs: object) -> None:
        raise psycopg.errors.OutOfMemory("out of shared memory")

    with monkeypatch.context() as patched:
        patched.setattr(session, "execute", refused)
        with pytest.raises(StorageError):
            await anyio.to_thread.run_sync(store.lease_lock(lease_name(SCOPES[0])).try_acquire)
    assert alive.held
    assert store.locks._connection is session
    await anyio.to_thread.run_sync(alive.release)


async def test_a_release_while_the_same_lock_is_being_taken_lets_go_of_it(
    store: PostgresStore, pg_dsn: str
) -> None:
    """A term ending while its lock is taken back: the release waits for the take and
    lets go of what it took, instead of finding nothing to let go of."""
    lock = store.lease_lock(lease_name(SCOPES[0]))
    taken, released = threading.Event(), threading.Event()
    real_take = store.locks.take

    def late_take(handle: AdvisoryLock) -> int | None:
        session = real_take(handle)
        taken.set()
        released.wait(10)  # the take's answer reaches its handle after the release
        return session

    store.locks.take = late_take  # type: ignore[method-assign,assignment]
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, lock.try_acquire)
        await anyio.to_thread.run_sync(taken.wait)
        await anyio.to_thread.run_sync(lock.release)
        released.set()
    assert not lock.held
    assert _sessions(pg_dsn) == {}  # nothing held, the session closed
