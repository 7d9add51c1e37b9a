"""The scheduler leases one process holds, renewed together.

One write a round renews every lease the process holds (`RenewLeases`), so a fleet
worker leading a thousand scopes costs its database two writes a second, not two
thousand. A lease found taken over ends its term: whoever holds it waits on its
`lost` event. A lease led without its lock (taken over from a frozen holder, or whose
lock the server dropped with its connection) takes the lock again after a round.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import anyio

from ..model import AutomationError
from ..persistence import ProcessLock, RenewLeases, StorePort

__all__ = ["RENEW_SECONDS", "LeaseRenewals"]

RENEW_SECONDS = 0.5
"""How often the holder renews its leases."""

log = logging.getLogger("automations.actors")


class _Term:
    __slots__ = ("epoch", "lock", "lost")

    def __init__(self, epoch: int, lock: ProcessLock) -> None:
        self.epoch = epoch
        self.lock = lock
        self.lost = anyio.Event()


class LeaseRenewals:
    """The leases held in this process, each with the event its term ends on."""

    def __init__(self, store: StorePort) -> None:
        self._store = store
        self._held: dict[str, _Term] = {}
        """By lease name."""
        self._failing = False

    @contextlib.contextmanager
    def holding(self, lease: str, epoch: int, lock: ProcessLock) -> Iterator[anyio.Event]:
        """Renew the lease named `lease` at `epoch` while in the block, and keep its
        `lock`; the event is set if another process took the lease over."""
        term = self._held[lease] = _Term(epoch, lock)
        try:
            yield term.lost
        finally:
            if self._held.get(lease) is term:
                del self._held[lease]

    async def run(self) -> None:
        """Renew every `RENEW_SECONDS` until cancelled. Storage trouble is said once
        and the next round tries again (a lease not renewed for long goes stale)."""
        while True:
            await anyio.sleep(RENEW_SECONDS)
            if self._held and await self._renew():
                await self._take_locks_back()

    async def _renew(self) -> bool:
        held = tuple((lease, term.epoch) for lease, term in self._held.items())
        try:
            lost = await self._store.write(RenewLeases(held, int(time.time() * 1000)))
        except AutomationError as error:
            if not self._failing:
                log.warning("could not renew the scheduler leases (%s); trying again", error)
            self._failing = True
            return False
        if self._failing:
            log.warning("the scheduler leases are renewed again")
            self._failing = False
        for lease, epoch in lost:
            term = self._held.get(lease)
            if term is not None and term.epoch == epoch:
                term.lost.set()
        return True

    async def _take_locks_back(self) -> None:
        for lease, term in list(self._held.items()):
            if self._held.get(lease) is not term or term.lock.held or term.lost.is_set():
                continue  # its term ended during the sweep, or it needs nothing
            try:
                taken = await anyio.to_thread.run_sync(term.lock.try_acquire)
            except AutomationError:  # the next round tries again
                continue
            if taken and self._held.get(lease) is not term:
                # The term ended while the lock was taken: its own letting go had
                # found nothing to let go of, so nobody else would.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(term.lock.release)
