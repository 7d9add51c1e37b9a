"""Runs recorded ahead of their slot, started together when it comes.

A scheduled fire is recorded shortly before its slot (`CLAIM_MS`): by the time the
slot comes, its run is durably `scheduled` and the automation's next fire has moved
on. What is left is to admit the runs due then, record them `running` and start
their executors. One alarm does it for all of them, in one transaction: a slot shared
by hundreds of automations costs one wake-up and one commit, not one of each per run.
`running` is recorded at the slot, never before it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVarTuple

import anyio

from ..model import from_ms, to_ms
from ..persistence import StorePort
from ..runtime import Clock, sleep_until_or

__all__ = ["CLAIM_MS", "SlotStarts"]

log = logging.getLogger("automations.actors")

Ts = TypeVarTuple("Ts")

CLAIM_MS = 500
"""How long before its slot a scheduled run is recorded: long enough for the record
of a busy slot to be durable by then, short because the run belongs to its slot from
then on: an edit after it does not change the run (a pause, or a delete, takes it
back, with a recorded reason)."""


class SlotStarts:
    """The runs of this process waiting for their slot, in slot order."""

    def __init__(self, store: StorePort, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._order = itertools.count()
        self._target: int | None = None
        self._changed: anyio.Event | None = None

    def add(self, slot_ms: int, came: Callable[[datetime, *Ts], None], *args: *Ts) -> None:
        """Call `came(now, *args)` when the slot comes (`now`: the clock as the alarm
        rang, read once for the whole slot); it may submit writes, never await them.
        (Arguments, not a closure: a busy slot has thousands waiting.)"""
        heapq.heappush(self._heap, (slot_ms, next(self._order), came, args))
        changed = self._changed
        if changed is not None and (self._target is None or slot_ms < self._target):
            changed.set()

    async def run(self) -> None:
        """The alarm: sleep until the next slot (or until an earlier one is added)."""
        while True:
            self._target = self._heap[0][0] if self._heap else None
            await self._sleep()
            self.start_due(to_ms(self._clock.now()))

    def start_due(self, now_ms: int) -> None:
        """Call every callback whose time has come; their writes commit together."""
        heap = self._heap
        if not heap or heap[0][0] > now_ms:
            return
        now = from_ms(now_ms)
        with self._store.together():
            while heap and heap[0][0] <= now_ms:
                _, _, came, args = heapq.heappop(heap)
                try:
                    came(now, *args)
                except Exception:  # the other runs of the slot must still start
                    log.exception("could not start a run at its slot")

    async def _sleep(self) -> None:
        changed = self._changed = anyio.Event()
        target = None if self._target is None else from_ms(self._target)
        await sleep_until_or(self._clock, target, changed)
        self._changed = None
