"""The PostgreSQL store: a group-commit writer thread, a pool of readers, and advisory
locks for leases and liveness (several hosts, one database)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import anyio
import psycopg

from ...model import Automation, Pruned, Scope, StorageError, Tombstone
from .._changes import ChangeListener
from .._leases import lease_name
from .._operations import CreateAutomations, DeleteAutomation, Operation, Replay, SaveAutomation
from .._pending import PendingWrite
from .._port import Durability, WriterStats
from .._retention import PruneProgress, PruneStep
from .._transfer import Digest, SideTable, digest, side_rows
from ._connection import Connection, connect, redacted, storage_error
from ._locks import AdvisoryLock, PgChangeWatch
from ._reader import Reader
from ._replay import projection_rows
from ._schema import current_schema, lock_key, migrate
from ._transfer import journal_head, query_of
from ._writer import GroupCommitWriter

__all__ = ["PostgresStore", "open_postgresql_store"]

T = TypeVar("T")

log = logging.getLogger("automations.persistence")


class PostgresStore:
    """Durable writes through the group-commit writer, reads through the reader pool."""

    def __init__(self, dsn: str, schema: str, writer: GroupCommitWriter, reader: Reader) -> None:
        self.dsn = dsn
        self.schema = schema
        self.reader = reader
        self._writer = writer

    @property
    def location(self) -> str:
        return redacted(self.dsn)

    @property
    def writer_stats(self) -> WriterStats:
        return self._writer.stats

    def add_commit_listener(self, listener: ChangeListener) -> None:
        self._writer.add_listener(listener)

    def remove_commit_listener(self, listener: ChangeListener) -> None:
        self._writer.remove_listener(listener)

    async def write(self, operation: Operation[T]) -> T:
        return await self._writer.write(operation)

    def submit(self, operation: Operation[T]) -> PendingWrite[T]:
        return self._writer.submit(operation)

    def together(self) -> AbstractContextManager[None]:
        return self._writer.together()

    async def create_automation(self, scope: Scope, automation: Automation) -> int:
        seq: int = await self.write(SaveAutomation(scope, automation, None))
        return seq

    async def create_automations(
        self, scope: Scope, automations: Sequence[Automation]
    ) -> list[int]:
        seqs: list[int] = await self.write(CreateAutomations(scope, tuple(automations)))
        return seqs

    async def update_automation(
        self, scope: Scope, automation: Automation, *, expected_revision: int
    ) -> int:
        seq: int = await self.write(SaveAutomation(scope, automation, expected_revision))
        return seq

    async def delete_automation(
        self, scope: Scope, tombstone: Tombstone, *, expected_revision: int, at: datetime
    ) -> int:
        seq: int = await self.write(DeleteAutomation(scope, tombstone, expected_revision, at))
        return seq

    def read_committed(self, read: Callable[[], T]) -> tuple[T, int]:
        return self._writer.read_committed(read)

    async def wait_delivered(self, committed: int) -> None:
        await self._writer.wait_delivered(committed)

    def _probe(self, query: Callable[[Connection], bool]) -> bool:
        return self.reader.run_sync(query)

    def lease_lock(self, scope: Scope) -> AdvisoryLock:
        """The lock whose holder leads `scope` (not taken)."""
        return AdvisoryLock(self.dsn, lock_key(self.schema, lease_name(scope)), self._probe)

    def liveness_lock(self, owner: str) -> AdvisoryLock:
        """The lock process `owner` holds while it lives (not taken)."""
        return AdvisoryLock(self.dsn, lock_key(self.schema, f"owner:{owner}"), self._probe)

    @asynccontextmanager
    async def hold_liveness(self, owner: str) -> AsyncIterator[None]:
        """Hold `owner`'s liveness lock while the block runs: the server lets go of it
        when this process's lock connection ends, which is how others know it is gone."""
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
        return PgChangeWatch(self.dsn)

    async def prune(
        self,
        scope: Scope,
        before: datetime,
        progress: Callable[[Pruned], None] | None = None,
    ) -> Pruned:
        """As `SqliteStore.prune`: one write per step, other writes in between."""
        runs = entries = after = 0
        while True:
            step: PruneProgress = await self.write(PruneStep(scope, before, after))
            runs, entries, after = runs + step.runs, entries + step.entries, step.last_seq
            if step.done:
                return Pruned(runs=runs, entries=entries)
            if progress is not None:
                progress(Pruned(runs=runs, entries=entries))

    async def replay(self) -> int:
        count: int = await self.write(Replay())
        return count

    async def projections(self) -> dict[str, list[tuple[Any, ...]]]:
        return await self.reader.run(projection_rows)

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


REHOLD_SECONDS = 1.0
"""How often a process looks whether its liveness lock's connection was dropped."""


async def _keep_holding(lock: AdvisoryLock, owner: str) -> None:
    """Take the liveness lock again when the server dropped its connection (a restart):
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
    writer = GroupCommitWriter(dsn, durability, lock_key(schema, "journal"))
    try:
        await anyio.to_thread.run_sync(reader.open)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(connection.close)
        raise
    writer.start(connection)
    try:
        yield PostgresStore(dsn, schema, writer, reader)
    finally:
        with anyio.CancelScope(shield=True):
            await writer.close()
            await anyio.to_thread.run_sync(reader.close)


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
