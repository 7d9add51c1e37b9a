"""The group-commit writer: one thread owns the write connection, whatever the database.

Callers on the event loop submit operations without a thread hop; what one round of
the loop's callbacks submits is handed to the thread's queue once the round is done,
so the thread wakes once for all of it (and does not take the interpreter's lock from
the tasks still submitting). The thread takes everything pending and commits it once,
which is one flush for the whole batch, then wakes every waiter of the batch with a
single call back into the event loop. Throughput therefore grows with the number of
concurrent writers, while each acknowledged write is as durable as a lone commit.

A failed operation (a compare-and-swap that lost, say) must fail alone. The batch is
applied optimistically first, without savepoints; only when an operation fails is the
transaction rolled back and the batch applied again with each operation in its own
SAVEPOINT. Failures are rare, and savepoints cost two statements per operation.

Should anything escape the thread's loop (a bug, say), the batch it held and every write
queued behind it fail with one clear error, and later writes are refused at once: no
write waits on a thread that is gone.

Each store says how a transaction begins, applies, commits and rolls back on its
connection (`GroupCommit`'s abstract methods); the rest is here, once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import anyio

from ..model import StorageError, StoreClosed
from ..runtime import LoopCaller
from ._changes import ChangeListener, events_committed
from ._operations import Operation
from ._pending import PendingWrite
from ._port import WriterStats

__all__ = ["MAX_BATCH", "GroupCommit"]

log = logging.getLogger("automations.persistence")

MAX_BATCH = 2_000

T = TypeVar("T")
S = TypeVar("S")
"""The store's connection, as its hooks use it."""

_STOP = object()
Item = PendingWrite[Any] | list[PendingWrite[Any]]


class GroupCommit(ABC, Generic[S]):
    """Owns a write connection in a thread of its own from `start()` until `close()`;
    `name` says which database in logs and errors."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[Item | object] = queue.SimpleQueue()
        self._caller: LoopCaller | None = None
        self._new_event: Callable[[], anyio.Event] = anyio.Event
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failure: BaseException | None = None
        """What ended the writer thread unexpectedly; every write then fails at once."""
        self._listeners: list[ChangeListener] = []
        self._held: list[PendingWrite[Any]] | None = None
        """Writes submitted inside `together()`, queued as one item when it ends."""
        self._outgoing: list[Item] = []
        """Submitted on the loop, handed to the thread once the loop's current round of
        callbacks is done: the writer wakes once for all of them, and does not take
        the interpreter lock from the tasks that are still submitting."""
        self._commit_lock = threading.Lock()
        self._committed = 0
        """Batches committed (written by the writer thread, under the commit lock)."""
        self._delivered = 0
        """Committed batches handed back to the event loop, their listeners called."""
        self._delivery: anyio.Event | None = None
        self._optimistic = True
        """False right after a batch had a failing operation: the next one is applied
        with savepoints at once, so a run of conflicts does not cost every batch twice."""
        self.stats = WriterStats()

    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener(scope, event)` on the event loop for each event of each durable
        commit (the change feed, see `_changes`).

        Listeners run in commit order, before any writer is woken, so whatever they
        publish is durable and in journal order.
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        self._listeners.remove(listener)

    def start(self) -> None:
        """Start the thread; call from the event loop whose tasks will await writes."""
        self._caller = LoopCaller()
        # The backend's concrete Event class, looked up once instead of per write.
        self._new_event = type(anyio.Event())
        self._thread = threading.Thread(
            target=self._run, name=f"automations-writer:{self._name}", daemon=True
        )
        self._thread.start()

    def submit(self, operation: Operation[T]) -> PendingWrite[T]:
        """Queue `operation` without waiting; await `outcome()` on what this returns."""
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
        if self._caller is None:  # not started on a loop
            self._queue.put(item)
            return
        if not self._outgoing:
            self._caller.call_soon_here(self._flush)
        self._outgoing.append(item)

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        for item in outgoing:
            self._queue.put(item)
        if self._failure is not None:  # nobody serves the queue any more
            self._fail_queued()

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Writes submitted in the block commit in one transaction, each still failing
        alone: a crash leaves all of them or none. The block must not await: its writes
        reach the writer only when it ends (awaiting one inside raises RuntimeError)."""
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
        """Apply `operation` durably; its result, or the error that rolled it back."""
        return await self.submit(operation).outcome()

    def read_committed(self, read: Callable[[], T]) -> tuple[T, int]:
        """Call `read` (blocking; any thread) while no commit is under way; with what it
        returns, how many batches this writer had committed. A read of the database
        then saw exactly those batches of this writer, so once they are delivered
        (`wait_delivered`) whatever it saw of this process is known to the listeners."""
        with self._commit_lock:
            return read(), self._committed

    async def wait_delivered(self, committed: int) -> None:
        """Wait until the first `committed` batches were handed back to the event loop."""
        while self._delivered < committed:
            if self._delivery is None:
                self._delivery = self._new_event()
            await self._delivery.wait()

    async def close(self) -> None:
        """Finish every submitted write, then stop the thread and close the connection."""
        if self._closed:
            return
        self._closed = True
        self._flush()
        self._queue.put(_STOP)
        thread = self._thread
        with anyio.CancelScope(shield=True):
            if thread is not None:
                await anyio.to_thread.run_sync(thread.join)
            await anyio.to_thread.run_sync(self._close_connection)

    # -- the writer thread ---------------------------------------------------------

    def _run(self) -> None:
        """Commit batches until `close()`; whatever escapes ends the thread in `_die`."""
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
                    before, started = self._committed, time.perf_counter()
                    self._commit(batch)
                    committed = self._committed > before
                    if committed:
                        self.stats.committed(time.perf_counter() - started, len(batch))
                    self._wake(batch, committed)
                    batch = []
                    if committed:
                        self._after_commit()
        except BaseException as exc:  # a bug, say: no write may wait on a dead thread
            self._die(exc, batch, self._committed > before)

    def _die(self, cause: BaseException, batch: list[PendingWrite[Any]], committed: bool) -> None:
        """The thread ends on `cause`: refuse new writes, fail the batch it held (unless
        it committed: its outcomes stand), then on the loop all that was queued."""
        self._failure = cause
        log.critical(
            "the database writer thread for %s stopped; every write fails until the runtime "
            "is opened again",
            self._name,
            exc_info=cause,
        )
        with contextlib.suppress(Exception):
            self._rollback()  # other connections must not wait for its write lock
        for pending in () if committed else batch:
            pending.result, pending.error = None, self._stopped_error()
        assert self._caller is not None
        self._caller.call_soon(self._deliver, batch, committed)
        self._caller.call_soon(self._flush)  # with `_failure` set, it fails the queue

    def _fail_queued(self) -> None:
        """On the event loop: fail every write left in the dead thread's queue."""
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._queue.get_nowait()
                for pending in item if isinstance(item, list) else [item]:
                    if isinstance(pending, PendingWrite):  # not `_STOP`
                        pending.error = self._stopped_error()
                        pending._complete()

    def _stopped_error(self) -> StorageError:
        """One error per waiter (tracebacks must not mix), the thread's cause chained."""
        error = StorageError(
            f"the database writer thread for {self._name} stopped unexpectedly "
            f"({self._failure!r}); close the runtime and open it again"
        )
        error.__cause__ = self._failure
        return error

    def _commit(self, batch: list[PendingWrite[Any]]) -> None:
        if self._optimistic:
            sql = self._begin(batch)
            if sql is None:
                return
            if self._apply_all(sql, batch):
                self._finish_commit(batch)
                return
            self._rollback()
        self._optimistic = True
        sql = self._begin(batch)
        if sql is None:
            return
        for pending in batch:
            try:
                pending.result = self._apply_alone(sql, pending.operation)
            except Exception as exc:  # handed to the waiter, never lost
                pending.error = exc
                self._optimistic = False
            if not self._in_transaction():  # the database ended it (a full disk, a cut link)
                self._fail_batch_after(pending, batch)
                self._rollback()
                return
        self._finish_commit(batch)

    def _apply_all(self, sql: S, batch: list[PendingWrite[Any]]) -> bool:
        """Apply every operation without savepoints; False (results void) when one failed."""
        try:
            for pending in batch:
                pending.result = self._apply(sql, pending.operation)
        except Exception:
            for pending in batch:
                pending.result = None
            return False
        return True

    def _finish_commit(self, batch: list[PendingWrite[Any]]) -> None:
        try:
            with self._commit_lock:
                self._commit_transaction()
                self._committed += 1
        except Exception as exc:
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

    def _fail_all(self, batch: list[PendingWrite[Any]], exc: BaseException) -> None:
        for pending in batch:  # one error object per waiter: tracebacks must not mix
            pending.result = None
            error = self._storage_error(exc)
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

    # -- what each store says ------------------------------------------------------

    @abstractmethod
    def _begin(self, batch: list[PendingWrite[Any]]) -> S | None:
        """Open the batch's transaction (writer thread); None when it could not, after
        failing the batch (`_fail_all`)."""

    @abstractmethod
    def _apply(self, sql: S, operation: Operation[Any]) -> Any:
        """Apply `operation` in the open transaction."""

    @abstractmethod
    def _apply_alone(self, sql: S, operation: Operation[Any]) -> Any:
        """Apply `operation` in a SAVEPOINT of its own, undone alone when it fails."""

    @abstractmethod
    def _in_transaction(self) -> bool:
        """Whether the batch's transaction is still open."""

    @abstractmethod
    def _commit_transaction(self) -> None:
        """COMMIT; raises when it did not."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll back whatever is open; never raises."""

    @abstractmethod
    def _storage_error(self, exc: BaseException) -> BaseException:
        """The project's error for a driver's `exc` (a new object); others as they are."""

    def _after_commit(self) -> None:
        """After a batch committed and its waiters were woken (writer thread): tell
        other processes, where the store can (PostgreSQL's NOTIFY)."""

    def _close_connection(self) -> None:
        """Close the write connection once the thread is gone (blocking)."""
