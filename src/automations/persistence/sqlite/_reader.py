"""Reads, on connections of their own, in worker threads so the event loop never blocks.

Every query is scoped by project and owner directory: a runtime sees only its own
automations, runs and journal entries, whatever ids or cursors it is handed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import apsw

from .._sql import HEADS_SQL, Sql, SqlReader
from ._connection import Durability, connect, storage_error
from ._sql import SqliteSql

__all__ = ["ChangeWatch", "Reader"]

T = TypeVar("T")


class Reader(SqlReader):
    """A small pool of read connections; each query runs in a worker thread."""

    def __init__(self, path: str, durability: Durability, *, uri: str | None = None) -> None:
        self._path = path
        self._durability = durability
        self._uri = uri
        self._idle: list[apsw.Connection] = []
        self._all: list[apsw.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, query: Callable[[apsw.Connection], T]) -> T:
        """Run `query` with a pooled connection in a worker thread."""
        return await anyio.to_thread.run_sync(self.run_sync, query)

    def run_sync(self, query: Callable[[apsw.Connection], T]) -> T:
        """Run `query` in the calling thread (for tools and tests off the event loop)."""
        connection = self._take()
        try:
            return query(connection)
        except apsw.Error as exc:
            raise storage_error(exc, self._path) from exc
        finally:
            with self._lock:
                self._idle.append(connection)

    def _take(self) -> apsw.Connection:
        with self._lock:
            if self._closed:
                raise RuntimeError("the reader is closed")
            if self._idle:
                return self._idle.pop()
        connection = connect(self._path, durability=self._durability, uri=self._uri)
        with self._lock:
            self._all.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._all, self._idle = self._all, [], []
        for connection in connections:
            connection.close()

    async def query(self, read: Callable[[Sql], T]) -> T:
        return await self.run(lambda connection: read(SqliteSql(connection)))


class ChangeWatch:
    """Notices commits by other connections: `PRAGMA data_version` changes with each
    one, and costs microseconds. It is per connection, so the watch keeps its own."""

    def __init__(self, path: str, durability: Durability, *, uri: str | None = None) -> None:
        self._path = path
        self._connection = connect(path, durability=durability, uri=uri)
        self._version = -1

    def changed(self) -> bool:
        """Whether another connection committed since the last call. It reads a counter
        in shared memory and takes no lock, so it may run on the event loop."""
        try:
            row = self._connection.execute("PRAGMA data_version").fetchone()
        except apsw.Error as exc:
            raise storage_error(exc, self._path) from exc
        version = int(row[0]) if row else 0
        changed = version != self._version
        self._version = version
        return changed

    def heads(self) -> tuple[int, int]:
        """(journal head, last command id). Blocking: call it in a worker thread."""
        try:
            row = self._connection.execute(HEADS_SQL).fetchone()
        except apsw.Error as exc:
            raise storage_error(exc, self._path) from exc
        assert row is not None
        return int(row[0]), int(row[1])

    def close(self) -> None:
        self._connection.close()
