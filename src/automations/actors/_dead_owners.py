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
The runs a holder handed over with its lease (`HANDED_OVER`) are no process's: dead,
with no lock to hold.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from ..persistence import HANDED_OVER, ProcessLock, StorePort

__all__ = ["holding_dead", "is_alive"]


class _Hold:
    __slots__ = ("decided", "holders", "lock", "released", "releasing", "taken")

    def __init__(self, lock: ProcessLock) -> None:
        self.lock = lock
        self.taken = False
        self.holders = 0
        self.releasing = False
        self.decided = anyio.Event()
        self.released = anyio.Event()


_holds: dict[str, _Hold] = {}
"""By owner id, on the event loop. An id names one runtime of one process."""
_locked: dict[str, _Hold] = {}
"""The holds of a liveness lock this process has taken, by owner; under `_mutex`."""
_mutex = threading.Lock()


def is_alive(store: StorePort, owner: str) -> bool:
    """Whether the process `owner` holds its liveness lock: held by this process to
    reconcile its runs, it is dead (blocking: in a thread)."""
    if owner == HANDED_OVER:
        return False
    with _mutex:
        return owner not in _locked and store.liveness_lock(owner).held_elsewhere()


def _take(hold: _Hold, owner: str) -> bool:
    with _mutex:
        if not hold.lock.try_acquire():
            return False
        _locked[owner] = hold
        return True


def _let_go(hold: _Hold, owner: str) -> None:
    with _mutex:
        if _locked.get(owner) is hold:
            del _locked[owner]
        hold.lock.release(remove=True)


async def _joined(store: StorePort, owner: str) -> _Hold:
    """The hold of `owner`'s lock this task shares, decided: a new one if none is
    there, or once the one there is let go (it is not joined while it is)."""
    while (hold := _holds.get(owner)) is not None:
        await hold.decided.wait()
        if not hold.releasing:
            return hold
        await hold.released.wait()
    hold = _holds[owner] = _Hold(store.liveness_lock(owner))
    try:
        with anyio.CancelScope(shield=True):  # a lock taken must be known to be
            hold.taken = await anyio.to_thread.run_sync(_take, hold, owner)
    finally:
        hold.decided.set()
        if not hold.taken:
            del _holds[owner]
    return hold


@asynccontextmanager
async def holding_dead(store: StorePort, owner: str) -> AsyncIterator[bool]:
    """Hold `owner`'s liveness lock for the block if that process is dead (its lock
    could be taken, here or by another task of this process); yields whether it is."""
    if owner == HANDED_OVER:
        yield True
        return
    hold = await _joined(store, owner)
    if not hold.taken:
        yield False
        return
    hold.holders += 1
    try:
        yield True
    finally:
        hold.holders -= 1
        if hold.holders == 0:
            hold.releasing = True
            try:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_let_go, hold, owner)
            finally:
                if _holds.get(owner) is hold:
                    del _holds[owner]
                hold.released.set()
