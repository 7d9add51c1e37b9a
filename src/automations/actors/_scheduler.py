"""The scheduler: fires each automation's next slot when it comes.

It keeps a due-index, a heap of (slot, automation id) for the next `HORIZON`, filled
from the database's index on `next_fire_at` (never by loading every automation) and
kept current by the commits of definitions. An entry may be stale or duplicated: the
automation's actor fires a slot only while it is still that automation's next fire,
so the index can be simple without being wrong.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime

import anyio

from ..model import Automation, DefinitionUpdated, Event, Scope, from_ms, to_ms
from ..persistence import CreateAutomations, Operation, SaveAutomation
from ._services import Services

__all__ = ["HORIZON_MS", "Scheduler"]

HORIZON_MS = 10 * 60 * 1000
"""How far ahead the due-index looks; farther slots are read when the time comes."""
WARM_MS = 2_000
"""How long before its slot an automation's actor is activated, its definition read
in bulk with the others due then, so the fire itself reads nothing."""
_BATCH = 10_000


class Scheduler:
    def __init__(
        self,
        services: Services,
        fire: Callable[[str, datetime, bool, int | None], None],
        epoch: int | None = None,
        warm: Callable[[Automation], None] | None = None,
    ) -> None:
        self._services = services
        self._fire = fire
        self._epoch = epoch
        self._warm = warm
        self._heap: list[tuple[int, str]] = []
        self._to_warm: list[tuple[int, str]] = []
        self._queued: set[tuple[int, str]] = set()
        self._window_end = -1
        self._refill_at = -1
        self._target = -1
        self._changed: anyio.Event | None = None
        self._started = False

    @property
    def indexed(self) -> int:
        """Entries in the due-index (for tests and diagnostics)."""
        return len(self._heap)

    # -- keeping the index current ---------------------------------------------------

    def on_commit(self, operation: Operation, result: object) -> None:
        """The store's commit listener: note the next fire of every changed definition."""
        if isinstance(operation, SaveAutomation):
            self._note(operation.scope, operation.automation)
        elif isinstance(operation, CreateAutomations):
            for automation in operation.automations:
                self._note(operation.scope, automation)
        # A deleted automation's stale entries are ignored by its actor when they fire.

    def on_foreign(self, scope: Scope, event: Event) -> None:
        """The follower's listener: a definition another process wrote."""
        if isinstance(event, DefinitionUpdated):
            self._note(scope, event.automation)

    def _note(self, scope: object, automation: Automation) -> None:
        if scope != self._services.scope or automation.next_fire_at is None:
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
            if self._warm is not None:
                heapq.heappush(self._to_warm, entry)

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        clock = self._services.clock
        while True:
            now = to_ms(clock.now())
            if now >= self._refill_at:
                await self._refill(now)
            self._fire_due(now, at_startup=not self._started)
            self._started = True
            await self._warm_due(now)
            target = self._refill_at
            if self._heap:
                target = min(target, self._heap[0][0])
            if self._to_warm:
                target = min(target, self._to_warm[0][0] - WARM_MS)
            self._target = target
            await self._sleep_until(target)

    async def _refill(self, now: int) -> None:
        services = self._services
        until = now + HORIZON_MS
        # Widen the window before reading: a definition committed while the read runs
        # may be missing from it, and its note must not be dropped as out of window.
        self._window_end = max(self._window_end, until)
        rows = await services.store.reader.due(services.scope, until, _BATCH)
        for automation_id, slot in rows:
            self._push(slot, automation_id)
        full = len(rows) == _BATCH
        self._window_end = rows[-1][1] if full else until
        self._refill_at = self._window_end if full else now + HORIZON_MS // 2

    def _fire_due(self, now: int, *, at_startup: bool) -> None:
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            self._queued.discard(entry)
            slot, automation_id = entry
            self._fire(automation_id, from_ms(slot), at_startup, self._epoch)

    async def _warm_due(self, now: int) -> None:
        """Activate the actors of automations due within `WARM_MS`, in one read."""
        ids: set[str] = set()
        while self._to_warm and self._to_warm[0][0] - WARM_MS <= now:
            slot, automation_id = heapq.heappop(self._to_warm)
            if slot > now:  # a due one was fired already, and read as it activated
                ids.add(automation_id)
        if ids and self._warm is not None:
            services = self._services
            for automation in await services.store.reader.automations_by_ids(services.scope, ids):
                self._warm(automation)

    async def _sleep_until(self, target: int) -> None:
        """Sleep on the runtime's clock until `target`, or until the index changes."""
        changed = self._changed = anyio.Event()
        clock = self._services.clock

        async def alarm() -> None:
            await clock.sleep_until(from_ms(target))
            changed.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(alarm)
            await changed.wait()
            tg.cancel_scope.cancel()
        self._changed = None
