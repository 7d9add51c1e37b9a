"""The scheduler lease: which process fires schedules, and recovery when one dies.

A worker polls the lease's file lock; the first to hold it records a new epoch,
reconciles the runs of processes that died (their liveness locks can be taken), and
runs the scheduler until it closes. The kernel frees a dead holder's lock at once, so
a standby takes over within one poll.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from ..persistence import (
    AcquireLease,
    FileLock,
    ReconcileRuns,
    lease_lock_path,
    liveness_lock_path,
)
from ._services import Services

__all__ = ["POLL_SECONDS", "hold_lease", "reconcile_dead_owners"]

POLL_SECONDS = 0.2
"""How often a standby tries the lease lock (real time: this is about processes)."""

log = logging.getLogger("automations.actors")


async def hold_lease(services: Services, lead: Callable[[int], Awaitable[None]]) -> None:
    """Wait for the lease, then `lead(epoch)` until cancelled; release it on the way out."""
    lock = FileLock(lease_lock_path(services.store.path))
    try:
        # Polling is the design: a kernel lock has no wake-up to wait on.
        while not await anyio.to_thread.run_sync(lock.try_acquire):  # noqa: ASYNC110
            await anyio.sleep(POLL_SECONDS)
        epoch: int = await services.store.write(AcquireLease(services.owner, services.now()))
        log.info("holding the scheduler lease at epoch %d", epoch)
        await reconcile_dead_owners(services)
        await lead(epoch)
    finally:
        lock.release()


async def reconcile_dead_owners(services: Services) -> int:
    """End the active runs of every process whose liveness lock can be taken."""
    reconciled = 0
    for owner in await services.store.reader.owners():
        if owner == services.owner:
            continue
        lock = FileLock(liveness_lock_path(services.store.path, owner))
        if not await anyio.to_thread.run_sync(lock.try_acquire):
            continue  # alive: its runs are its own
        try:
            ended = await services.store.write(ReconcileRuns(owner, services.now()))
            reconciled += len(ended)
            log.info("reconciled %d runs of %s, which is gone", len(ended), owner)
        finally:
            lock.release(remove=True)
    return reconciled
