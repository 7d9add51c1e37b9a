"""The owners of active runs, read once for all of a fleet worker's cells.

Each cell that leads reconciles every `RECONCILE_SECONDS`: with thousands of cells,
a read of its own scope's owners each time would be a thousand reads a second. The
cells share one read instead, made again once it is `FRESH_SECONDS` old. A process
that dies is still found: its runs stay active, with it as their owner, until they
are reconciled, so every later read lists it. A term's first reconciliation (on
taking a lease) reads its scope itself: it must see what the last holder left.
"""

from __future__ import annotations

import time

import anyio

from ..model import Scope
from ..persistence import StorePort

__all__ = ["FRESH_SECONDS", "ActiveOwners"]

FRESH_SECONDS = 1.0
"""How long a read serves the cells that ask (half of `RECONCILE_SECONDS`)."""


class ActiveOwners:
    def __init__(self, store: StorePort) -> None:
        self._store = store
        self._lock = anyio.Lock()
        self._read_at = -FRESH_SECONDS
        self._by_scope: dict[Scope, list[str]] = {}

    async def of(self, scope: Scope) -> list[str]:
        """The processes owning active runs of `scope`, as of a read at most
        `FRESH_SECONDS` old; a read that fails raises to the cell that asked, and
        the next one asking reads again."""
        async with self._lock:  # the cells asking at once share one read
            if time.monotonic() - self._read_at >= FRESH_SECONDS:
                self._by_scope = await self._store.reader.owners_by_scope()
                self._read_at = time.monotonic()
        return self._by_scope.get(scope, [])
