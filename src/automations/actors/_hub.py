"""Publishing events: built from what the writer committed, in journal order.

The hub listens to the store's commits, so an event exists only once its transition
is durable, and subscribers see events in sequence order without duplicates.
"""

from __future__ import annotations

import math
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..model import (
    Automation,
    DefinitionDeleted,
    DefinitionUpdated,
    Event,
    Run,
    RunUpdated,
    Scope,
    Tombstone,
    from_msgpack,
)
from ..persistence import (
    AUTOMATION_DELETED,
    AUTOMATION_UPDATED,
    RUN_UPDATED,
    CreateAutomations,
    CreateRun,
    DeleteAutomation,
    JournalEntry,
    Operation,
    Reconciled,
    ReconcileRuns,
    SaveAutomation,
    SaveRun,
)

__all__ = ["EventHub", "Subscription", "event_of"]


class EventHub:
    """Fans committed events out to subscribers and to watchers of single runs."""

    def __init__(self) -> None:
        self._subscribers: dict[int, tuple[Scope, MemoryObjectSendStream[Event]]] = {}
        self._run_watchers: dict[str, list[Callable[[Run], None]]] = {}
        self._next = 0
        self._local: deque[int] = deque()
        """Sequence numbers committed here and not yet passed by the journal follower."""

    def on_commit(self, operation: Operation, result: object) -> None:
        """The store's commit listener."""
        for scope, event in _events_of(operation, result):
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
        for subscribed_scope, send in list(self._subscribers.values()):
            if subscribed_scope == scope:
                send.send_nowait(event)
        if isinstance(event, RunUpdated):
            for watcher in self._run_watchers.get(event.run.id, ()):
                watcher(event.run)

    def subscribe(self, scope: Scope) -> Subscription:
        """Every event of `scope` committed from now until the subscription is closed."""
        send, receive = anyio.create_memory_object_stream[Event](math.inf)
        key = self._next
        self._next += 1
        self._subscribers[key] = (scope, send)
        return Subscription(receive, lambda: self._unsubscribe(key))

    def _unsubscribe(self, key: int) -> None:
        entry = self._subscribers.pop(key, None)
        if entry is not None:
            entry[1].close()

    @contextmanager
    def watch_run(self, run_id: str) -> Iterator[MemoryObjectReceiveStream[Run]]:
        """Every committed revision of one run while the block runs."""
        send, receive = anyio.create_memory_object_stream[Run](math.inf)
        watchers = self._run_watchers.setdefault(run_id, [])
        watcher = send.send_nowait
        watchers.append(watcher)
        try:
            with receive:
                yield receive
        finally:
            watchers.remove(watcher)
            if not watchers:
                del self._run_watchers[run_id]
            send.close()


class Subscription:
    """A live feed of events; close it when done (garbage collection closes it too)."""

    def __init__(self, receive: MemoryObjectReceiveStream[Event], unsubscribe: Callable[[], None]):
        self._receive = receive
        self._finalizer = weakref.finalize(self, _close, receive, unsubscribe)

    async def receive(self) -> Event:
        """The next event; one already buffered is returned without a scheduling round."""
        try:
            return self._receive.receive_nowait()
        except anyio.WouldBlock:
            return await self._receive.receive()

    def close(self) -> None:
        self._finalizer()


def _close(receive: MemoryObjectReceiveStream[Event], unsubscribe: Callable[[], None]) -> None:
    unsubscribe()
    receive.close()


def _events_of(operation: Operation, result: object) -> Iterator[tuple[Scope, Event]]:
    if isinstance(operation, SaveRun) and isinstance(result, int):
        yield operation.scope, RunUpdated(seq=result, run=operation.run)
    elif isinstance(operation, SaveAutomation) and isinstance(result, int):
        yield operation.scope, DefinitionUpdated(seq=result, automation=operation.automation)
    elif isinstance(operation, DeleteAutomation) and isinstance(result, int):
        yield operation.scope, DefinitionDeleted(seq=result, tombstone=operation.tombstone)
    elif isinstance(operation, CreateAutomations) and isinstance(result, list):
        for seq, automation in zip(result, operation.automations, strict=True):
            yield operation.scope, DefinitionUpdated(seq=seq, automation=automation)
    elif isinstance(operation, CreateRun) and isinstance(result, list):
        for seq, run in zip(result, operation.revisions, strict=True):
            yield operation.scope, RunUpdated(seq=seq, run=run)
    elif isinstance(operation, ReconcileRuns) and isinstance(result, Reconciled):
        for seq, run in result.changed:
            yield operation.scope, RunUpdated(seq=seq, run=run)


def event_of(entry: JournalEntry) -> Event:
    """The event a journal entry records."""
    if entry.kind == RUN_UPDATED:
        return RunUpdated(seq=entry.seq, run=from_msgpack(entry.body, Run))
    if entry.kind == AUTOMATION_UPDATED:
        return DefinitionUpdated(seq=entry.seq, automation=from_msgpack(entry.body, Automation))
    if entry.kind == AUTOMATION_DELETED:
        return DefinitionDeleted(seq=entry.seq, tombstone=from_msgpack(entry.body, Tombstone))
    raise ValueError(f"journal entry {entry.seq} has unknown kind {entry.kind!r}")
