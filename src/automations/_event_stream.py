"""`Runtime.events()`: the journal from a sequence number on, then the live feed.

A class, not an async generator, so that breaking out of `async for` is safe on both
backends: the subscription closes with `aclose()`, `async with`, or garbage collection.

A reader that falls a whole buffer behind the hub is not fed any more (memory stays
bounded); it reads what it missed from the journal, as it did at the start, and goes
live again on a fresh subscription.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType

from .actors import EventHub, Subscription, SubscriptionLagged
from .model import (
    Event,
    Scope,
)
from .persistence import ReaderPort, event_of

__all__ = ["EventStream", "event_of"]

_PAGE = 1_000


class EventStream:
    """Every event of a scope after `since`, in sequence order, without duplicates."""

    def __init__(self, hub: EventHub, reader: ReaderPort, scope: Scope, since: int) -> None:
        self._hub = hub
        self._reader = reader
        self._scope = scope
        self._last = since
        self._subscription: Subscription | None = None
        self._backlog: deque[Event] = deque()
        self._live = False

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._subscription is None:  # subscribe first, then read: nothing falls between
            self._subscription = self._hub.subscribe(self._scope)
        while True:
            if self._backlog:
                event = self._backlog.popleft()
                self._last = event.seq
                return event
            if not self._live:
                entries = await self._reader.journal(self._scope, self._last, _PAGE)
                self._backlog.extend(event_of(entry) for entry in entries)
                self._live = len(entries) < _PAGE
                continue
            try:
                event = await self._subscription.receive()
            except SubscriptionLagged:
                # It lags: subscribe afresh first, then read the journal from the last
                # event returned (nothing falls between; what both carry is dropped).
                self._subscription.close()
                self._subscription = self._hub.subscribe(self._scope)
                self._live = False
                continue
            if event.seq == self._last + 1:
                self._last = event.seq
                return event
            if event.seq > self._last:
                # A gap: another scope's entries, or another process's commits that were
                # published later or not at all. The journal has them in order.
                self._live = False

    async def aclose(self) -> None:
        if self._subscription is not None:
            self._subscription.close()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
