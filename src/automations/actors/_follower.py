"""The journal follower: what other processes commit reaches this one.

Every runtime looks at the database every `FOLLOW_SECONDS` with `PRAGMA data_version`,
which costs microseconds and changes only when another connection committed. Journal
entries it did not commit itself are published to its hub (so `events()` and `wait()`
see runs other processes execute) and handed to the listeners of their scope (the
scheduler, the actors of changed automations); it also hands this process's own
commits to the listeners of their scope. Listeners are found by scope, not called
one after another: a fleet worker leading thousands of scopes pays one look-up an
event, not one call a scope. Polling is the design (DESIGN 8): SQLite has no
cross-process notification.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import anyio
from anyio.abc import TaskStatus

from ..model import Event, Scope, StorageError
from ..persistence import ChangeListener, ChangeWatch, StorePort, shard_of
from ._hub import EventHub
from ._outage import Outage, patiently

__all__ = ["FOLLOW_SECONDS", "Follower"]

FOLLOW_SECONDS = 0.02
K = TypeVar("K")
L = TypeVar("L")
_PAGE = 1_000


class KeyedListeners(Generic[K, L]):
    """Listeners found by a key (a scope, a shard). A key's tuple is replaced, never
    changed, so a listener may come or go while the others are told."""

    def __init__(self) -> None:
        self._by_key: dict[K, tuple[L, ...]] = {}

    def add(self, key: K, listener: L) -> None:
        self._by_key[key] = (*self._by_key.get(key, ()), listener)

    def remove(self, key: K, listener: L) -> None:
        """Forget `listener` (if it listens to `key`)."""
        left = tuple(each for each in self._by_key.get(key, ()) if each != listener)
        if left:
            self._by_key[key] = left
        else:
            self._by_key.pop(key, None)

    def of(self, key: K) -> tuple[L, ...]:
        return self._by_key.get(key, ())

    def keys(self) -> tuple[K, ...]:
        """The keys with a listener."""
        return tuple(self._by_key)

    def __bool__(self) -> bool:
        return bool(self._by_key)


class ScopedListeners(KeyedListeners[Scope, L]):
    """Listeners found by their scope."""

    def scopes(self) -> tuple[Scope, ...]:
        """The scopes with a listener."""
        return self.keys()


class ChangeListeners(ScopedListeners[ChangeListener]):
    """Change listeners found by the scope of the change, or by its shard (a fleet's
    cell listens to every scope of its shard): itself one."""

    def __init__(self) -> None:
        super().__init__()
        self.by_shard = KeyedListeners[int, ChangeListener]()

    def __call__(self, scope: Scope, event: Event) -> None:
        for listener in self.of(scope):
            listener(scope, event)
        if self.by_shard:  # (a fleet's: no look-up of the shard otherwise)
            for listener in self.by_shard.of(shard_of(scope)):
                listener(scope, event)


class Follower:
    """Follows the journal and tells who waits for other processes' commits."""

    def __init__(self, store: StorePort, hub: EventHub) -> None:
        self._store = store
        self._hub = hub
        self._foreign = ChangeListeners()
        self._own = ChangeListeners()
        self._generation = 0
        self._looked = anyio.Event()
        self._last = 0
        """The last journal entry looked at (published, or this process's own)."""
        self.commands_head = 0
        """The highest command id seen in the database."""
        self._commands = ScopedListeners[Callable[[], None]]()

    def add_listener(self, scope: Scope, listener: ChangeListener, *, own: bool = False) -> None:
        """Call `listener` with every event of `scope` another process committed, in
        order; with `own`, with those this process commits too (while the follower
        runs)."""
        self._foreign.add(scope, listener)
        if own:
            self._own.add(scope, listener)

    def remove_listener(self, scope: Scope, listener: ChangeListener) -> None:
        self._foreign.remove(scope, listener)
        self._own.remove(scope, listener)

    def add_shard_listener(
        self, shard: int, listener: ChangeListener, *, own: bool = False
    ) -> None:
        """As `add_listener`, for the events of every scope of `shard`."""
        self._foreign.by_shard.add(shard, listener)
        if own:
            self._own.by_shard.add(shard, listener)

    def remove_shard_listener(self, shard: int, listener: ChangeListener) -> None:
        self._foreign.by_shard.remove(shard, listener)
        self._own.by_shard.remove(shard, listener)

    def add_command_listener(self, scope: Scope, listener: Callable[[], None]) -> None:
        """Call `listener` each time a command of `scope` past the head seen before is
        seen (an inbox waits for that, not for every commit; and a fleet worker's
        thousands of inboxes are not all woken by a command for one of them)."""
        self._commands.add(scope, listener)

    def remove_command_listener(self, scope: Scope, listener: Callable[[], None]) -> None:
        self._commands.remove(scope, listener)

    @property
    def generation(self) -> int:
        """Grows each time the follower saw a commit by another connection."""
        return self._generation

    async def wait_past(self, generation: int) -> None:
        """Return once the follower saw a commit after `generation`."""
        while self._generation <= generation:
            await self._looked.wait()

    def poke(self) -> None:
        """Wake whoever waits for a commit, as if the follower saw one."""
        self._generation += 1
        looked, self._looked = self._looked, anyio.Event()
        looked.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Follow until cancelled; a database that does not answer is waited out.

        Started (`task_status`) once the journal's head is read: an entry committed
        after the runtime opened is then published, not taken for one already there
        (an `events()` begun at once would have missed it). If the database does not
        answer, started at once: an open never waits out an outage."""
        store = self._store
        watch = store.open_watch()
        store.add_commit_listener(self._own)
        try:
            try:
                self._last = await store.reader.last_seq()
            except StorageError:
                task_status.started()
                task_status = anyio.TASK_STATUS_IGNORED
                self._last = await patiently(store.reader.last_seq, "read the journal's head")
            task_status.started()
            outage = Outage("follow the journal")
            failed = False
            while True:
                await anyio.sleep(FOLLOW_SECONDS)
                try:
                    # A look that failed is made again whatever the watch says: the
                    # change it noticed is spent.
                    if not (watch.changed() or failed):
                        continue
                    await self._look(watch)
                except StorageError as error:
                    failed = True
                    await outage.failed(error)
                    continue
                failed = False
                outage.succeeded()
                self.poke()
        finally:
            store.remove_commit_listener(self._own)
            watch.close()

    async def _look(self, watch: ChangeWatch) -> None:
        store = self._store
        # This process's commits are visible in the database a moment before its
        # writer hands them back to the event loop: wait for the hand-back of those
        # the read saw, so that none is taken for another process's.
        heads, committed = await anyio.to_thread.run_sync(store.read_committed, watch.heads)
        await store.wait_delivered(committed)
        head, commands_head = heads
        if commands_head > self.commands_head:
            await self._tell_commands(self.commands_head, commands_head)
            self.commands_head = commands_head
        if head > self._last and not self._hub.only_local(self._last, head):
            await self._publish(head)
        self._last = max(self._last, head)

    async def _tell_commands(self, seen: int, head: int) -> None:
        """Wake the inboxes of the scopes with commands in (`seen`, `head`]: all of them
        when there is one (no read), or when the read fails (a wake-up costs a read)."""
        listening = self._commands.scopes()
        scopes: Iterable[Scope] = listening
        if len(listening) > 1:
            with contextlib.suppress(StorageError):
                scopes = await self._store.reader.command_scopes(seen, head)
        for scope in scopes:
            for listener in self._commands.of(scope):
                listener()

    async def _publish(self, head: int) -> None:
        """Publish the entries up to `head` this process did not commit; `_last` moves
        with each, so a read that fails midway resumes after the last one published."""
        reader = self._store.reader
        while self._last < head and (entries := await reader.all_journal(self._last, _PAGE)):
            for entry in entries:
                if entry.seq > head:  # possibly this process's, not handed back yet
                    return
                event = self._hub.publish_foreign(entry)
                if event is not None:
                    self._foreign(Scope(entry.project, entry.directory), event)
                self._last = entry.seq
