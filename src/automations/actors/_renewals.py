"""The scheduler leases one process holds, renewed together.

One write a round renews every lease the process holds (`RenewLeases`), so a fleet
worker leading a thousand scopes costs its database two writes a second, not two
thousand. A lease found taken over ends its term: whoever holds it waits on its
`lost` event.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import anyio

from ..model import AutomationError, Scope
from ..persistence import RenewLeases, StorePort

__all__ = ["RENEW_SECONDS", "LeaseRenewals"]

RENEW_SECONDS = 0.5
"""How often the holder renews its leases."""

log = logging.getLogger("automations.actors")


class LeaseRenewals:
    """The leases held in this process, each with the event its term ends on."""

    def __init__(self, store: StorePort) -> None:
        self._store = store
        self._held: dict[Scope, tuple[int, anyio.Event]] = {}

    @contextlib.contextmanager
    def holding(self, scope: Scope, epoch: int) -> Iterator[anyio.Event]:
        """Renew `scope`'s lease at `epoch` while in the block; the event is set if
        another process took it over."""
        lost = anyio.Event()
        self._held[scope] = (epoch, lost)
        try:
            yield lost
        finally:
            held = self._held.get(scope)
            if held is not None and held[1] is lost:
                del self._held[scope]

    async def run(self) -> None:
        """Renew every `RENEW_SECONDS` until cancelled; storage trouble is logged and
        the next round tries again (a lease not renewed for long goes stale)."""
        while True:
            await anyio.sleep(RENEW_SECONDS)
            if not self._held:
                continue
            held = tuple((scope, epoch) for scope, (epoch, _) in self._held.items())
            try:
                lost = await self._store.write(RenewLeases(held, int(time.time() * 1000)))
            except AutomationError:
                log.exception("could not renew the scheduler leases")
                continue
            for scope, epoch in lost:
                entry = self._held.get(scope)
                if entry is not None and entry[0] == epoch:
                    entry[1].set()
