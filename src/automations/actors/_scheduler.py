"""The scheduler: fires each automation's next slot when it comes.

It keeps a due-index, a heap of (slot, automation id) for the next `HORIZON`, filled
from the database's index on `next_fire_at` (never by loading every automation) and
kept current by the commits of definitions. An entry may be stale or duplicated: the
automation's actor fires a slot only while it is still that automation's next fire,
so the index can be simple without being wrong. A slot is fired `CLAIM_MS` before
its time: its run is recorded then, and starts at the slot (`SlotStarts`). Each fire
takes a permit of the process's `FireLimit`; while none is free, due slots wait in the
limit's queue, in slot order across the process's schedulers.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

import anyio
import anyio.lowlevel

from ..model import Automation, DefinitionUpdated, Event, Scope, from_ms, to_ms
from ..runtime import sleep_until_or
from ._fire_limit import FireLimit, Permit
from ._outage import patiently
from ._services import Services
from ._slot_starts import CLAIM_MS
from ._territory import ScopeTerritory, Territory

__all__ = ["HORIZON_MS", "REFUSED_RETRY_MS", "Scheduler", "Warmer"]

log = logging.getLogger("automations.actors")

HORIZON_MS = 10 * 60 * 1000
"""How far ahead the due-index looks; farther slots are read when the time comes."""
WARM_MS = 2_000
"""How long before its slot an automation's actor is activated, its definition read
in bulk with the others due then, so the fire itself reads nothing."""
REFUSED_RETRY_MS = (1_000, 30_000)
"""How long after the database refused a fire its slot is looked at again: as long as
the slot is late already, within these bounds (a second at first, then doubling), so
a refusal that lasts is not tried thousands of times a second."""
_BATCH = 10_000
_GATHER_MS = 20
"""While due slots wait for permits, how long freed permits gather before the next
round fires them (unless a round's worth is free sooner): one read and one wake-up
per round, not per permit."""


class Warmer(Protocol):
    """Activates the actors of automations about to fire, with a definition read in bulk."""

    def warm(self, automation: Automation) -> None: ...

    def is_warm(self, automation_id: str) -> bool: ...


class Scheduler:
    def __init__(
        self,
        services: Services,
        fire: Callable[[str, datetime, bool, int | None, Permit], None],
        epoch: int | None = None,
        warmer: Warmer | None = None,
        limit: FireLimit | None = None,
        territory: Territory | None = None,
    ) -> None:
        self._services = services
        self._territory = territory or ScopeTerritory(services.store, services.scope)
        self._fire = fire
        self._epoch = epoch
        self._warmer = warmer
        self._limit = limit if limit is not None else FireLimit(None)
        self._waiting = 0
        """Due slots of this scheduler queued in the limit for a permit."""
        self._granted: list[tuple[int, str, Permit]] = []
        """Due slots with their permits, to fire at the next turn of the loop."""
        self._gather_until: int | None = None
        self._first_look: int | None = None
        self._heap: list[tuple[int, str]] = []
        self._to_warm: list[tuple[int, str]] = []
        self._queued: set[tuple[int, str]] = set()
        self._refused: list[tuple[int, int, str]] = []
        """(when to look again, slot, automation id) of fires the database refused."""
        self._window_end = -1
        self._refill_at = -1
        self._target = -1
        self._changed: anyio.Event | None = None

    @property
    def indexed(self) -> int:
        """Entries in the due-index (for tests and diagnostics)."""
        return len(self._heap)

    # -- keeping the index current ---------------------------------------------------

    def on_commit(self, scope: Scope, event: Event) -> None:
        """The store's change listener, and the follower's (a definition another
        process wrote): note the next fire of every changed definition."""
        if isinstance(event, DefinitionUpdated):
            self._note(scope, event.automation)
        # A deleted automation's stale entries are ignored by its actor when they fire.

    def note_refused(self, automation: Automation) -> None:
        """A write of the automation's actor failed (the database refused a fire, say:
        it did not answer, or its disk is full): index its next fire again a little
        later (`REFUSED_RETRY_MS`), so that a refused slot fires late, or is recorded
        missed, once the database takes writes again, not at the next read of the
        index. A slot still to come is indexed as usual."""
        if automation.next_fire_at is None:
            return
        now, slot = to_ms(self._services.clock.now()), to_ms(automation.next_fire_at)
        shortest, longest = REFUSED_RETRY_MS
        at = now + min(max(now - slot, shortest), longest)
        heapq.heappush(self._refused, (at, slot, automation.id))
        log.debug("looking at the next fire of %s again in %d ms", automation.id, at - now)
        if at < self._target and self._changed is not None:
            self._changed.set()

    def _note(self, scope: Scope, automation: Automation) -> None:
        if automation.next_fire_at is None or not self._territory.covers(scope, automation.id):
            return
        slot = to_ms(automation.next_fire_at)
        if slot <= self._window_end:
            self._push(slot, automation.id)
            if slot < self._target and self._changed is not None:
                self._changed.set()

    def _push(self, slot: int, automation_id: str) -> None:
        entry = (slot, automation_id)
        if entry not in self._queued:
            self._queued.add(entry)
            heapq.heappush(self._heap, entry)
            if self._warmer is not None:
                heapq.heappush(self._to_warm, entry)

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        clock = self._services.clock
        self._limit.join(self)
        try:
            while True:
                now = to_ms(clock.now())
                idle = not (self._due(now) or self._waiting or self._granted)
                if now >= self._refill_at and idle:
                    await self._refill(now)
                if self._first_look is None:
                    self._first_look = now
                while self._refused and self._refused[0][0] <= now:
                    _, slot, automation_id = heapq.heappop(self._refused)
                    self._push(slot, automation_id)
                await self._fire_due(now)
                await self._warm_due(now)
                await self._sleep_until(self._next_target(now))
        finally:
            self._limit.leave(self)
            granted, self._granted = self._granted, []
            for _, _, permit in granted:  # granted, never fired
                permit.release()

    def _due(self, now: int) -> bool:
        """A slot is to fire (`CLAIM_MS` ahead of it). While one is, or one waits for a
        permit, the index is not read again: it would only read the due slots again (a
        window cut at its last slot is due again when that slot is)."""
        return bool(self._heap) and self._heap[0][0] - CLAIM_MS <= now

    def _next_target(self, now: int) -> int:
        target = now + HORIZON_MS if self._waiting else self._refill_at
        if self._heap:
            target = min(target, self._heap[0][0] - CLAIM_MS)
        if self._granted:
            target = now
        if self._gather_until is not None:
            target = min(target, self._gather_until)
        if self._to_warm:
            target = min(target, self._to_warm[0][0] - WARM_MS)
        if self._refused:
            target = min(target, self._refused[0][0])
        self._target = target
        return target

    async def _refill(self, now: int) -> None:
        until = now + HORIZON_MS
        # Widen the window before reading: a definition committed while the read runs
        # may be missing from it, and its note must not be dropped as out of window.
        self._window_end = max(self._window_end, until)
        rows, cut = await patiently(
            lambda: self._territory.due(until, _BATCH), "read the schedules' due index"
        )
        for automation_id, slot in rows:
            self._push(slot, automation_id)
        self._window_end = until if cut is None else cut
        self._refill_at = now + HORIZON_MS // 2 if cut is None else cut

    def look_again(self) -> None:
        """Read the due index again as soon as no slot is due: the territory grew (a
        fleet's shard took a scope, whose slots the last read left out)."""
        self._refill_at = -1
        if self._changed is not None:
            self._changed.set()

    async def _fire_due(self, now: int) -> None:
        """Queue the due slots for permits, and fire those granted. Granted ones not
        warmed ahead (they waited, or the runtime just started) have their definitions
        read in one go first. A slot the first look found due is fired `at_startup`
        even when it waited (DESIGN 6.4)."""
        limit = self._limit
        if self._gather_until is not None and now >= self._gather_until:
            self._gather_until = None
            if limit.gathering:
                limit.grant()
        if self._due(now):
            await self._queue_due(now)
        if not self._granted:
            return
        warmer = self._warmer
        if warmer is not None and len(self._granted) > 1:
            await self._read_and_warm(i for _, i, _ in self._granted if not warmer.is_warm(i))
        granted, self._granted = self._granted, []
        first_look = self._first_look
        assert first_look is not None
        sent = 0
        try:
            for slot, automation_id, permit in granted:
                self._queued.discard((slot, automation_id))
                self._fire(automation_id, from_ms(slot), slot <= first_look, self._epoch, permit)
                sent += 1
        finally:
            for _, _, permit in granted[sent:]:  # not sent (released once, if it was)
                permit.release()

    async def _queue_due(self, now: int) -> None:
        """Hand the due slots to the limit, which grants its permits in slot order.
        Alone on it, with permits for all and none waiting, they are granted here."""
        limit = self._limit
        due: list[tuple[int, str]] = []
        while self._due(now):  # noted in `_queued` until fired: a refill skips them
            due.append(heapq.heappop(self._heap))
        if not limit.shared and not limit.waiting and len(due) <= limit.available:
            self._granted += [(slot, automation_id, limit.take()) for slot, automation_id in due]
            return
        self._waiting += len(due)
        for slot, automation_id in due:
            limit.wait(self, slot, automation_id)
        if limit.shared:  # the other cells woken at this moment queue theirs first
            await anyio.lowlevel.checkpoint()
        if not limit.gathering:
            limit.grant()

    # -- the limit's grantee ----------------------------------------------------------

    def granted(self, slot_ms: int, automation_id: str, permit: Permit) -> None:
        self._waiting -= 1
        self._granted.append((slot_ms, automation_id, permit))

    def wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def gather(self) -> None:
        self._gather_until = to_ms(self._services.clock.now()) + _GATHER_MS
        self.wake()

    async def _warm_due(self, now: int) -> None:
        """Activate the actors of automations due within `WARM_MS`, in one read; no
        more than the permits free now, as each active actor holds memory."""
        ids: set[str] = set()
        room = self._limit.available
        while self._to_warm and self._to_warm[0][0] - WARM_MS <= now:
            slot, automation_id = heapq.heappop(self._to_warm)
            if slot > now and len(ids) < room:  # a due one was read as it fired
                ids.add(automation_id)
        await self._read_and_warm(ids)

    async def _read_and_warm(self, automation_ids: Iterable[str]) -> None:
        ids = set(automation_ids)
        if ids and self._warmer is not None:
            for automation in await self._territory.automations_by_ids(ids):
                self._warmer.warm(automation)

    async def _sleep_until(self, target: int) -> None:
        """Sleep on the runtime's clock until `target`, or until the index changes."""
        changed = self._changed = anyio.Event()
        await sleep_until_or(self._services.clock, from_ms(target), changed)
        self._changed = None
