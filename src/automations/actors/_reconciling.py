"""Reconciling: the lease holder ends or takes over the runs of processes that died.

A process's liveness lock is free once it is dead (`_dead_owners.py`); the holder of a
scope's lease (or of its shard's) then ends or adopts that process's active runs of
the scope (`ReconcileRuns`, fenced by the lease's epoch), as it takes the lease and
every `RECONCILE_SECONDS` while it leads. A run a dead process recorded ahead of its
slot is left for its slot, and looked at again as it comes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import anyio

from ..model import AutomationError, LeaseLost
from ..persistence import Adopted, PurgeCommands, Reconciled, ReconcileRuns
from ._active_owners import ActiveOwners
from ._dead_owners import holding_dead
from ._services import Services

__all__ = [
    "RECONCILE_SECONDS",
    "keep_reconciling",
    "reconcile_dead_owners",
    "reconcile_on_taking",
    "reconciling_rounds",
]

RECONCILE_SECONDS = 2.0
"""How often the lease holder looks for processes that died while it leads."""
COMMAND_RETENTION = timedelta(minutes=10)
"""How long an answered run-now command waits for its sender to read the outcome."""
_PURGE_EVERY = 30

log = logging.getLogger("automations.actors")

Adopt = Callable[[Adopted], None]


async def reconcile_dead_owners(
    services: Services,
    adopt: Adopt,
    epoch: int | None,
    released: Callable[[], None] | None = None,
    owners: ActiveOwners | None = None,
) -> datetime | None:
    """End or adopt the active runs of each process whose liveness lock can be taken,
    fenced by the lease `epoch`: a deposed holder adopts and ends nothing. The
    processes are read for the scope, or taken from a fleet's shared read (`owners`).

    Returns the earliest slot of a run left for a later look, its slot still to come.
    """
    next_slot: datetime | None = None
    scope, reader = services.scope, services.store.reader
    for owner in await (reader.owners(scope) if owners is None else owners.of(scope)):
        if owner == services.owner:
            continue
        async with holding_dead(services.store, owner) as dead:
            if not dead:
                continue  # alive: its runs are its own
            operation = ReconcileRuns(
                owner,
                services.scope,
                services.owner,
                services.now(),
                services.resumable_executors,
                epoch,
            )
            # Shielded: once committed, its adoptions must reach their actors.
            with anyio.CancelScope(shield=True):
                result: Reconciled = await services.store.write(operation)
        if result.next_slot is not None and (next_slot is None or result.next_slot < next_slot):
            next_slot = result.next_slot
        if result.changed:  # a run left for its slot is looked at again, quietly
            log.info(
                "reconciled %d runs of %s, which is gone (%d taken over here)",
                len(result.changed),
                owner,
                len(result.adopted),
            )
        if result.released and released is not None:
            released()  # the inbox reads again from the start: their ids are behind it
        for adopted in result.adopted:
            adopt(adopted)
    return next_slot


async def reconcile_on_taking(
    services: Services, adopt: Adopt, epoch: int | None
) -> datetime | None:
    """A term's first reconciliation (`reconcile_dead_owners`). Under load a standby
    can take the lease as stale while this process takes it: the write is refused
    (`LeaseLost`) and the renewal ends the term, as it does once the term leads."""
    try:
        return await reconcile_dead_owners(services, adopt, epoch)
    except LeaseLost:
        await anyio.sleep_forever()
        raise


async def keep_reconciling(
    services: Services,
    adopt: Adopt,
    epoch: int | None,
    next_slot: datetime | None = None,
    released: Callable[[], None] | None = None,
    owners: ActiveOwners | None = None,
) -> None:
    """Reconcile the runs of processes that die while this one leads, and drop the
    answered commands whose senders never came back, until cancelled. A run a dead
    process recorded ahead of its slot is looked at again as `next_slot` comes."""

    async def one_round() -> datetime | None:
        return await reconcile_dead_owners(services, adopt, epoch, released, owners)

    await reconciling_rounds(services, one_round, next_slot)


async def reconciling_rounds(
    services: Services,
    one_round: Callable[[], Awaitable[datetime | None]],
    next_slot: datetime | None = None,
) -> None:
    """Run `one_round` every `RECONCILE_SECONDS` (sooner as the next slot it returned
    comes) and purge the commands answered long ago now and then, until cancelled or
    deposed (`LeaseLost`: the renewal ends the term)."""
    rounds = 0
    while True:
        delay = RECONCILE_SECONDS
        if next_slot is not None:
            delay = min(delay, max(0.0, (next_slot - services.now()).total_seconds()))
        await anyio.sleep(delay)
        rounds += 1
        try:
            next_slot = await one_round()
            if rounds % _PURGE_EVERY == 0:
                done_before = services.now() - COMMAND_RETENTION
                await services.store.write(PurgeCommands(done_before))
        except LeaseLost:
            return  # deposed: the renewal ends this term
        except AutomationError:  # storage trouble: try again next round
            log.exception("could not reconcile the runs of dead processes")
