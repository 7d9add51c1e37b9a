"""The store as a port: what the actors and the facade may ask of a store.

`actors/` and `api.py` hold a `StorePort`, never the SQLite store itself, so a second
store (PostgreSQL) is one more implementation of these protocols and of the
conformance suite's contract (`tests/persistence/conformance/`). The guarantees the
actors rely on are written here, on the methods that give them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from ..model import Automation, Pruned, Run, Scope, Tombstone, Worker
from ._changes import ChangeListener
from ._commands import CommandOutcome, PendingCommand
from ._journal import JournalEntry, Page
from ._leases import LeaseRow
from ._operations import Operation
from ._pending import PendingWrite

__all__ = [
    "ChangeWatch",
    "Durability",
    "ProcessLock",
    "ReaderPort",
    "StorePort",
    "WriterStats",
]

T = TypeVar("T")

Durability = Literal["full", "normal"]
"""`full`: an acknowledged write survives a power cut; `normal`: it survives the
process's death, and a power cut may lose the last writes."""


class WriterStats:
    """Counters for benchmarks and diagnostics: how well writes are batched."""

    __slots__ = ("batches", "observer", "operations")

    def __init__(self) -> None:
        self.batches = 0
        self.operations = 0
        self.observer: Callable[[float, int], None] | None = None
        """Told, in the writer's thread, each commit's seconds (from its first statement
        to its end) and how many operations it held (metrics set it)."""

    def committed(self, seconds: float, operations: int) -> None:
        """Tell the observer of a commit; a failing observer never stops the writer."""
        observer = self.observer
        if observer is not None:
            try:
                observer(seconds, operations)
            except Exception:
                logging.getLogger("automations.persistence").exception("the commit observer failed")


class ReaderPort(Protocol):
    """Reads, scoped by project and directory: a runtime sees only its own automations,
    runs and journal entries, whatever ids or cursors it is handed. Each read sees
    every write acknowledged before it began."""

    async def automation(self, scope: Scope, id: str) -> Automation | None: ...

    async def automations(self, scope: Scope) -> list[Automation]: ...

    async def automations_by_ids(self, scope: Scope, ids: Iterable[str]) -> list[Automation]:
        """Those of `ids` that exist in `scope`, in no particular order."""
        ...

    async def automation_by_key(self, scope: Scope, key: str) -> Automation | None:
        """The automation of `scope` created with idempotency key `key`, if any."""
        ...

    async def run_by_id(self, scope: Scope, id: str) -> Run | None: ...

    async def runs(
        self, scope: Scope, automation_id: str, *, limit: int, cursor: str | None
    ) -> Page:
        """Newest first; an unknown or foreign cursor is an empty page."""
        ...

    async def journal(self, scope: Scope, after: int, limit: int) -> list[JournalEntry]: ...

    async def run_history(self, scope: Scope, run_id: str) -> list[tuple[datetime, Run]]:
        """Every revision of a run the journal still holds, oldest first, each with the
        time it was written: its timeline of transitions."""
        ...

    async def last_seq(self, scope: Scope | None = None) -> int:
        """The journal's last sequence number, of every scope or of one."""
        ...

    async def all_journal(self, after: int, limit: int) -> list[JournalEntry]:
        """Entries of every scope after `after` (the journal follower's view)."""
        ...

    async def executed_runs(self, scope: Scope, automation_id: str) -> int: ...

    async def owners(self, scope: Scope) -> list[str]:
        """Processes that own active runs of `scope` (for reconciliation)."""
        ...

    async def owners_by_scope(self) -> dict[Scope, list[str]]:
        """`owners` of every scope with active runs, in one read (a fleet worker's
        cells reconcile from it)."""
        ...

    async def run_owner(self, scope: Scope, run_id: str) -> str | None:
        """The process executing an active run; None when it is not active."""
        ...

    async def commands(
        self, scope: Scope, after: int, owner: str, *, leading: bool, limit: int
    ) -> list[PendingCommand]:
        """Pending commands after id `after` for `owner`, and those for the lease holder
        when `leading`."""
        ...

    async def command_scopes(self, after: int, upto: int) -> list[Scope]:
        """The scopes of the pending commands with ids in (`after`, `upto`]: a fleet
        worker wakes only their inboxes when new commands come."""
        ...

    async def command_outcome(self, id: int) -> CommandOutcome | None:
        """None while pending; `LookupError` when the command is gone."""
        ...

    async def lease(self, lease: str) -> LeaseRow | None:
        """The lease named `lease` (`lease_name`, `shard_lease_name`): who holds it, at
        which epoch, last renewed when."""
        ...

    async def leases(self) -> dict[str, LeaseRow]:
        """Every lease row, the scopes' (`lease_name`) and the shards'
        (`shard_lease_name`), by name: the one read of the leases, for the balancing
        of a fleet."""
        ...

    async def checkpoint(self, run_id: str) -> bytes | None:
        """The latest checkpoint of a run (JSON), if it saved one."""
        ...

    async def answer(self, scope: Scope, run_id: str, blocker_id: str) -> bytes | None:
        """The stored answer to a blocker (JSON), if there is one."""
        ...

    async def due(self, scope: Scope, until_ms: int, limit: int) -> list[tuple[str, int]]:
        """(automation id, next fire ms) of automations due by `until_ms`, soonest first."""
        ...

    async def due_in_shards(
        self, shards: Sequence[int], until_ms: int, limit: int
    ) -> list[tuple[Scope, str, int]]:
        """(scope, automation id, next fire ms) of the automations of `shards`
        (`shard_of`) due by `until_ms`, soonest first: what a holder of those shards'
        leases fires."""
        ...

    async def shard_scopes(self, shards: Sequence[int]) -> list[Scope]:
        """The scopes with automations in `shards`, in order."""
        ...

    async def ids_with_prefix(
        self, scope: Scope, kind: Literal["automation", "run"], prefix: str, limit: int
    ) -> list[str]:
        """Ids of the scope's automations (or runs) that start with `prefix`, in order."""
        ...

    async def scopes(self) -> list[tuple[Scope, int]]:
        """Every scope that has automations, with how many, by project and directory:
        the one read across scopes, so that a person can find theirs."""
        ...

    async def workers(self, at: datetime) -> list[Worker]:
        """The worker processes whose last heartbeat has not expired at `at`, by id
        (every scope's: workers are of the database). A worker whose process died is
        listed until its expiry; `actors.live_workers` also asks its liveness lock."""
        ...


class ChangeWatch(Protocol):
    """The cross-process change feed, as a cheap probe the follower polls."""

    def changed(self) -> bool:
        """Whether another process may have committed since the last call. Cheap and
        non-blocking: it may run on the event loop."""
        ...

    def heads(self) -> tuple[int, int]:
        """(journal head, last command id). Blocking: call it in a worker thread."""
        ...

    def close(self) -> None: ...


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
    def reader(self) -> ReaderPort:
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

    def lease_lock(self, lease: str) -> ProcessLock:
        """The lock of the lease named `lease`, whose holder leads (not taken)."""
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
