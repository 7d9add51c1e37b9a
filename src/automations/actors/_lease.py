"""The scheduler lease: which process fires a scope's schedules, and recovery when
one dies.

A worker polls the lease's file lock; the first to hold it records a new epoch,
reconciles the runs of processes that died (their liveness locks can be taken), and
leads until it closes: it fires schedules, takes the commands nobody else is named
for, and keeps reconciling, because a worker without the lease may die at any time.
The kernel frees a dead holder's lock at once, so a standby takes over within a poll.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskStatus

from ..model import AutomationError
from ..persistence import (
    AcquireLease,
    Adopted,
    FileLock,
    Reconciled,
    ReconcileRuns,
    lease_lock_path,
    lease_name,
    liveness_lock_path,
)
from ._services import Services

__all__ = [
    "POLL_SECONDS",
    "RECONCILE_SECONDS",
    "hold_lease",
    "keep_reconciling",
    "lease_lock",
    "reconcile_dead_owners",
]

POLL_SECONDS = 0.2
"""How often a standby tries the lease lock (real time: this is about processes)."""
RECONCILE_SECONDS = 2.0
"""How often the lease holder looks for processes that died while it leads."""

log = logging.getLogger("automations.actors")

Adopt = Callable[[Adopted], None]


def lease_lock(services: Services) -> FileLock:
    """The file lock of this runtime's scope's lease (not taken)."""
    return FileLock(lease_lock_path(services.store.path, lease_name(services.scope)))


async def hold_lease(
    services: Services,
    lead: Callable[[int], Awaitable[None]],
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Wait for the lease, then `lead(epoch)` until cancelled; release it on the way out.

    Started once the first attempt is decided: a worker that opens alone on a
    database holds the lease (its epoch recorded) by the time it is started.
    """
    lock = lease_lock(services)
    try:
        if not await anyio.to_thread.run_sync(lock.try_acquire):
            task_status.started()
            # Polling is the design: a kernel lock has no wake-up to wait on.
            while not await anyio.to_thread.run_sync(lock.try_acquire):  # noqa: ASYNC110
                await anyio.sleep(POLL_SECONDS)
            task_status = anyio.TASK_STATUS_IGNORED
        acquire = AcquireLease(services.scope, services.owner, services.now())
        epoch: int = await services.store.write(acquire)
        log.info("holding the scheduler lease at epoch %d", epoch)
        task_status.started()
        await lead(epoch)
    finally:
        lock.release()


async def reconcile_dead_owners(services: Services, adopt: Adopt) -> int:
    """End or adopt the active runs of each process whose liveness lock can be taken;
    how many runs changed."""
    reconciled = 0
    for owner in await services.store.reader.owners(services.scope):
        if owner == services.owner:
            continue
        lock = FileLock(liveness_lock_path(services.store.path, owner))
        if not await anyio.to_thread.run_sync(lock.try_acquire):
            continue  # alive: its runs are its own
        try:
            operation = ReconcileRuns(
                owner,
                services.scope,
                services.owner,
                services.now(),
                services.resumable_executors,
            )
            result: Reconciled = await services.store.write(operation)
        finally:
            lock.release(remove=True)
        reconciled += len(result.changed)
        log.info(
            "reconciled %d runs of %s, which is gone (%d resumed here)",
            len(result.changed),
            owner,
            len(result.adopted),
        )
        for adopted in result.adopted:
            adopt(adopted)
    return reconciled


async def keep_reconciling(services: Services, adopt: Adopt) -> None:
    """Reconcile the runs of processes that die while this one leads, until cancelled."""
    while True:
        await anyio.sleep(RECONCILE_SECONDS)
        try:
            await reconcile_dead_owners(services, adopt)
        except AutomationError:  # storage trouble: try again next round
            log.exception("could not reconcile the runs of dead processes")
