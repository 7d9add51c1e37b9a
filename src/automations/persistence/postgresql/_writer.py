"""The group-commit writer: one thread owns the write connection (as on SQLite).

Callers on the event loop submit operations without a thread hop; what one round of
the loop's callbacks submits is handed to the thread once the round is done. The
thread takes everything pending and commits it in one transaction: one WAL flush
for the batch, then one call back into the event loop that tells the listeners what
committed and wakes every waiter.

**The journal lock.** Each batch first takes a transaction-level advisory lock (the
journal lock of the schema), held until its COMMIT. So the batches of every process
are serialized, and sequence numbers (journal seqs and command ids, from identity
columns) are drawn in commit order: when a reader sees seq n, every entry below n has
committed or never will (a rolled-back one leaves a gap, as a pruned one does). A
follower that reads `seq > last` therefore never skips an entry that commits late.
The price is one writer at a time per database, which group commit amortises: each
batch costs one lock round trip.

A failed operation fails alone: the batch is applied optimistically first; when an
operation fails, the transaction is rolled back and the batch applied again with each
operation in its own SAVEPOINT. A broken connection fails its batch with a
`StorageError` and is opened again for the next one. Should anything escape the
thread's loop (a bug), every write queued then and after fails at once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
import psycopg
from psycopg import pq

from ...model import StorageError, StoreClosed
from ...runtime import LoopCaller
from .._changes import ChangeListener, events_committed
from .._operations import Operation
from .._pending import PendingWrite
from .._port import Durability, WriterStats
from ._apply import apply, apply_in_savepoint
from ._connection import Connection, connect, redacted, storage_error

__all__ = ["GroupCommitWriter"]

log = logging.getLogger("automations.persistence")

MAX_BATCH = 2_000
T = TypeVar("T")
Item = PendingWrite[Any] | list[PendingWrite[Any]]
_STOP = object()


class GroupCommitWriter:
    """Owns a write connection in a thread of its own from `start()` until `close()`."""

    def __init__(self, dsn: str, durability: Durability, journal_key: int) -> None:
        self._dsn = dsn
        self._durability = durability
        self._journal_key = journal_key
        self._connection: Connection | None = None
        self._queue: queue.SimpleQueue[Item | object] = queue.SimpleQueue()
        self._caller: LoopCaller | None = None
        self._new_event: Callable[[], anyio.Event] = anyio.Event
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failure: BaseException | None = None
        self._listeners: list[ChangeListener] = []
        self._held: list[PendingWrite[Any]] | None = None
        self._outgoing: list[Item] = []
        self._commit_lock = threading.Lock()
        self._committed = 0
        self._delivered = 0
        self._delivery: anyio.Event | None = None
        self._optimistic = True
        self.stats = WriterStats()

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        self._listeners.remove(listener)

    def start(self, connection: Connection) -> None:
        """Start the thread on `connection`; call from the loop whose tasks await writes."""
        self._connection = connection
        self._caller = LoopCaller()
        self._new_event = type(anyio.Event())
        self._thread = threading.Thread(
            target=self._run, name=f"automations-writer:{redacted(self._dsn)}", daemon=True
        )
        self._thread.start()

    def submit(self, operation: Operation[T]) -> PendingWrite[T]:
        if self._closed:
            raise StoreClosed("the store is closed; open a new runtime to write")
        if self._failure is not None:
            raise self._stopped_error()
        pending = PendingWrite(operation, self._new_event)
        if self._held is not None:
            pending.held = True
            self._held.append(pending)
        else:
            self._hand_over(pending)
        return pending

    def _hand_over(self, item: Item) -> None:
        assert self._caller is not None
        if not self._outgoing:
            self._caller.call_soon_here(self._flush)
        self._outgoing.append(item)

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        for item in outgoing:
            self._queue.put(item)
        if self._failure is not None:
            self._fail_queued()

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Writes submitted in the block commit in one transaction (see the port)."""
        outer = self._held
        if outer is None:
            self._held = []
        try:
            yield
        finally:
            if outer is None:
                held, self._held = self._held, None
                for pending in held or ():
                    pending.held = False
                if held:
                    self._hand_over(held)

    async def write(self, operation: Operation[T]) -> T:
        return await self.submit(operation).outcome()

    def read_committed(self, read: Callable[[], T]) -> tuple[T, int]:
        """`read()` while no commit of this writer is under way, with how many batches
        it had committed (see `sqlite/_writer.py`)."""
        with self._commit_lock:
            return read(), self._committed

    async def wait_delivered(self, committed: int) -> None:
        while self._delivered < committed:
            if self._delivery is None:
                self._delivery = self._new_event()
            await self._delivery.wait()

    async def close(self) -> None:
        """Finish every submitted write, stop the thread, close the connection."""
        if self._closed:
            return
        self._closed = True
        self._flush()
        self._queue.put(_STOP)
        thread = self._thread
        with anyio.CancelScope(shield=True):
            if thread is not None:
                await anyio.to_thread.run_sync(thread.join)
            if self._connection is not None:
                await anyio.to_thread.run_sync(self._connection.close)

    # -- the writer thread ---------------------------------------------------------

    def _run(self) -> None:
        batch: list[PendingWrite[Any]] = []
        before = self._committed
        try:
            stopping = False
            while not stopping:
                batch = []
                item = self._queue.get()
                while True:
                    if item is _STOP:
                        stopping = True
                    elif isinstance(item, PendingWrite):
                        batch.append(item)
                    elif isinstance(item, list):  # submitted together: never split
                        batch.extend(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    before = self._committed
                    started = time.perf_counter()
                    self._commit(batch)
                    committed = self._committed > before
                    if committed:
                        self.stats.committed(time.perf_counter() - started, len(batch))
                    self._wake(batch, committed)
                    batch = []
        except BaseException as exc:  # a bug, say: no write may wait on a dead thread
            self._die(exc, batch, self._committed > before)

    def _die(self, cause: BaseException, batch: list[PendingWrite[Any]], committed: bool) -> None:
        self._failure = cause
        log.critical(
            "the database writer thread for %s stopped; every write fails until the runtime "
            "is opened again",
            redacted(self._dsn),
            exc_info=cause,
        )
        with contextlib.suppress(Exception):
            self._rollback()
        for pending in () if committed else batch:
            pending.result, pending.error = None, self._stopped_error()
        assert self._caller is not None
        self._caller.call_soon(self._deliver, batch, committed)
        self._caller.call_soon(self._flush)

    def _fail_queued(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._queue.get_nowait()
                for pending in item if isinstance(item, list) else [item]:
                    if isinstance(pending, PendingWrite):
                        pending.error = self._stopped_error()
                        pending._complete()

    def _stopped_error(self) -> StorageError:
        error = StorageError(
            f"the database writer thread for {redacted(self._dsn)} stopped unexpectedly "
            f"({self._failure!r}); close the runtime and open it again"
        )
        error.__cause__ = self._failure
        return error

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

    def _begin(self, batch: list[PendingWrite[Any]]) -> Connection | None:
        """Open the batch's transaction with the journal lock; None (the batch failed)
        when the server cannot be reached. A connection found broken here (the server
        restarted while the writer was idle) is replaced at once, the batch unharmed."""
        for attempt in (1, 2):
            try:
                connection = self._usable()
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (self._journal_key,))
            except (psycopg.Error, StorageError) as exc:
                self._rollback()
                broken = self._connection is not None and self._connection.broken
                if attempt == 1 and broken:  # nothing was applied: connect again, once
                    continue
                self._fail_all(batch, exc)
                return None
            return connection
        return None  # pragma: no cover - the loop returns

    def _commit(self, batch: list[PendingWrite[Any]]) -> None:
        if self._optimistic:
            connection = self._begin(batch)
            if connection is None:
                return
            if self._apply_all(connection, batch):
                self._finish_commit(batch)
                return
            self._rollback()
        self._optimistic = True
        connection = self._begin(batch)
        if connection is None:
            return
        for pending in batch:
            try:
                pending.result = apply_in_savepoint(connection, pending.operation, self._dsn)
            except Exception as exc:  # handed to the waiter, never lost
                pending.error = exc
                self._optimistic = False
            if connection.info.transaction_status != pq.TransactionStatus.INTRANS:
                self._fail_batch_after(pending, batch)  # the link broke mid-batch
                self._rollback()
                return
        self._finish_commit(batch)

    def _apply_all(self, connection: Connection, batch: list[PendingWrite[Any]]) -> bool:
        """Apply every operation without savepoints; False (results void) when one failed."""
        try:
            for pending in batch:
                pending.result = apply(connection, pending.operation)
        except Exception:
            for pending in batch:
                pending.result = None
            return False
        return True

    def _finish_commit(self, batch: list[PendingWrite[Any]]) -> None:
        assert self._connection is not None
        try:
            with self._commit_lock:
                self._connection.commit()
                self._committed += 1
        except psycopg.Error as exc:
            self._rollback()
            self._fail_all(batch, exc)
        else:
            self.stats.batches += 1
            self.stats.operations += len(batch)

    def _fail_batch_after(self, culprit: PendingWrite[Any], batch: list[PendingWrite[Any]]) -> None:
        for pending in batch:
            pending.result = None
            if pending is not culprit:
                pending.error = StorageError(
                    f"rolled back with its batch because another write failed: {culprit.error}"
                )

    def _rollback(self) -> None:
        connection = self._connection
        if connection is not None and not connection.closed:
            with contextlib.suppress(psycopg.Error):
                connection.rollback()

    def _fail_all(self, batch: list[PendingWrite[Any]], exc: BaseException) -> None:
        for pending in batch:  # one error object per waiter: tracebacks must not mix
            pending.result = None
            error = storage_error(exc, self._dsn) if isinstance(exc, psycopg.Error) else exc
            pending.error = error if error is not exc or len(batch) == 1 else StorageError(str(exc))

    def _wake(self, batch: list[PendingWrite[Any]], committed: bool) -> None:
        assert self._caller is not None
        self._caller.call_soon(self._deliver, batch, committed)

    def _deliver(self, batch: list[PendingWrite[Any]], committed: bool) -> None:
        """On the event loop: tell listeners what committed, then wake the writers."""
        if committed:
            for pending in batch:
                if pending.error is None:
                    for scope, event in events_committed(pending.operation, pending.result):
                        for listener in self._listeners:
                            try:
                                listener(scope, event)
                            except Exception:  # a listener must not keep writers waiting
                                log.exception("a commit listener failed")
            self._delivered += 1
            delivery, self._delivery = self._delivery, None
            if delivery is not None:
                delivery.set()
        for pending in batch:
            pending._complete()
