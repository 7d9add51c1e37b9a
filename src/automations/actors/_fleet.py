"""A fleet worker: one process that serves every scope of its database, leading the
shards the balancing planner gives it (`open_runtime(..., scopes="all")`).

The scopes fall into a fixed number of shards (persistence/_shards.py); the unit of
duty is a shard, with one lease. Each shard the worker should lead is a *cell*
(`_cell.py`) serving a `Shard` (`_shard.py`): the shard's lease, one scheduler over
its scopes, and a supervisor per scope (its inbox, its runs), sharing the process's
store, hub, follower and heartbeat. After each heartbeat the fleet reads the live
workers, the scopes and the lease rows, plans (`_balance.plan`: the same facts give
every worker the same plan) and opens the cells it should have and tells those it
should not to let their lease go (their runs go on to their end, those of slots still
to come go with the lease). A shard's lease fences its scopes' writes beside each
scope's own lease (`check_epoch`): a shard handed over is taken when the cell that
had it lets its lock go, and a slot fires once whatever the plans say meanwhile (the
unique slot index). A scope led by a live one-scope worker (it holds the scope's own
lease) is left to it; one whose own lease names a holder that is gone has that lease
moved to a new epoch as the shard takes the scope, which fences the holder off.
The cells share one `FireLimit`: at most `max_scheduled_runs` scheduled runs go on in
the process, whatever the scopes. See docs/architecture.md, "The fleet".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial

import anyio
from anyio.abc import TaskGroup, TaskStatus

from ..model import AutomationError, Scope
from ..persistence import lease_name, shard_lease_name, shard_of
from ._active_owners import ActiveOwners
from ._balance import plan
from ._cell import Cell
from ._fire_limit import FireLimit
from ._follower import Follower
from ._lease import POLL_SECONDS, holder_alive
from ._open_supervisor import open_supervisor
from ._presence import Presence, live_workers
from ._renewals import LeaseRenewals
from ._services import Services
from ._shard import Shard
from ._slot_starts import SlotStarts
from ._supervisor import Supervisor

__all__ = ["Fleet", "open_fleet"]

log = logging.getLogger("automations.actors")


class Fleet:
    """The cells of one fleet worker, opened and closed as the plan says."""

    def __init__(self, services: Services, follower: Follower, grace: float) -> None:
        self._services = services
        self._follower = follower
        self._grace = grace
        self.shards: dict[int, Shard] = {}
        """The open cells' shards, leading or not."""
        self._cells: dict[int, Cell] = {}
        """Each cell until its block is left: told to lead, or to close (never
        cancelled from outside, which would end its runs unrecorded)."""
        self._wanted: set[int] = set()
        """The shards the last plan gives this worker."""
        self._left_out: dict[int, set[Scope]] = {}
        """By shard, the scopes a live one-scope worker leads, as of the last plan."""
        self._gone_holders: dict[int, dict[Scope, int]] = {}
        """By shard, the scopes whose own lease names a holder that is gone, at its
        epoch, as of the last plan: a shard taking one fences that holder off first."""
        self.presence = Presence(services, self.load, fleet=True)
        self.fire_limit = FireLimit(services.max_scheduled_runs)
        """The process's capacity, shared by its cells' schedulers."""
        self.renewals = LeaseRenewals(services.store)
        """Every cell's lease, renewed in one write a round."""
        self.owners = ActiveOwners(services.store)
        """The active runs' owners, read once a round for every scope's reconciling."""
        self.slot_starts = SlotStarts(services.store, services.clock)
        """The runs of every scope waiting for their slot: one alarm, one commit a slot."""
        self._peers: set[str] = set()
        """The other live fleet workers of the last plan, watched for their death."""

    @property
    def supervisors(self) -> dict[Scope, Supervisor]:
        """Every open scope's supervisor, leading or not."""
        found: dict[Scope, Supervisor] = {}
        for shard in self.shards.values():
            found.update(shard.scopes)
        return found

    def close_all(self) -> None:
        """Close every cell as the process closes (the planning has stopped): each hands
        its slots still to come over with its lease, and leaves the rest as a one-scope
        worker does (blocked runs of resumable executors for the next holder)."""
        for supervisor in self.supervisors.values():
            supervisor.hand_back = True
        for cell in self._cells.values():
            cell.close()

    def load(self) -> tuple[int, tuple[Scope, ...]]:
        """(runs executing in every cell, scopes led here), for the heartbeat."""
        supervisors = self.supervisors
        running = sum(len(supervisor.runs) for supervisor in supervisors.values())
        leading = tuple(
            sorted(
                (scope for scope, supervisor in supervisors.items() if supervisor.leading),
                key=_order,
            )
        )
        return running, leading

    async def run(self, cells: TaskGroup) -> None:
        """Plan now and after each heartbeat, until cancelled."""
        while True:
            seen = self.presence.beats  # a peer's death told meanwhile is not missed
            try:
                wanted = await self.wanted()
            except AutomationError:  # storage trouble: the next heartbeat plans again
                log.exception("could not plan this worker's share of the shards")
                wanted = self._wanted
            self._wanted = wanted
            for number, cell in self._cells.items():
                if not cell.closing:  # one closing is opened again once it is closed
                    cell.want(number in wanted)
            for number, shard in self.shards.items():
                self._tell(number, shard)
            # Opened side by side: their first lease writes share commits.
            async with anyio.create_task_group() as opening:
                for number in sorted(wanted - set(self._cells)):
                    cell = self._cells[number] = Cell(f"shard:{number}")
                    opening.start_soon(
                        partial(cells.start, name=f"cell:shard:{number}"), self._cell, number, cell
                    )
            await self.presence.next_beat(after=seen)

    async def wanted(self) -> set[int]:
        """The shards this worker should lead, as the plan of the live facts says; the
        scopes a one-scope worker leads are noted, to be left to it."""
        store, me = self._services.store, self._services.owner
        workers = await live_workers(store)
        leases = await store.reader.leases()
        fleet = {w.id: w.capacity for w in workers if w.fleet}
        self._peers = set(fleet) - {me}
        others = {w.id for w in workers if not w.fleet}
        left_out: dict[int, set[Scope]] = {}
        gone: dict[int, dict[Scope, int]] = {}
        names: dict[str, int] = {}
        for scope, _ in await store.reader.scopes():
            number = shard_of(scope)
            names[shard_lease_name(number)] = number
            row = leases.get(lease_name(scope))
            if row is not None and row.holder in others:  # a one-scope worker keeps its own
                left_out.setdefault(number, set()).add(scope)
            elif row is not None and row.holder:
                gone.setdefault(number, {})[scope] = row.epoch
        self._left_out, self._gone_holders = left_out, gone
        holders = {name: leases[name].holder for name in names if name in leases}
        assignment = plan(fleet, names, holders).assignment
        return {names[name] for name, worker in assignment.items() if worker == me}

    async def watch_peers(self) -> None:
        """Plan again as soon as a peer's process dies (its liveness lock is free),
        not at the next heartbeat: its shards move within a poll, until cancelled."""
        store = self._services.store
        while True:
            await anyio.sleep(POLL_SECONDS)
            for peer in tuple(self._peers):
                try:
                    alive = await holder_alive(store, peer)
                except AutomationError:  # storage trouble: the heartbeat plans anyway
                    break
                if not alive:
                    log.info("fleet worker %s is gone: planning again now", peer)
                    self._peers.discard(peer)
                    self.presence.nudge()

    def _tell(self, number: int, shard: Shard) -> None:
        """Tell `shard` the plan's facts about its scopes."""
        left_out = frozenset(self._left_out.get(number, ()))
        shard.leave_out(left_out, self._gone_holders.get(number, {}))

    def _open_scope(
        self, scope: Scope, inbox_heard: Callable[[], None]
    ) -> AbstractAsyncContextManager[Supervisor]:
        services = dataclasses.replace(self._services, scope=scope, role="worker")
        return open_supervisor(
            services,
            grace=self._grace,
            follower=self._follower,
            presence=self.presence,
            fire_limit=self.fire_limit,
            owners=self.owners,
            slot_starts=self.slot_starts,
            inbox_heard=inbox_heard,
        )

    async def _cell(
        self, number: int, cell: Cell, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        shard = Shard(
            number,
            self._services,
            self._open_scope,
            follower=self._follower,
            presence=self.presence,
            fire_limit=self.fire_limit,
            renewals=self.renewals,
            owners=self.owners,
        )
        self._tell(number, shard)
        self.shards[number] = shard
        try:
            async with anyio.create_task_group() as hosting:
                await hosting.start(shard.serve_scopes)
                try:
                    await cell.serve(shard, task_status=task_status)
                finally:
                    cell.closing = True  # the plan leaves it be while it closes
                    shard.close()
        finally:
            del self.shards[number]
            del self._cells[number]
        if number in self._wanted:  # given back while it closed: plan again now
            self.presence.nudge()


def _order(scope: Scope) -> tuple[str, str]:
    return scope.project, scope.directory


@asynccontextmanager
async def open_fleet(services: Services, follower: Follower, grace: float) -> AsyncIterator[Fleet]:
    """Serve every scope of the store as the plan gives their shards to this worker,
    until the block exits; on exit every cell closes (`Fleet.close_all`)."""
    fleet = Fleet(services, follower, grace)
    async with anyio.create_task_group() as beating:
        await beating.start(fleet.presence.run, name="presence")
        beating.start_soon(fleet.renewals.run, name="lease-renewals")
        beating.start_soon(fleet.slot_starts.run, name="slot-starts")
        try:
            async with anyio.create_task_group() as cells:
                async with anyio.create_task_group() as planning:
                    planning.start_soon(fleet.run, cells, name="fleet")
                    planning.start_soon(fleet.watch_peers, name="fleet-peers")
                    try:
                        yield fleet
                    finally:
                        planning.cancel_scope.cancel()
                fleet.close_all()  # each cell leaves its block: its runs end recorded
        finally:
            beating.cancel_scope.cancel()
