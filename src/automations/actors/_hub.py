"""Publishing events: built from what the writer committed, in journal order.

The hub listens to the store's commits, so an event exists only once its transition
is durable, and subscribers see events in sequence order without duplicates.

Nothing it holds for a reader grows with the publish rate: a subscription buffers at
most `SUBSCRIBER_BUFFER` events and, once full, is told it lags (its reader goes back
to the journal, which has every event); a run's watcher holds one revision.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..model import Event, Run, RunUpdated, Scope
from ..persistence import JournalEntry, event_of

__all__ = [
    "SUBSCRIBER_BUFFER",
    "EventHub",
    "RunWatch",
    "Subscription",
    "SubscriptionLagged",
]

SUBSCRIBER_BUFFER = 1_000
"""Events a subscription holds unread before the hub stops feeding it."""


class SubscriptionLagged(Exception):
    """The subscription fell `SUBSCRIBER_BUFFER` events behind and gets no more: read
    the journal after the last event received, then subscribe again."""


class _Feed:
    """One subscription as the hub sees it."""

    __slots__ = ("lagging", "scope", "send")

    def __init__(self, scope: Scope, send: MemoryObjectSendStream[Event]) -> None:
        self.scope = scope
        self.send = send
        self.lagging = False


class EventHub:
    """Fans committed events out to subscribers and to watchers of single runs."""

    def __init__(self) -> None:
        self._subscribers: dict[int, _Feed] = {}
        self._run_watchers: dict[str, list[RunWatch]] = {}
        self._next = 0
        self._local: deque[int] = deque()
        """Sequence numbers committed here and not yet passed by the journal follower."""

    def on_commit(self, scope: Scope, event: Event) -> None:
        """The store's change listener: an event this process committed."""
        self._local.append(event.seq)
        self.publish(scope, event)

    def only_local(self, after: int, head: int) -> bool:
        """True when every journal entry in (after, head] was committed here.

        Sequence numbers are dense, so counting this process's own is enough; when it
        is not (a gap, or another process wrote), the follower reads the entries.
        """
        local = self._local
        while local and local[0] <= after:
            local.popleft()
        count = 0
        for seq in local:
            if seq > head:
                break
            count += 1
        if count != head - after:
            return False
        for _ in range(count):
            local.popleft()
        return True

    def publish_foreign(self, entry: JournalEntry) -> Event | None:
        """An entry another process committed, unless this process published it already;
        the event, when it was published here."""
        local = self._local
        while local and local[0] < entry.seq:
            local.popleft()
        if local and local[0] == entry.seq:
            local.popleft()
            return None
        event = event_of(entry)
        self.publish(Scope(entry.project, entry.directory), event)
        return event

    def publish(self, scope: Scope, event: Event) -> None:
        """Hand `event` to the subscriptions of `scope`; never waits for a reader."""
        for feed in self._subscribers.values():
            if feed.scope == scope and not feed.lagging:
                try:
                    feed.send.send_nowait(event)
                except (anyio.WouldBlock, anyio.BrokenResourceError):
                    # Full (or its reader gone): stop feeding it rather than wait for it
                    # or grow. Closing the sending end tells the reader, after what is
                    # buffered, that it lags; the journal has the rest.
                    feed.lagging = True
                    feed.send.close()
        if isinstance(event, RunUpdated):
            for watch in self._run_watchers.get(event.run.id, ()):
                watch.offer(event.run)

    def buffered(self) -> int:
        """Events held for subscriptions and not read yet, over all of them."""
        return sum(
            feed.send.statistics().current_buffer_used for feed in self._subscribers.values()
        )

    def subscribe(self, scope: Scope) -> Subscription:
        """Every event of `scope` committed from now until the subscription is closed
        or, when its reader falls `SUBSCRIBER_BUFFER` events behind, lags."""
        send, receive = anyio.create_memory_object_stream[Event](SUBSCRIBER_BUFFER)
        key = self._next
        self._next += 1
        self._subscribers[key] = _Feed(scope, send)
        return Subscription(receive, lambda: self._unsubscribe(key))

    def _unsubscribe(self, key: int) -> None:
        feed = self._subscribers.pop(key, None)
        if feed is not None:
            feed.send.close()

    @contextmanager
    def watch_run(self, run_id: str, wanted: Callable[[Run], bool]) -> Iterator[RunWatch]:
        """The revisions of one run committed while the block runs, as a `RunWatch`."""
        watch = RunWatch(wanted)
        watchers = self._run_watchers.setdefault(run_id, [])
        watchers.append(watch)
        try:
            yield watch
        finally:
            watchers.remove(watch)
            if not watchers:
                del self._run_watchers[run_id]


class RunWatch:
    """One revision of a run, whatever the publish rate: the first published that the
    waiter wants, else the newest (a state the waiter wants is kept even if the run
    leaves it before the waiter wakes)."""

    def __init__(self, wanted: Callable[[Run], bool]) -> None:
        self._wanted = wanted
        self._held: Run | None = None
        self._offered = anyio.Event()

    def offer(self, run: Run) -> None:
        """A committed revision; called by the hub, never waits."""
        held = self._held
        if held is not None and (held.revision >= run.revision or self._wanted(held)):
            return
        self._held = run
        offered, self._offered = self._offered, anyio.Event()
        offered.set()

    async def after(self, revision: int) -> Run:
        """The revision held once it is newer than `revision` or wanted."""
        while (held := self._held) is None or not (held.revision > revision or self._wanted(held)):
            await self._offered.wait()
        return held


class Subscription:
    """A live feed of events; close it when done (garbage collection closes it too)."""

    def __init__(self, receive: MemoryObjectReceiveStream[Event], unsubscribe: Callable[[], None]):
        self._receive = receive
        self._finalizer = weakref.finalize(self, _close, receive, unsubscribe)

    async def receive(self) -> Event:
        """The next event; one already buffered is returned without a scheduling round.

        Raises `SubscriptionLagged` once the events buffered before the hub stopped
        feeding it are read; only the hub ends the stream, and only then.
        """
        try:
            return self._receive.receive_nowait()
        except anyio.WouldBlock:
            pass
        except anyio.EndOfStream:
            raise SubscriptionLagged from None
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise SubscriptionLagged from None

    def close(self) -> None:
        self._finalizer()


def _close(receive: MemoryObjectReceiveStream[Event], unsubscribe: Callable[[], None]) -> None:
    unsubscribe()
    receive.close()
