"""What a store made of a group-commit writer and a reader pool offers, whatever the
database: the writes of the port as operations, pruning step by step, replay; and
what the same store opened read-only does instead."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from ...model import Automation, Pruned, Run, Scope, StorageError, Tombstone
from .._changes import ChangeListener
from .._group_commit import GroupCommit
from .._operations import CreateAutomations, DeleteAutomation, Operation, Replay, SaveAutomation
from .._pending import PendingWrite
from .._port import WriterStats
from .._retention import PruneProgress, PruneStep
from .._run_operations import SaveRun
from .._transfer import Digest, SideTable
from ._reader import SqlReader
from ._replay import projection_rows
from ._transfer import digest, journal_head, side_rows

__all__ = ["ReadOnlySqlStore", "SqlStore"]

T = TypeVar("T")


class _CopyReads:
    """What a copy reads of a store (`persistence.Exportable`), the same for the
    read-write and the read-only half."""

    reader: SqlReader

    async def side_rows(
        self, table: SideTable, after: tuple[Any, ...] | None, limit: int
    ) -> list[tuple[Any, ...]]:
        """See `persistence.Exportable` (a copy of this store)."""
        return await self.reader.query(lambda sql: side_rows(sql, table, after, limit))

    async def digest(self) -> Digest:
        """See `persistence.Exportable`: every copied table, counted and hashed."""
        return await self.reader.query(digest)

    async def journal_head(self) -> int:
        """See `persistence.Exportable`."""
        return await self.reader.query(journal_head)


class SqlStore(_CopyReads):
    """Durable writes through the group-commit writer, reads through the reader pool;
    each store adds its locks, its change watch and where it lives."""

    def __init__(self, writer: GroupCommit[Any], reader: SqlReader) -> None:
        self._writer = writer
        self.reader = reader

    @property
    def writer_stats(self) -> WriterStats:
        return self._writer.stats

    def add_commit_listener(self, listener: ChangeListener) -> None:
        """See `GroupCommit.add_listener`."""
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
        """See `GroupCommit.together`: the block's writes commit in one transaction."""
        return self._writer.together()

    def read_committed(self, read: Callable[[], T]) -> tuple[T, int]:
        """See `GroupCommit.read_committed`."""
        return self._writer.read_committed(read)

    async def wait_delivered(self, committed: int) -> None:
        """See `GroupCommit.wait_delivered`."""
        await self._writer.wait_delivered(committed)

    async def create_automation(self, scope: Scope, automation: Automation) -> int:
        return await self.write(SaveAutomation(scope, automation, None))

    async def create_automations(
        self, scope: Scope, automations: Sequence[Automation]
    ) -> list[int]:
        return await self.write(CreateAutomations(scope, tuple(automations)))

    async def update_automation(
        self, scope: Scope, automation: Automation, *, expected_revision: int
    ) -> int:
        return await self.write(SaveAutomation(scope, automation, expected_revision))

    async def delete_automation(
        self, scope: Scope, tombstone: Tombstone, *, expected_revision: int, at: datetime
    ) -> int:
        return await self.write(DeleteAutomation(scope, tombstone, expected_revision, at))

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
        return await self.write(SaveRun(scope, run, expected_revision, at, writer_key, owner))

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
        return await self.write(Replay())

    async def projections(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every projection row, for exact comparisons (tests, `replay` checks)."""
        return await self.reader.query(projection_rows)


class ReadOnlySqlStore(_CopyReads):
    """The read half of a store: no writer, no lock held; every write raises
    `StorageError`. Each store adds its locks (to look at, never to take), its change
    watch and where it lives."""

    def __init__(self, reader: SqlReader, location: str) -> None:
        self.reader = reader
        self.writer_stats = WriterStats()
        self._location = location

    @property
    def location(self) -> str:
        """Where the database is, as messages name it."""
        return self._location

    def _refuse(self) -> NoReturn:
        raise StorageError(
            f"{self.location} was opened read-only; nothing was written. "
            "Use a command that writes, on a database you can write to."
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

    @asynccontextmanager
    async def hold_liveness(self, owner: str) -> AsyncIterator[None]:
        """Holds nothing: a read-only process owns no run, so nobody needs to know it
        is alive (and a read-only directory may not take a lock file)."""
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
