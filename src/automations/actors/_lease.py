"""The scheduler lease: which process fires a scope's schedules, and recovery when
one dies or freezes.

A worker polls the lease's file lock; the first to hold it records a new epoch,
reconciles the runs of processes that died (`_reconciling.py`), and leads until it
closes: it fires schedules, takes the commands nobody else is named for, and keeps
reconciling, because a worker without the lease may die at any time.
The kernel frees a dead holder's lock at once, so a standby takes over within a poll.
A frozen holder keeps its lock but stops renewing the lease row; after
`STALE_SECONDS` a standby takes the lease through the row, the epoch fences whatever
the old holder writes when it wakes, and the old holder steps down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

import anyio
from anyio.abc import TaskStatus

from ..model import AutomationError, Scope, StorageError
from ..persistence import (
    AcquireLease,
    Adopted,
    LeaseRow,
    ProcessLock,
    ReleaseLease,
    StorePort,
    TakeStaleLease,
    lease_name,
    shard_lease_name,
    shard_of,
)
from ._dead_owners import is_alive
from ._outage import Outage
from ._renewals import LeaseRenewals
from ._services import Services

__all__ = [
    "POLL_SECONDS",
    "STALE_SECONDS",
    "hold_lease",
    "holder_alive",
    "is_led",
    "leading_lease",
]

POLL_SECONDS = 0.2
"""How often a standby tries the lease lock (real time: this is about processes)."""
STALE_SECONDS = 5.0
"""How long a lease may go unrenewed before a standby takes it (the holder is frozen)."""
_RELEASE_TRIES = 4
"""Tries of a lease's release (0.2, 0.4, 0.8 s apart): the runs handed over with it
would otherwise wait for this process's death."""

log = logging.getLogger("automations.actors")

Adopt = Callable[[Adopted], None]


async def hold_lease(
    services: Services,
    lead: Callable[[int], Awaitable[None]],
    renewals: LeaseRenewals,
    *,
    lease: str | None = None,
    hand_over: Callable[[], tuple[str, ...]] | None = None,
    observe: bool = True,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Compete for the lease (the scope's, or the one named `lease`: a fleet's shard)
    and `lead(epoch)` while holding it, until cancelled. With `observe`, the observer
    is told of the scope's lease (a shard tells of each scope it leads itself).

    Started once the first attempt is decided: a worker that opens alone on a
    database holds the lease (its epoch recorded) by the time it is started. A holder
    whose lease was taken while it was frozen steps down and competes again. With
    `hand_over` (a fleet's cell: its process lives on), a holder that is cancelled
    lets the lease go (`ReleaseLease`), so the next worker leads at once instead of
    waiting for it to look stale; the runs `hand_over()` names (those it does not
    start itself) go with it.
    """
    name = services.lease if lease is None else lease
    lock = services.store.lease_lock(name)
    epoch: int | None = None
    try:
        while True:
            epoch = await _acquire(services, name, lock, task_status)
            task_status = anyio.TASK_STATUS_IGNORED
            log.info("holding the scheduler lease %s at epoch %d", name, epoch)
            if observe:
                _tell(services, held=True)
            try:
                async with anyio.create_task_group() as leading:
                    leading.start_soon(
                        _keep_renewing, renewals, name, lock, epoch, leading.cancel_scope
                    )
                    await lead(epoch)
            finally:
                if observe:
                    _tell(services, held=False)
            log.warning("stepped down: another process took the lease (epoch %d)", epoch)
            epoch = None
            await _let_go(lock)
    finally:
        with anyio.CancelScope(shield=True):
            if hand_over is not None and epoch is not None:
                await _release(services, name, epoch, hand_over)
            await _let_go(lock)


async def _let_go(lock: ProcessLock, *, remove: bool = False) -> None:
    """Release `lock` in a thread: on PostgreSQL that is a round trip to the server,
    which must not hold up the event loop."""
    await anyio.to_thread.run_sync(partial(lock.release, remove=remove))


async def _release(
    services: Services, lease: str, epoch: int, hand_over: Callable[[], tuple[str, ...]]
) -> None:
    """Let the lease go with the runs `hand_over()` names. They are named just before
    the write is submitted: a fire of this process submitted later is refused (the
    release moves the epoch), one submitted before made its run, which is named."""
    release = ReleaseLease(lease, epoch, services.owner, hand_over())
    for attempt in range(_RELEASE_TRIES):
        if attempt:
            await anyio.sleep(0.1 * 2**attempt)
        try:
            await services.store.write(release)  # again after a failure: it is idempotent
            return
        except AutomationError:
            continue
    # The next holder waits for the lease to look stale; the runs named are left to
    # this process's death (then reconciled).
    log.warning("could not hand the scheduler lease over (%d runs with it)", len(release.runs))


def _tell(services: Services, *, held: bool) -> None:
    if services.observer is not None:
        services.observer.lease_changed(services.scope, held)


async def _acquire(
    services: Services, lease: str, lock: ProcessLock, task_status: TaskStatus[None]
) -> int:
    """Poll until this process may lead; the epoch it leads under.

    The file lock is the fast path: free means the holder is dead (or gone). A
    holder that is alive but stopped renewing (frozen) keeps its lock, so a standby
    takes its lease through the row instead, and leads without the lock until the
    old holder steps down and lets it go.
    """
    outage = Outage("compete for the scheduler lease")
    watch = LeaseWatch()
    while True:
        try:
            epoch = await _try_to_lead(services, lease, lock, watch)
        except StorageError as error:
            task_status.started()
            task_status = anyio.TASK_STATUS_IGNORED
            watch.forget()  # the holder could not renew meanwhile either
            await outage.failed(error)
            continue
        outage.succeeded()
        task_status.started()
        task_status = anyio.TASK_STATUS_IGNORED
        if epoch is not None:
            return epoch
        await anyio.sleep(POLL_SECONDS)


async def _try_to_lead(
    services: Services, lease: str, lock: ProcessLock, watch: LeaseWatch
) -> int | None:
    """One look at the lease: the epoch this process leads under now, or None."""
    store, owner = services.store, services.owner
    row = await store.reader.lease(lease)
    stale = row is not None and watch.stale(row)
    if await anyio.to_thread.run_sync(lock.try_acquire):
        reason = await _why_lead(store, owner, row, stale)
        if reason is not None:
            names = tuple(services.executors)
            acquire = AcquireLease(lease, owner, services.now(), _wall_ms(), names)
            epoch: int = await store.write(acquire)
            log.info("took the lease lock (%s)", reason)
            return epoch
        await _let_go(lock)  # a live holder leads without the lock: it took a stale lease
    elif row is not None and row.holder != owner and stale:
        names = tuple(services.executors)
        take = TakeStaleLease(lease, owner, services.now(), row.epoch, _wall_ms(), names)
        taken: int | None = await store.write(take)
        if taken is not None:
            log.warning("took over the lease of %s, which stopped renewing", row.holder)
            return taken
    return None


async def _why_lead(store: StorePort, owner: str, row: LeaseRow | None, stale: bool) -> str | None:
    """Why this process, holding the lease's lock, may lead; None when it may not."""
    if row is None:
        return "no process led before"
    if not row.holder:
        return "its holder let it go"
    if row.holder == owner:
        return "this process led before"
    if stale:
        return f"{row.holder} stopped renewing"
    if not await holder_alive(store, row.holder):
        return f"{row.holder} is gone"
    return None


async def _keep_renewing(
    renewals: LeaseRenewals,
    lease: str,
    lock: ProcessLock,
    epoch: int,
    leading: anyio.CancelScope,
) -> None:
    """Have the lease renewed (and its lock kept) until cancelled; end the leadership
    if another process took it."""
    with renewals.holding(lease, epoch, lock) as lost:
        await lost.wait()
    leading.cancel()


def _wall_ms() -> int:
    return int(time.time() * 1000)


class LeaseWatch:
    """A standby's view of the lease row: stale once it has not changed for
    `STALE_SECONDS` of this process's own clock. Not from the renewal time the row
    holds: that is another host's clock, and a takeover or a renewal may wait for the
    writer (behind a transaction of a host cut off mid-commit) for seconds, so the
    time it carries can be old by the time it commits."""

    def __init__(self) -> None:
        self._seen: tuple[int, str, int] | None = None
        self._since = 0.0

    def forget(self) -> None:
        """Start over: what was seen before an outage says nothing of the holder."""
        self._seen = None

    def stale(self, row: LeaseRow) -> bool:
        now = time.monotonic()
        seen = (row.epoch, row.holder, row.renewed_ms)
        if seen != self._seen:
            self._seen, self._since = seen, now
        return now - self._since > STALE_SECONDS


def _stale(row: LeaseRow) -> bool:
    """A guess from one look (a client asking whether any worker leads)."""
    return _wall_ms() - row.renewed_ms > STALE_SECONDS * 1000


async def holder_alive(store: StorePort, owner: str) -> bool:
    """Whether the process `owner` still holds its liveness lock (not this process,
    reconciling its runs)."""
    return await anyio.to_thread.run_sync(is_alive, store, owner)


async def is_led(store: StorePort, scope: Scope) -> bool:
    """Whether some worker leads `scope`, through its own lease or its shard's."""
    return await leading_lease(store, scope) is not None


async def leading_lease(store: StorePort, scope: Scope) -> LeaseRow | None:
    """The row of the lease `scope` is led under, its own or its shard's (a fleet's);
    None when neither is led."""
    for lease in (lease_name(scope), shard_lease_name(shard_of(scope))):
        led, row = await _led(store, lease)
        if led:
            return row or LeaseRow(0, "", 0)  # its lock is taken, its row not yet written
    return None


async def _led(store: StorePort, lease: str) -> tuple[bool, LeaseRow | None]:
    """Whether some worker holds `lease` (it holds the lease's lock, or leads through
    a lease it took over, a fresh row of a live holder, while the lock is in flux),
    and its row."""
    held = await anyio.to_thread.run_sync(store.lease_lock(lease).held_elsewhere)
    row = await store.reader.lease(lease)
    if held or row is None or not row.holder:  # (never led, or let go)
        return held, row
    return not _stale(row) and await holder_alive(store, row.holder), row
