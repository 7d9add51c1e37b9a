"""The change feed across hosts: LISTEN/NOTIFY as a wake-up, polling behind it.

After each committed batch the writer sends one NOTIFY on a connection of its own,
once its waiters were woken: never inside the batch's transaction, where NOTIFY would
make every commit of the database wait for a global lock. The watch of each process
LISTENs on a connection of its own and, when a notification came from another
process, says so at once; it still says "maybe" every `FALLBACK_SECONDS` (or every
`POLL_SECONDS` while it is not listening: no connection yet, or a broken one), since
a notification is a hint and is lost when a connection drops.
"""

from __future__ import annotations

import logging
import time

import psycopg

from ...model import StorageError
from .._sql import HEADS_SQL
from ._connection import Connection, connect, storage_error
from ._schema import lock_key

__all__ = ["Notifier", "PgChangeWatch", "channel"]

RETRY_SECONDS = 1.0
"""How long the notifier waits before it connects again after a failure."""

log = logging.getLogger("automations.persistence")


def channel(schema: str) -> str:
    """The channel of `schema`'s changes (a plain identifier: no quoting needed)."""
    return f"automations_{lock_key(schema, 'changes') & 0xFFFF_FFFF_FFFF_FFFF:016x}"


class Notifier:
    """Sends the writer's NOTIFY (writer thread only); a failure is logged and the
    connection opened again next time: the others' polling covers the gap."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._dsn = dsn
        self._channel = channel(schema)
        self._connection: Connection | None = None
        self._retry_at = 0.0
        self.backend_pid: int | None = None
        """The server process of this notifier's connection: a watch of the same store
        ignores what it sends (its own commits are known to it already)."""

    def notify(self) -> None:
        connection = self._connection
        try:
            if connection is None or connection.closed or connection.broken:
                if time.monotonic() < self._retry_at:
                    return  # a connect may take its whole timeout: not on every batch
                self._retry_at = time.monotonic() + RETRY_SECONDS
                connection = self._connection = connect(self._dsn, autocommit=True, role="notify")
                self.backend_pid = connection.info.backend_pid
            connection.execute("SELECT pg_notify(%s, '')", (self._channel,))
        except (psycopg.Error, StorageError) as exc:  # the server is away: they poll
            log.debug("could not notify the others of a commit: %s", exc)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PgChangeWatch:
    """The change probe of one process: `changed()` is cheap and never blocks (it reads
    what already arrived on the LISTEN connection); `heads()` reads the journal's and
    the inbox's last ids, and LISTENs first when it is not listening yet."""

    POLL_SECONDS = 0.05
    FALLBACK_SECONDS = 1.0

    def __init__(self, dsn: str, schema: str, notifier: Notifier | None = None) -> None:
        self._dsn = dsn
        self._channel = channel(schema)
        self._notifier = notifier
        self._connection: Connection | None = None
        self._listener: Connection | None = None
        self._last = 0.0

    @property
    def listening(self) -> bool:
        listener = self._listener
        return listener is not None and not listener.closed and not listener.broken

    def fileno(self) -> int | None:
        """The LISTEN connection's socket, readable when a notification may be there
        (None while not listening)."""
        return self._listener.pgconn.socket if self.listening and self._listener else None

    def changed(self) -> bool:
        now = time.monotonic()
        if self._notified():
            self._last = now
            return True
        every = self.FALLBACK_SECONDS if self.listening else self.POLL_SECONDS
        if now - self._last < every:
            return False
        self._last = now
        return True

    def _notified(self) -> bool:
        """Whether another process's notification arrived (reads the socket's buffer)."""
        listener = self._listener
        if listener is None or listener.closed:
            return False
        pgconn = listener.pgconn
        try:
            pgconn.consume_input()
        except psycopg.Error:
            self._drop_listener()
            return True  # it may have missed one: look
        own = None if self._notifier is None else self._notifier.backend_pid
        news = False
        while (notice := pgconn.notifies()) is not None:
            news = news or notice.be_pid != own
        return news

    def heads(self) -> tuple[int, int]:
        if not self.listening:
            self._listen()
        if self._connection is None or self._connection.closed or self._connection.broken:
            self._connection = connect(self._dsn, autocommit=True, role="watch")
        try:
            row = self._connection.execute(HEADS_SQL).fetchone()
        except psycopg.Error as exc:
            raise storage_error(exc, self._dsn) from exc
        assert row is not None
        return int(row[0]), int(row[1])

    def _listen(self) -> None:
        """LISTEN before the heads are read: a commit after the read is notified."""
        self._drop_listener()
        listener = connect(self._dsn, autocommit=True, role="listen")
        try:
            listener.execute(f"LISTEN {self._channel}")
        except psycopg.Error as exc:
            listener.close()
            raise storage_error(exc, self._dsn) from exc
        self._listener = listener

    def _drop_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def close(self) -> None:
        self._drop_listener()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
