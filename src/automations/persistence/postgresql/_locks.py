"""Leases and liveness across hosts: session-level advisory locks.

A lock is held by one connection of its own (`pg_try_advisory_lock`); the server lets
go of it the moment that connection ends: the holding process died (its socket
closed), or, for a host that froze or was cut off, when the server's TCP keepalive
gives up on it (set to about 11 s on each lock connection). That is the fast path of
fail-over; a holder that is alive but stopped renewing is fenced by the lease's epoch
(`_lease_writes.py`), as on SQLite. Keys are 64-bit hashes of the schema and the
lock's name, so two schemas of one database do not share locks.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import psycopg
from psycopg import pq

from ._connection import Connection, connect, storage_error

__all__ = ["AdvisoryLock", "held_by_anyone"]


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


class AdvisoryLock:
    """A `ProcessLock`: one holder at a time across every host using the database."""

    def __init__(
        self, dsn: str, key: int, probe: Callable[[Callable[[Connection], bool]], bool]
    ) -> None:
        self._dsn = dsn
        self._key = key
        self._probe = probe
        """Runs a query on a pooled connection (for `held_elsewhere`)."""
        self._connection: Connection | None = None
        self._guard = threading.Lock()
        """One user of the connection at a time: a thread taking or releasing the
        lock, or `held` looking at it from the event loop."""

    @property
    def held(self) -> bool:
        """Whether this object holds the lock. A lock whose connection the server
        dropped (a restart, say) is no longer held: found without blocking, by
        reading what the socket has (the server's goodbye), so it may run on the loop."""
        connection = self._connection
        if connection is None:
            return False
        if not self._guard.acquire(blocking=False):
            return True  # being taken or released in a thread right now
        try:
            if self._connection is connection and _dropped(connection):
                self._connection = None
                connection.close()
            return self._connection is not None
        finally:
            self._guard.release()

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits for a holder (blocking I/O)."""
        with self._guard:
            return self._try_acquire()

    def _try_acquire(self) -> bool:
        if self._connection is not None:
            if not _dropped(self._connection):
                return True
            self._connection.close()
            self._connection = None
        connection = connect(self._dsn, autocommit=True, role="lock")
        try:
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        except psycopg.Error as exc:
            connection.close()
            raise storage_error(exc, self._dsn) from exc
        except BaseException:
            connection.close()
            raise
        if not (row and row[0]):
            connection.close()
            return False
        self._connection = connection
        return True

    def held_elsewhere(self) -> bool:
        """Whether another holder has the lock now (read from `pg_locks`, taking nothing)."""
        if self._connection is not None:
            return False
        key = self._key
        return self._probe(lambda connection: held_by_anyone(connection, key))

    def release(self, *, remove: bool = False) -> None:
        """Let go (closing the lock's connection lets go whatever happens). `remove`
        means nothing here: there is no file to remove."""
        with self._guard:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            with contextlib.suppress(psycopg.Error):
                connection.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            connection.close()


def _dropped(connection: Connection) -> bool:
    """Whether the server closed `connection` (never blocks)."""
    pgconn = connection.pgconn
    try:
        pgconn.consume_input()
    except psycopg.Error:
        return True
    return pgconn.status == pq.ConnStatus.BAD
