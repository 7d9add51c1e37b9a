"""Keeping the ledger to its retention: the lease holder forgets what is older.

Only the lease holder of a scope prunes, so two workers never sweep the same journal
at once; a sweep is a few short writes (see `persistence._retention`), and runs on
the runtime's clock, so a test moves it along with `ManualClock`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from ..model import AutomationError, Scope, as_instant
from ..persistence import StorePort
from ..runtime import Clock

__all__ = ["PRUNE_EVERY", "keep_pruning", "prune_once"]

PRUNE_EVERY = timedelta(hours=1)
"""How often the lease holder sweeps, the first time as it takes the lease."""

log = logging.getLogger("automations.actors")


async def keep_pruning(store: StorePort, scope: Scope, clock: Clock, retention: timedelta) -> None:
    """Forget the runs of `scope` that ended more than `retention` ago, every
    `PRUNE_EVERY`, until cancelled."""
    while True:
        await prune_once(store, scope, clock, retention)
        await clock.sleep(PRUNE_EVERY.total_seconds())


async def prune_once(store: StorePort, scope: Scope, clock: Clock, retention: timedelta) -> None:
    """One sweep of `scope`; storage trouble is said, and left to the next sweep."""
    try:
        pruned = await store.prune(scope, as_instant(clock.now()) - retention)
    except AutomationError:
        log.exception("could not prune the ledger to its retention of %s", retention)
        return
    if pruned.runs or pruned.entries:
        log.info(
            "retention %s: forgot %d runs and %d journal entries",
            retention,
            pruned.runs,
            pruned.entries,
        )
