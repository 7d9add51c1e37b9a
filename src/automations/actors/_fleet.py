"""A fleet worker: one process that serves every scope of its database, leading the
scopes the balancing planner gives it (`open_runtime(..., scopes="all")`).

Each scope it should lead is a *cell*: the supervisor of that scope, as a one-scope
worker has (lease, scheduler, inbox, runs), sharing the process's store, hub, follower
and heartbeat. After each heartbeat the fleet reads the live workers, the scopes and
their lease rows, plans (`_balance.plan`: the same facts give every worker the same
plan) and opens the cells it should have and tells those it should not to let their
lease go (`_cell.py`: their runs go on to their end, those of slots still to come go
with the lease). A cell's lease is the one-scope lease, with its epoch and fencing: a
scope handed over is taken when the cell that had it lets its lock go, and a slot
fires once whatever the plans say meanwhile (the unique slot index). A scope led by a
live one-scope worker is left to it. The cells share one `FireLimit`: at most
`max_scheduled_runs` scheduled runs go on in the process, whatever the scopes. See
docs/architecture.md, "The fleet", for what comes next.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio
from anyio.abc import TaskGroup, TaskStatus

from ..model import AutomationError, Scope
from ..persistence import lease_name
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
from ._supervisor import Supervisor

__all__ = ["Fleet", "open_fleet"]

log = logging.getLogger("automations.actors")


class Fleet:
    """The cells of one fleet worker, opened and closed as the plan says."""

    def __init__(self, services: Services, follower: Follower, grace: float) -> None:
        self._services = services
        self._follower = follower
        self._grace = grace
        self.cells: dict[Scope, Supervisor] = {}
        """The open cells' supervisors, leading their scope or not."""
        self._cells: dict[Scope, Cell] = {}
        """Each cell until its block is left: told to lead, or to close (never
        cancelled from outside, which would end its runs unrecorded)."""
        self._wanted: set[Scope] = set()
        """The scopes the last plan gives this worker."""
        self.presence = Presence(services, self.load, fleet=True)
        self.fire_limit = FireLimit(services.max_scheduled_runs)
        """The process's capacity, shared by its cells' schedulers."""
        self.renewals = LeaseRenewals(services.store)
        """Every cell's lease, renewed in one write a round."""
        self.owners = ActiveOwners(services.store)
        """The active runs' owners, read once a round for every cell's reconciling."""
        self._peers: set[str] = set()
        """The other live fleet workers of the last plan, watched for their death."""

    def close_all(self) -> None:
        """Close every cell as the process closes (the planning has stopped): each hands
        its slots still to come over with its lease, and leaves the rest as a one-scope
        worker does (blocked runs of resumable executors for the next holder)."""
        for supervisor in self.cells.values():
            supervisor.hand_back = True
        for cell in self._cells.values():
            cell.close()

    def load(self) -> tuple[int, tuple[Scope, ...]]:
        """(runs executing in every cell, scopes whose lease a cell holds), for the
        heartbeat."""
        running = sum(len(cell.runs) for cell in self.cells.values())
        leading = tuple(
            sorted(
                (scope for scope, cell in self.cells.items() if cell.leading),
                key=lambda s: (s.project, s.directory),
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
                log.exception("could not plan this worker's share of the scopes")
                wanted = self._wanted
            self._wanted = wanted
            for scope, cell in self._cells.items():
                if not cell.closing:  # one closing is opened again once it is closed
                    cell.want(scope in wanted)
            # Opened side by side: their first lease writes share commits.
            async with anyio.create_task_group() as opening:
                for scope in sorted(wanted - set(self._cells), key=_order):
                    cell = self._cells[scope] = Cell(scope)
                    opening.start_soon(
                        partial(cells.start, name=f"cell:{scope.project}"), self._cell, cell
                    )
            await self.presence.next_beat(after=seen)

    async def wanted(self) -> set[Scope]:
        """The scopes this worker should lead, as the plan of the live facts says."""
        store, me = self._services.store, self._services.owner
        workers = await live_workers(store)
        leases = await store.reader.leases()
        fleet = {w.id: w.capacity for w in workers if w.fleet}
        self._peers = set(fleet) - {me}
        others = {w.id for w in workers if not w.fleet}
        names: dict[str, Scope] = {}
        for scope, _ in await store.reader.scopes():
            row = leases.get(lease_name(scope))
            if row is None or row.holder not in others:  # a one-scope worker keeps its own
                names[lease_name(scope)] = scope
        holders = {name: leases[name].holder for name in names if name in leases}
        assignment = plan(fleet, names, holders).assignment
        return {names[name] for name, worker in assignment.items() if worker == me}

    async def watch_peers(self) -> None:
        """Plan again as soon as a peer's process dies (its liveness lock is free),
        not at the next heartbeat: its scopes move within a poll, until cancelled."""
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

    async def _cell(
        self, cell: Cell, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        scope = cell.scope
        services = dataclasses.replace(self._services, scope=scope, role="worker")
        try:
            async with open_supervisor(
                services,
                grace=self._grace,
                follower=self._follower,
                presence=self.presence,
                fire_limit=self.fire_limit,
                renewals=self.renewals,
                owners=self.owners,
            ) as supervisor:
                self.cells[scope] = supervisor
                try:
                    await cell.serve(supervisor, task_status=task_status)
                finally:
                    del self.cells[scope]
                    cell.closing = True  # the plan leaves it be while it closes
        finally:
            del self._cells[scope]
        if scope in self._wanted:  # given back while it closed: plan again now
            self.presence.nudge()


def _order(scope: Scope) -> tuple[str, str]:
    return scope.project, scope.directory


@asynccontextmanager
async def open_fleet(services: Services, follower: Follower, grace: float) -> AsyncIterator[Fleet]:
    """Serve every scope of the store as the plan gives them to this worker, until the
    block exits; on exit every cell closes (`Fleet.close_all`)."""
    fleet = Fleet(services, follower, grace)
    async with anyio.create_task_group() as beating:
        await beating.start(fleet.presence.run, name="presence")
        beating.start_soon(fleet.renewals.run, name="lease-renewals")
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
