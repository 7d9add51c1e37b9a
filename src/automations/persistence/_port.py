"""The store as a port: what the actors and the facade may ask of a store.

`actors/` and `api.py` hold a `StorePort`, never the SQLite store itself, so a second
store (PostgreSQL) is one more implementation of these protocols and of the
conformance suite's contract (`tests/persistence/conformance/`). The guarantees the
actors rely on are written here, on the methods that give them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from ..model import Automation, Pruned, Scope, Tombstone
from ._changes import ChangeListener
from ._ops import Operation
from ._pending import PendingWrite
from ._reader import ChangeWatch, Reader
from ._writer import WriterStats

__all__ = ["ProcessLock", "StorePort"]

T = TypeVar("T")


class ProcessLock(Protocol):
    """A lock held by one process at a time, let go the instant its holder dies."""

    @property
    def held(self) -> bool: ...

    def try_acquire(self) -> bool:
        """Take it if nobody holds it; never blocks (may do I/O: call in a thread)."""
        ...

    def held_elsewhere(self) -> bool:
        """Whether another process holds it now."""
        ...

    def release(self, *, remove: bool = False) -> None: ...


class StorePort(Protocol):
    """Durable writes, reads, the change feed, and the locks of leases and liveness."""

    @property
    def location(self) -> str:
        """Where the data is, as a person reads it (for messages only)."""
        ...

    @property
    def writer_stats(self) -> WriterStats:
        """How well writes are batched: commits and operations so far."""
        ...

    @property
    def reader(self) -> Reader:
        """Reads; each sees every write acknowledged before it began."""
        ...

    def submit(self, operation: Operation[T]) -> PendingWrite[T]:
        """Queue `operation` without waiting.

        **Writes commit in the order they were submitted**: a caller may submit a write
        that depends on an earlier one before the earlier one is durable, and a write
        submitted after another one's end is recorded after that end. An operation
        that fails (a compare-and-swap that lost, a fencing epoch that is stale) fails
        alone: the others of its batch commit.
        """
        ...

    async def write(self, operation: Operation[T]) -> T:
        """Submit `operation` and wait until it is durable; its result, or its error."""
        ...

    def together(self) -> AbstractContextManager[None]:
        """The writes submitted in the block commit in one transaction (none is awaited
        inside it)."""
        ...

    def add_commit_listener(self, listener: ChangeListener) -> None:
        """The change feed of this process's commits: `listener(scope, event)` runs on
        the event loop for each event of each durable commit, in journal order, and
        **before any waiter of that commit is woken**, so whatever it publishes is
        durable and whoever was waiting finds it published."""
        ...

    def remove_commit_listener(self, listener: ChangeListener) -> None: ...

    def read_committed(self, read: Callable[[], T]) -> tuple[T, int]:
        """`read()` with the number of this process's commits done before it, so the
        follower can `wait_delivered` them before it takes anything for another's."""
        ...

    async def wait_delivered(self, committed: int) -> None:
        """Wait until this process's first `committed` commits reached its listeners."""
        ...

    def open_watch(self) -> ChangeWatch:
        """A cheap probe of commits by other processes (the cross-process change feed)."""
        ...

    def lease_lock(self, scope: Scope) -> ProcessLock:
        """The lock whose holder leads `scope` (not taken)."""
        ...

    def liveness_lock(self, owner: str) -> ProcessLock:
        """The lock process `owner` holds while it lives (not taken)."""
        ...

    def hold_liveness(self, owner: str) -> AbstractAsyncContextManager[None]:
        """Hold `owner`'s liveness lock while the block runs."""
        ...

    async def create_automation(self, scope: Scope, automation: Automation) -> int: ...

    async def create_automations(
        self, scope: Scope, automations: Sequence[Automation]
    ) -> list[int]: ...

    async def update_automation(
        self, scope: Scope, automation: Automation, *, expected_revision: int
    ) -> int: ...

    async def delete_automation(
        self, scope: Scope, tombstone: Tombstone, *, expected_revision: int, at: datetime
    ) -> int: ...

    async def prune(
        self, scope: Scope, before: datetime, progress: Callable[[Pruned], None] | None = None
    ) -> Pruned:
        """Forget what ended before `before`, a step at a time between other writes."""
        ...
