"""The PostgreSQL store: a group-commit writer thread, a pool of readers, and advisory
locks for leases and liveness (several hosts, one database)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
import psycopg

from ...model import StorageError
from .._port import Durability
from .._sql import SqlStore
from ._connection import Connection, connect, redacted, storage_error
from ._locks import AdvisoryLock, LockConnection
from ._notify import Notifier, PgChangeWatch
from ._reader import Reader
from ._schema import current_schema, lock_key, migrate
from ._writer import GroupCommitWriter

__all__ = ["PostgresStore", "open_postgresql_store"]

T = TypeVar("T")

log = logging.getLogger("automations.persistence")


class PostgresStore(SqlStore):
    """The PostgreSQL store: a schema of a database, with advisory locks for its locks."""

    def __init__(self, dsn: str, schema: str, writer: GroupCommitWriter, reader: Reader) -> None:
        super().__init__(writer, reader)
        self.dsn = dsn
        self.schema = schema
        self.reader: Reader = reader
        self._notifier = writer.notifier
        self.locks = LockConnection(dsn)
        """The one session holding all of this store's advisory locks."""

    @property
    def location(self) -> str:
        return redacted(self.dsn)

    def _probe(self, query: Callable[[Connection], bool]) -> bool:
        return self.reader.run_sync(query)

    def lease_lock(self, lease: str) -> AdvisoryLock:
        """The lock of the lease named `lease` (not taken)."""
        return AdvisoryLock(self.locks, lock_key(self.schema, lease), self._probe)

    def liveness_lock(self, owner: str) -> AdvisoryLock:
        """The lock process `owner` holds while it lives (not taken)."""
        return AdvisoryLock(self.locks, lock_key(self.schema, f"owner:{owner}"), self._probe)

    @asynccontextmanager
    async def hold_liveness(self, owner: str) -> AsyncIterator[None]:
        """Hold `owner`'s liveness lock while the block runs: the server lets go of it
        when this process's lock session ends, which is how others know it is gone."""
        lock = self.liveness_lock(owner)
        if not await anyio.to_thread.run_sync(lock.try_acquire):
            raise StorageError(
                f"another process holds the liveness lock of {owner!r} on {self.location}"
            )
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_keep_holding, lock, owner)
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lock.release)

    def open_watch(self) -> PgChangeWatch:
        return PgChangeWatch(self.dsn, self.schema, self._notifier)


REHOLD_SECONDS = 1.0
"""How often a process looks whether its liveness lock's session was dropped."""


async def _keep_holding(lock: AdvisoryLock, owner: str) -> None:
    """Take the liveness lock again when the server dropped its session (a restart):
    until then others may take this process for dead and reconcile its runs, whose
    next writes then fail their compare-and-swap instead of running twice."""
    while True:
        await anyio.sleep(REHOLD_SECONDS)
        if lock.held:
            continue
        log.warning("the liveness lock of %s was dropped by the server; taking it again", owner)
        try:
            if not await anyio.to_thread.run_sync(lock.try_acquire):
                log.error("another process holds the liveness lock of %s now", owner)
        except StorageError:
            log.exception("could not take the liveness lock of %s again", owner)


@asynccontextmanager
async def open_postgresql_store(
    dsn: str, *, durability: Durability = "full"
) -> AsyncIterator[PostgresStore]:
    """Open (creating or migrating) the store in the database (and schema) `dsn` names,
    and close it on exit. A schema that is not ours, or is newer than this code,
    raises `DatabaseRefused` and is left untouched."""
    if durability not in ("full", "normal"):
        raise ValueError(f"durability must be 'full' or 'normal', not {durability!r}")
    connection, schema = await anyio.to_thread.run_sync(_open_for_writing, dsn, durability)
    reader = Reader(dsn)
    writer = GroupCommitWriter(dsn, durability, lock_key(schema, "journal"), Notifier(dsn, schema))
    try:
        await anyio.to_thread.run_sync(reader.open)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(connection.close)
        raise
    writer.start(connection)
    store = PostgresStore(dsn, schema, writer, reader)
    try:
        yield store
    finally:
        with anyio.CancelScope(shield=True):
            await writer.close()
            await anyio.to_thread.run_sync(reader.close)
            await anyio.to_thread.run_sync(store.locks.close)


def _open_for_writing(dsn: str, durability: Durability) -> tuple[Connection, str]:
    connection = connect(dsn, autocommit=False, durability=durability, role="writer")
    try:
        migrate(connection, dsn)
        schema = current_schema(connection, dsn)
        connection.commit()
    except psycopg.Error as exc:
        connection.close()
        raise storage_error(exc, dsn) from exc
    except BaseException:
        connection.close()
        raise
    return connection, schema
