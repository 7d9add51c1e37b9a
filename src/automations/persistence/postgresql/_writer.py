"""The PostgreSQL group-commit writer (see `persistence/_group_commit.py` for how a
batch is taken, applied and handed back).

**The journal lock.** Each batch first takes a transaction-level advisory lock (the
journal lock of the schema), held until its COMMIT. So the batches of every process
are serialized, and sequence numbers (journal seqs and command ids, from identity
columns) are drawn in commit order: when a reader sees seq n, every entry below n has
committed or never will (a rolled-back one leaves a gap, as a pruned one does). A
follower that reads `seq > last` therefore never skips an entry that commits late.
The price is one writer at a time per database, which group commit amortises. Since
no other writer draws a number while the lock is held, the writer reads the journal's
last number with the lock and hands out the batch's numbers itself (no `RETURNING
seq` to wait for), then moves the sequence past them before COMMIT.

**Round trips.** A batch costs three, whatever its size: the lock (with the journal's
head), the optimistic pass sent in pipeline mode and synced once, and COMMIT. A
check that must read before it can go on (a lease epoch, say) costs one more.

A batch of heartbeats alone (`Heartbeat`, `Depart`: rows of their own, no journal
entry) takes no journal lock, so a worker's liveness is never held up by another
process's batch (a cut-off one can hold the lock until its session is given up).

A broken connection fails its batch with a `StorageError` and is opened again for the
next one.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from psycopg import pq

from ...model import StorageError
from .._group_commit import GroupCommit
from .._operations import Operation
from .._pending import PendingWrite
from .._port import Durability
from .._sql import apply
from .._workers import Depart, Heartbeat
from ._connection import Connection, connect, redacted, storage_error
from ._notify import Notifier
from ._sql import LOCK_AND_HEAD, PostgresSql, apply_in_savepoint

__all__ = ["GroupCommitWriter"]


_OFF_THE_JOURNAL = (Heartbeat, Depart)
"""Operations that write neither the journal nor anything a journaled write reads."""


class GroupCommitWriter(GroupCommit[PostgresSql]):
    """Owns a write connection in a thread of its own from `start()` until `close()`."""

    def __init__(
        self, dsn: str, durability: Durability, journal_key: int, notifier: Notifier
    ) -> None:
        super().__init__(redacted(dsn))
        self.notifier = notifier
        self._dsn = dsn
        self._durability = durability
        self._journal_key = journal_key
        self._connection: Connection | None = None
        self._sql: PostgresSql | None = None
        """The open batch's connection, handing out its journal numbers."""

    def start(self, connection: Connection | None = None) -> None:
        """Start the thread on `connection`; call from the loop whose tasks await writes."""
        self._connection = connection
        super().start()

    def _usable(self) -> Connection:
        """The write connection, opened again if the last one broke."""
        connection = self._connection
        if connection is None or connection.closed or connection.broken:
            if connection is not None:
                connection.close()
            connection = self._connection = connect(
                self._dsn, autocommit=False, durability=self._durability, role="writer"
            )
        return connection

    def _begin(self, batch: list[PendingWrite[Any]]) -> PostgresSql | None:
        """Open the batch's transaction with the journal lock (unless it writes no
        journal entry); None (the batch failed) when the server cannot be reached. A
        connection found broken here (the server restarted while the writer was idle)
        is replaced at once, the batch unharmed."""
        if all(isinstance(pending.operation, _OFF_THE_JOURNAL) for pending in batch):
            try:
                self._sql = PostgresSql(self._usable())
            except (psycopg.Error, StorageError) as exc:
                self._rollback()
                self._fail_all(batch, exc)
                return None
            return self._sql
        for attempt in (1, 2):
            try:
                connection = self._usable()
                row = connection.execute(LOCK_AND_HEAD, (self._journal_key,)).fetchone()
            except (psycopg.Error, StorageError) as exc:
                self._rollback()
                broken = self._connection is not None and self._connection.broken
                if attempt == 1 and broken:  # nothing was applied: connect again, once
                    continue
                self._fail_all(batch, exc)
                return None
            head = 0 if row is None or row[0] is None else int(row[0])
            self._sql = PostgresSql(connection, head)
            return self._sql
        return None  # pragma: no cover - the loop returns

    def _apply_all(self, sql: PostgresSql, batch: list[PendingWrite[Any]]) -> bool:
        """The optimistic pass in pipeline mode: every statement is sent without
        waiting for its result, and all results come back with one sync. Checks
        whose answer is only known then (`PostgresSql.deferring`) and any error the
        server reports void the pass; the batch is then applied again, one operation
        at a time in savepoints, where each check has its real answer."""
        applied = False
        try:
            with sql.connection.pipeline():  # leaving it syncs: every result is back
                with sql.deferring():
                    applied = super()._apply_all(sql, batch)
                applied = applied and self._flush_head(sql)
        except psycopg.Error:  # raised as the pipeline ends (not through it: no warning)
            applied = False
        if applied and sql.expectations_met() and self._in_transaction():
            return True
        for pending in batch:
            pending.result = None
        return False

    @staticmethod
    def _flush_head(sql: PostgresSql) -> bool:
        """Send the held-back journal rows; False when the server reported an error of
        an earlier statement meanwhile (any error ends the pass)."""
        try:
            sql.flush_head()
        except psycopg.Error:
            return False
        return True

    def _apply(self, sql: PostgresSql, operation: Operation[Any]) -> Any:
        return apply(sql, operation)

    def _apply_alone(self, sql: PostgresSql, operation: Operation[Any]) -> Any:
        return apply_in_savepoint(sql, operation, self._dsn)

    def _in_transaction(self) -> bool:
        connection = self._connection
        return connection is not None and (
            connection.info.transaction_status == pq.TransactionStatus.INTRANS
        )

    def _commit_transaction(self) -> None:
        assert self._connection is not None
        assert self._sql is not None
        self._sql.flush_head()
        self._connection.commit()

    def _rollback(self) -> None:
        connection = self._connection
        if connection is not None and not connection.closed:
            with contextlib.suppress(psycopg.Error):
                connection.rollback()

    def _storage_error(self, exc: BaseException) -> BaseException:
        return storage_error(exc, self._dsn) if isinstance(exc, psycopg.Error) else exc

    def _after_commit(self) -> None:
        self.notifier.notify()

    def _close_connection(self) -> None:
        self.notifier.close()
        if self._connection is not None:
            self._connection.close()
