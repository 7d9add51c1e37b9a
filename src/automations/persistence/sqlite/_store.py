"""The store: the database file, its writer thread and its readers, opened together."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import anyio
import apsw

from ...model import Automation, Pruned, Run, Scope, StorageError, Tombstone
from .._changes import ChangeListener
from .._leases import lease_name
from .._operations import CreateAutomations, DeleteAutomation, Operation, Replay, SaveAutomation
from .._pending import PendingWrite
from .._port import WriterStats
from .._retention import PruneProgress, PruneStep
from .._run_operations import SaveRun
from .._transfer import Digest, SideTable, digest, side_rows
from ._apply import Apply, apply
from ._connection import (
    Durability,
    connect,
    create_private_file,
    enable_wal,
    set_durability,
    storage_error,
)
from ._locks import FileLock, lease_lock_path, liveness_lock_path
from ._reader import ChangeWatch, Reader
from ._replay import projection_rows
from ._schema import inspect, migrate
from ._transfer import journal_head, query_of
from ._writer import GroupCommitWriter

__all__ = ["SqliteStore", "open_sqlite_store"]

T = TypeVar("T")


class SqliteStore:
    """Durable writes through the group-commit writer, reads through the reader pool."""

    def __init__(
        self, path: str, durability: Durability, writer: GroupCommitWriter, reader: Reader
    ) -> None:
        self.path = path
        self.durability = durability
        self.reader = reader
        self._writer = writer

    @property
    def location(self) -> str:
        return self.path

    @property
    def writer_stats(self) -> WriterStats:
        return self._writer.stats

    def add_commit_listener(self, listener: ChangeListener) -> None:
        """See `GroupCommitWriter.add_listener`."""
        self._writer.add_listener(listener)

    def remove_commit_listener(self, listener: ChangeListener) -> None:
        self._writer.remove_listener(listener)

    async def write(self, operation: Operation[T]) -> T:
        """Apply one operation durably; what it returns, or the error it raised."""
        return await self._writer.write(operation)

    def submit(self, operation: Operation[T]) -> PendingWrite[T]:
        """Queue one operation without waiting; writes commit in submission order."""
        return self._writer.submit(operation)

    def together(self) -> AbstractContextManager[None]:
        """See `GroupCommitWriter.together`: the block's writes commit in one transaction."""
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

    async def save_run(
        self,
        scope: Scope,
        run: Run,
        *,
        expected_revision: int | None,
        at: datetime,
        writer_key: str | None = None,
        owner: str | None = None,
    ) -> int:
        operation = SaveRun(scope, run, expected_revision, at, writer_key, owner)
        seq: int = await self.write(operation)
        return seq

    def read_committed(self, read: Callable[[], T]) -> tuple[T, int]:
        """See `GroupCommitWriter.read_committed`."""
        return self._writer.read_committed(read)

    async def wait_delivered(self, committed: int) -> None:
        """See `GroupCommitWriter.wait_delivered`."""
        await self._writer.wait_delivered(committed)

    def lease_lock(self, scope: Scope) -> FileLock:
        """The lock whose holder leads `scope` (not taken): a file beside the database."""
        return FileLock(lease_lock_path(self.path, lease_name(scope)))

    def liveness_lock(self, owner: str) -> FileLock:
        """The lock process `owner` holds while it lives (not taken)."""
        return FileLock(liveness_lock_path(self.path, owner))

    @asynccontextmanager
    async def hold_liveness(self, owner: str) -> AsyncIterator[None]:
        """Hold `owner`'s liveness lock while the block runs (DESIGN 8): the kernel lets
        go of it the instant the process dies, which is how others know it is gone."""
        lock = self.liveness_lock(owner)
        if not await anyio.to_thread.run_sync(lock.try_acquire):
            raise StorageError(f"could not take the liveness lock {lock.path}; is it on NFS?")
        try:
            yield
        finally:
            lock.release(remove=True)

    def open_watch(self) -> ChangeWatch:
        """A watch on commits by other connections; close it when done."""
        return ChangeWatch(self.path, self.durability)

    async def prune(
        self,
        scope: Scope,
        before: datetime,
        progress: Callable[[Pruned], None] | None = None,
    ) -> Pruned:
        """Forget the runs of `scope` that ended before `before`, and its journal entries
        from then that no longer decide anything (see `_retention`). One write per step,
        so other writes go on in between; `progress` hears the totals after each."""
        runs = entries = after = 0
        while True:
            step: PruneProgress = await self.write(PruneStep(scope, before, after))
            runs, entries, after = runs + step.runs, entries + step.entries, step.last_seq
            if step.done:
                return Pruned(runs=runs, entries=entries)
            if progress is not None:
                progress(Pruned(runs=runs, entries=entries))

    async def replay(self) -> int:
        """Rebuild the projections from the journal in one transaction; entries replayed."""
        count: int = await self.write(Replay())
        return count

    async def projections(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every projection row, for exact comparisons (tests, `replay` checks)."""
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


@asynccontextmanager
async def open_sqlite_store(
    path: str | os.PathLike[str], *, durability: Durability = "full", how: Apply = apply
) -> AsyncIterator[SqliteStore]:
    """Open (creating or migrating) the database at `path`, and close it on exit.

    A file that is not ours, or is newer than this code, raises `DatabaseRefused`
    and is left untouched. `how` applies each operation (tests wrap it).
    """
    if durability not in ("full", "normal"):
        raise ValueError(f"durability must be 'full' or 'normal', not {durability!r}")
    path = await anyio.to_thread.run_sync(os.path.abspath, os.fspath(path))
    connection = await anyio.to_thread.run_sync(_open_for_writing, path, durability)
    writer = GroupCommitWriter(connection, path, how=how)
    reader = Reader(path, durability)
    writer.start()
    try:
        yield SqliteStore(path, durability, writer, reader)
    finally:
        with anyio.CancelScope(shield=True):
            await writer.close()
            reader.close()
            connection.close()


def _open_for_writing(path: str, durability: Durability) -> apsw.Connection:
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise StorageError(f"cannot create {path}: the directory {directory} does not exist")
    try:
        create_private_file(path)
    except OSError as exc:
        raise StorageError(f"cannot create {path}: {exc.strerror}") from None
    connection = connect(path, durability=None)
    try:
        state = inspect(connection, path)
        set_durability(connection, durability)
        enable_wal(connection)
        migrate(connection, state)
    except apsw.Error as exc:
        connection.close()
        error = storage_error(exc, path)
        if error is exc:
            raise
        raise error from None
    except BaseException:
        connection.close()
        raise
    return connection
