"""The PostgreSQL store opened read-only: reads and the change watch, no writer.

It creates, migrates and locks nothing; its pool's connections are read-only at the
server (`default_transaction_read_only`), and every write is refused with a
`StorageError` that says so. A schema that is empty, or that needs a migration
(which writes), is refused, as on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio

from ...model import DatabaseRefused, StorageError
from .._sql import ReadOnlySqlStore
from ._connection import Connection, connect, redacted
from ._locks import AdvisoryLock, LockConnection
from ._notify import PgChangeWatch
from ._reader import Reader
from ._schema import SCHEMA_VERSION, current_schema, lock_key, version_of

__all__ = ["PostgresReadOnlyStore", "open_read_only_postgresql_store"]

T = TypeVar("T")


class PostgresReadOnlyStore(ReadOnlySqlStore):
    """The read half of `PostgresStore`; writes raise `StorageError`."""

    def __init__(self, dsn: str, schema: str, reader: Reader) -> None:
        super().__init__(reader, redacted(dsn))
        self.reader: Reader
        self.dsn = dsn
        self.schema = schema
        self.locks = LockConnection(dsn)

    def open_watch(self) -> PgChangeWatch:
        return PgChangeWatch(self.dsn, self.schema)

    def _probe(self, query: Callable[[Connection], bool]) -> bool:
        return self.reader.run_sync(query)

    def lease_lock(self, lease: str) -> AdvisoryLock:
        return AdvisoryLock(self.locks, lock_key(self.schema, lease), self._probe)

    def liveness_lock(self, owner: str) -> AdvisoryLock:
        return AdvisoryLock(self.locks, lock_key(self.schema, f"owner:{owner}"), self._probe)


@asynccontextmanager
async def open_read_only_postgresql_store(dsn: str) -> AsyncIterator[PostgresReadOnlyStore]:
    """Open the existing store of `dsn` read-only, and close it on exit."""
    schema = await anyio.to_thread.run_sync(_inspect, dsn)
    reader = Reader(dsn, read_only=True)
    await anyio.to_thread.run_sync(reader.open)
    store = PostgresReadOnlyStore(dsn, schema, reader)
    try:
        yield store
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(reader.close)
            await anyio.to_thread.run_sync(store.locks.close)


def _inspect(dsn: str) -> str:
    """The schema's name, once it is known to hold a current store."""
    with connect(dsn, autocommit=True, role="inspect") as connection:
        version = version_of(connection, dsn)
        schema = current_schema(connection, dsn)
    if version == 0:
        raise StorageError(f"{redacted(dsn)} holds no automations yet (an empty schema)")
    if version < SCHEMA_VERSION:
        raise DatabaseRefused(
            f"{redacted(dsn)} has schema version {version} and needs an upgrade, which "
            "writes; open it once with a command that writes (serve, add)."
        )
    return schema
