"""The PostgreSQL store opened read-only: reads and the change watch, no writer.

It creates, migrates and locks nothing; its pool's connections are read-only at the
server (`default_transaction_read_only`), and every write is refused with a
`StorageError` that says so. A schema that is empty, or that needs a migration
(which writes), is refused, as on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import anyio

from ...model import Automation, DatabaseRefused, Pruned, Scope, StorageError, Tombstone
from .._changes import ChangeListener
from .._leases import lease_name
from .._operations import Operation
from .._pending import PendingWrite
from .._port import WriterStats
from .._transfer import Digest, SideTable, digest, side_rows
from ._connection import Connection, connect, redacted
from ._locks import AdvisoryLock, PgChangeWatch
from ._reader import Reader
from ._schema import SCHEMA_VERSION, current_schema, lock_key, version_of
from ._transfer import journal_head, query_of

__all__ = ["PostgresReadOnlyStore", "open_read_only_postgresql_store"]

T = TypeVar("T")


class PostgresReadOnlyStore:
    """The read half of `PostgresStore`; writes raise `StorageError`."""

    def __init__(self, dsn: str, schema: str, reader: Reader) -> None:
        self.dsn = dsn
        self.schema = schema
        self.reader = reader
        self.writer_stats = WriterStats()

    @property
    def location(self) -> str:
        return redacted(self.dsn)

    def _refuse(self) -> NoReturn:
        raise StorageError(
            f"{self.location} was opened read-only; nothing was written. Use a command that writes."
        )

    def submit(self, operation: Operation[T]) -> PendingWrite[T]:
        self._refuse()

    async def write(self, operation: Operation[T]) -> T:
        self._refuse()

    def together(self) -> AbstractContextManager[None]:
        self._refuse()

    def add_commit_listener(self, listener: ChangeListener) -> None:
        """Nothing: this process commits nothing."""

    def remove_commit_listener(self, listener: ChangeListener) -> None:
        """Nothing: no listener was kept."""

    def read_committed(self, read: Callable[[], T]) -> tuple[T, int]:
        return read(), 0

    async def wait_delivered(self, committed: int) -> None:
        """Nothing to wait for: this process commits nothing."""

    def open_watch(self) -> PgChangeWatch:
        return PgChangeWatch(self.dsn)

    def _probe(self, query: Callable[[Connection], bool]) -> bool:
        return self.reader.run_sync(query)

    def lease_lock(self, scope: Scope) -> AdvisoryLock:
        return AdvisoryLock(self.dsn, lock_key(self.schema, lease_name(scope)), self._probe)

    def liveness_lock(self, owner: str) -> AdvisoryLock:
        return AdvisoryLock(self.dsn, lock_key(self.schema, f"owner:{owner}"), self._probe)

    @asynccontextmanager
    async def hold_liveness(self, owner: str) -> AsyncIterator[None]:
        """Holds nothing: a read-only process owns no run."""
        yield

    async def create_automation(self, scope: Scope, automation: Automation) -> int:
        self._refuse()

    async def create_automations(
        self, scope: Scope, automations: Sequence[Automation]
    ) -> list[int]:
        self._refuse()

    async def update_automation(
        self, scope: Scope, automation: Automation, *, expected_revision: int
    ) -> int:
        self._refuse()

    async def delete_automation(
        self, scope: Scope, tombstone: Tombstone, *, expected_revision: int, at: datetime
    ) -> int:
        self._refuse()

    async def prune(
        self, scope: Scope, before: datetime, progress: Callable[[Pruned], None] | None = None
    ) -> Pruned:
        self._refuse()

    async def side_rows(
        self, table: SideTable, after: tuple[Any, ...] | None, limit: int
    ) -> list[tuple[Any, ...]]:
        """See `persistence.Exportable` (a copy of this store)."""
        return await self.reader.run(lambda c: side_rows(query_of(c), table, after, limit))

    async def digest(self) -> Digest:
        """See `persistence.Exportable`: every copied table, counted and hashed."""
        return await self.reader.run(lambda c: digest(query_of(c)))

    async def journal_head(self) -> int:
        """See `persistence.Exportable`."""
        return await self.reader.run(journal_head)


@asynccontextmanager
async def open_read_only_postgresql_store(dsn: str) -> AsyncIterator[PostgresReadOnlyStore]:
    """Open the existing store of `dsn` read-only, and close it on exit."""
    schema = await anyio.to_thread.run_sync(_inspect, dsn)
    reader = Reader(dsn, read_only=True)
    await anyio.to_thread.run_sync(reader.open)
    try:
        yield PostgresReadOnlyStore(dsn, schema, reader)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(reader.close)


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
