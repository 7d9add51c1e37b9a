"""The liveness locks of dead processes that this process holds while it reconciles
their runs.

Taking a process's liveness lock proves it dead, and reconciling holds the lock
meanwhile. A fleet worker's cells reconcile one dead process's runs in their scopes
at the same time, but a lock is held once per process: a second take from the same
process fails as if the dead one lived (a second `flock` of the file; a second
holder of the key on the store's one lock session), and the cell would leave the
runs of its scope for a later round, after its scheduler has begun firing. So the
cells share one hold, let go when the last of them is done; and while it is held
here, the dead process is dead to this process's own look at who lives (the
planner's, the lease's), not alive because this process holds its lock: the look
and the taking or letting go are made one at a time in the process (`_mutex`), so
a look never finds the lock held by a reconciling this process began meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from ..persistence import ProcessLock, StorePort

__all__ = ["holding_dead", "is_alive"]


class _Hold:
    __slots__ = ("decided", "holders", "lock", "taken")

    def __init__(self, lock: ProcessLock) -> None:
        self.lock = lock
        self.taken = False
        self.holders = 0
        self.decided = anyio.Event()


_holds: dict[str, _Hold] = {}
"""By owner id (an id names one process, whatever the store); on the event loop."""
_locked: set[str] = set()
"""The owners whose liveness lock this process holds to reconcile; under `_mutex`."""
_mutex = threading.Lock()


def is_alive(store: StorePort, owner: str) -> bool:
    """Whether the process `owner` holds its liveness lock: held by this process to
    reconcile its runs, it is dead (blocking: in a thread)."""
    with _mutex:
        return owner not in _locked and store.liveness_lock(owner).held_elsewhere()


def _take(lock: ProcessLock, owner: str) -> bool:
    with _mutex:
        if not lock.try_acquire():
            return False
        _locked.add(owner)
        return True


def _let_go(lock: ProcessLock, owner: str) -> None:
    with _mutex:
        _locked.discard(owner)
        lock.release(remove=True)


@asynccontextmanager
async def holding_dead(store: StorePort, owner: str) -> AsyncIterator[bool]:
    """Hold `owner`'s liveness lock for the block if that process is dead (its lock
    could be taken, here or by another task of this process); yields whether it is."""
    hold = _holds.get(owner)
    if hold is None:
        hold = _holds[owner] = _Hold(store.liveness_lock(owner))
        try:
            with anyio.CancelScope(shield=True):  # a lock taken must be known to be
                hold.taken = await anyio.to_thread.run_sync(_take, hold.lock, owner)
        finally:
            hold.decided.set()
            if not hold.taken:
                del _holds[owner]
    else:
        await hold.decided.wait()
    if not hold.taken:
        yield False
        return
    hold.holders += 1
    try:
        yield True
    finally:
        hold.holders -= 1
        if hold.holders == 0:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_let_go, hold.lock, owner)
            # A task that joined during the release went on without the lock: its
            # holder is dead, and the lease fences what it writes.
            if _holds.get(owner) is hold and hold.holders == 0:
                del _holds[owner]
