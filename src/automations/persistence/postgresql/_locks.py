"""Leases and liveness across hosts: session-level advisory locks.

Every lock of one store is held by one session of its own, the store's
`LockConnection` (`pg_try_advisory_lock`), so a fleet worker leading a thousand
scopes needs one server connection for their locks, not a thousand. The server lets
go of a session's locks the moment it ends: the holding process died (its socket
closed), or, for a host that froze or was cut off, when the server's TCP keepalive
gives up on it (set to about 11 s on the lock session, `_connection.py`). That is the
fast path of fail-over; a holder that is alive but stopped renewing is fenced by the
lease's epoch (`_lease_writes.py`), as on SQLite. A session that drops (a server
restart) loses every lock on it: each `AdvisoryLock` then reports its lock lost, as
a lock of its own connection would, and its user takes it again on a new session.
Keys are 64-bit hashes of the schema and the lock's name, so two schemas of one
database do not share locks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from psycopg import pq

from ._connection import Connection, connect, storage_error

__all__ = ["AdvisoryLock", "LockConnection", "held_by_anyone"]


def held_by_anyone(connection: Connection, key: int) -> bool:
    """Whether a session of this database holds advisory lock `key` now."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    row = connection.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1)",
        (unsigned >> 32, unsigned & 0xFFFF_FFFF),
    ).fetchone()
    return bool(row and row[0])


class LockConnection:
    """The one session holding every advisory lock of a store, opened when a lock is
    first taken and closed once none is held. A key is held by one `AdvisoryLock` of
    the store at a time (the server's locks are re-entrant within a session; these
    are not, as when each lock had a session of its own)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: Connection | None = None
        self._holders: dict[int, AdvisoryLock] = {}
        self._session = 0
        """Counts the sessions opened: a lock taken on an earlier one is lost."""
        self._guard = threading.Lock()
        """One user of the session at a time: a thread taking or letting go of a lock,
        or `holds` looking at it from the event loop."""

    def holds(self, lock: AdvisoryLock, session: int) -> bool:
        """Whether `lock`, taken on `session`, is still held; never blocks (may run on
        the event loop): a dropped session is found by reading what its socket has
        (the server's goodbye)."""
        if session != self._session or self._holders.get(lock.key) is not lock:
            return False
        if not self._guard.acquire(blocking=False):
            return True  # a thread uses the session right now: looked at next time
        try:
            connection = self._connection
            if connection is not None and _dropped(connection):
                self._lose_all()
            return session == self._session and self._holders.get(lock.key) is lock
        finally:
            self._guard.release()

    def take(self, lock: AdvisoryLock) -> int | None:
        """The session `lock` now holds its key on, or None when another holds it
        (blocking I/O: in a thread)."""
        with self._guard:
            connection = self._open()
            holder = self._holders.get(lock.key)
            if holder is not None:
                return self._session if holder is lock else None
            try:
                row = connection.execute("SELECT pg_try_advisory_lock(%s)", (lock.key,)).fetchone()
            except psycopg.Error as exc:
                # A statement refused on a live session (the server's lock table
                # full, say) loses nothing: only a broken session takes every lock,
                # the liveness lock among them, down with it.
                if _dropped(connection):
                    self._lose_all()
                raise storage_error(exc, self._dsn) from exc
            if not (row and row[0]):
                self._close_if_unused()
                return None
            self._holders[lock.key] = lock
            return self._session

    def let_go(self, lock: AdvisoryLock) -> None:
        """Let go of `lock`'s key if it holds it (blocking I/O: in a thread); the
        session closes once it holds nothing. Asked while a thread takes the same
        lock, it waits for that take and lets go of what it took."""
        with self._guard:
            if self._holders.get(lock.key) is not lock:
                return
            del self._holders[lock.key]
            connection = self._connection
            assert connection is not None
            try:
                connection.execute("SELECT pg_advisory_unlock(%s)", (lock.key,))
            except psycopg.Error:  # the session is gone, and its locks with it
                self._lose_all()
                return
            self._close_if_unused()

    def close(self) -> None:
        """End the session, letting go of whatever it holds (the store closes)."""
        with self._guard:
            self._lose_all()

    def _open(self) -> Connection:
        """The session, a new one if there was none or the server dropped it."""
        connection = self._connection
        if connection is not None and _dropped(connection):
            self._lose_all()
            connection = None
        if connection is None:
            connection = self._connection = connect(self._dsn, autocommit=True, role="lock")
            self._session += 1
        return connection

    def _close_if_unused(self) -> None:
        if not self._holders:
            self._lose_all()

    def _lose_all(self) -> None:
        """Close the session: every lock on it is lost (the server lets go of them)."""
        connection, self._connection = self._connection, None
        self._holders.clear()
        self._session += 1
        if connection is not None:
            connection.close()


class AdvisoryLock:
    """A `ProcessLock`: one holder at a time across every host using the database,
    held on its store's `LockConnection`."""

    def __init__(
        self,
        locks: LockConnection,
        key: int,
        probe: Callable[[Callable[[Connection], bool]], bool],
    ) -> None:
        self.key = key
        self._locks = locks
        self._probe = probe
        """Runs a query on a pooled connection (for `held_elsewhere`)."""
        self._session: int | None = None
        """The lock session this lock was taken on, while it may hold it."""

    @property
    def held(self) -> bool:
        """Whether this object holds the lock. A lock whose session the server dropped
        (a restart, say) is no longer held; found without blocking, so it may run on
        the event loop."""
        session = self._session
        if session is None:
            return False
        if self._locks.holds(self, session):
            return True
        self._session = None
        return False

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits for a holder (blocking I/O)."""
        self._session = self._locks.take(self)
        return self._session is not None

    def held_elsewhere(self) -> bool:
        """Whether another holder has the lock now (read from `pg_locks`, taking nothing)."""
        if self.held:
            return False
        key = self.key
        return self._probe(lambda connection: held_by_anyone(connection, key))

    def release(self, *, remove: bool = False) -> None:
        """Let go (blocking I/O: in a thread). `remove` means nothing here: there is
        no file to remove."""
        self._session = None
        self._locks.let_go(self)  # by the holders, not `_session`: a take in flight


def _dropped(connection: Connection) -> bool:
    """Whether the server closed `connection` (never blocks)."""
    pgconn = connection.pgconn
    try:
        pgconn.consume_input()
    except psycopg.Error:
        return True
    return pgconn.status == pq.ConnStatus.BAD
