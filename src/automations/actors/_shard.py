"""A fleet worker's part of one shard: the shard's lease, one scheduler over the scopes
it leads, and a supervisor per scope (its automations' actors, its runs).

A fleet worker holds a few shard leases (`shard:N`, persistence/_shards.py), not one
lease per scope: the plan shares shards out, and a worker taking a shard over takes
one lease, reads its scopes once and opens a supervisor for each, reconciles each,
then fires them all from one scheduler that reads the shard's due index. A scope's
supervisor is opened the first time the shard leads it and stays while the shard's
cell does, leading or not: its runs go on to their end when the shard is handed over
(`_cell.py`). A scope whose own lease a live one-scope worker holds is left out: that
worker leads it. A scope that appears while the shard leads (its first automation
created), or that a one-scope worker gives back, is taken then; the scheduler fires
only the scopes led, and reads the index again once one more is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from functools import partial

import anyio
from anyio.abc import TaskGroup, TaskStatus

from ..model import Automation, DefinitionUpdated, Event, Scope
from ..persistence import ReleaseLease, lease_name, shard_lease_name
from ._active_owners import ActiveOwners
from ._fire_limit import FireLimit, Permit
from ._follower import Follower
from ._lease import hold_lease
from ._outage import patiently
from ._presence import Presence
from ._reconciling import reconcile_dead_owners, reconcile_on_taking, reconciling_rounds
from ._renewals import LeaseRenewals
from ._retention import PRUNE_EVERY, prune_once
from ._scheduler import Scheduler
from ._services import Services
from ._shard_inboxes import ShardInboxes
from ._supervisor import Supervisor
from ._territory import ShardTerritory

__all__ = ["OpenScope", "Shard"]

log = logging.getLogger("automations.actors")

OpenScope = Callable[[Scope, Callable[[], None]], AbstractAsyncContextManager[Supervisor]]
"""Opens the supervisor of one scope of the fleet (led by its shard, no lease of its
own), whose inbox tells the callable when it may have news."""

_NOT_LED = object()


class Shard:
    """What a fleet's cell serves for one shard (see `Cell.serve`)."""

    def __init__(
        self,
        number: int,
        services: Services,
        open_scope: OpenScope,
        *,
        follower: Follower,
        presence: Presence,
        fire_limit: FireLimit,
        renewals: LeaseRenewals,
        owners: ActiveOwners,
    ) -> None:
        self.number = number
        self._services = services
        self._open_scope = open_scope
        self._follower = follower
        self._presence = presence
        self._fire_limit = fire_limit
        self._owners = owners
        self.scopes: dict[Scope, Supervisor] = {}
        """The supervisors opened, each until the shard's cell closes."""
        self._led: dict[Scope, datetime | None] = {}
        """The scopes led in this term, each with the slot of a run its reconciling
        left for a later look."""
        self._taking: dict[Scope, dict[str, DefinitionUpdated]] = {}
        """The scopes being taken (reconciled), with the last change of each of their
        automations meanwhile: noted once the scope is led."""
        self._left_out: frozenset[Scope] = frozenset()
        """The scopes a live one-scope worker leads (it holds their own lease)."""
        self._gone_holders: Mapping[Scope, int] = {}
        """Scopes whose own lease names a holder that is gone, at its epoch."""
        self.territory = ShardTerritory(services.store, number, self._led)
        self._inboxes = ShardInboxes()
        self._hosts: TaskGroup | None = None
        self._leading: TaskGroup | None = None
        self._closed = anyio.Event()
        self._scheduler: Scheduler | None = None
        self._epoch: int | None = None
        self.on_run_ended: Callable[[], None] | None = None
        self.compete = partial(
            hold_lease,
            services,
            self._lead,
            renewals,
            lease=shard_lease_name(number),
            hand_over=self.hand_over,
            observe=False,
        )
        """Competes for the shard's lease, and leads while it holds it (`Cell.serve`)."""

    # -- what the cell asks ----------------------------------------------------------

    @property
    def runs(self) -> int:
        return sum(len(supervisor.runs) for supervisor in self.scopes.values())

    @property
    def idle(self) -> bool:
        return all(supervisor.idle for supervisor in self.scopes.values())

    async def forget_stale_adoptions(self) -> None:
        for supervisor in list(self.scopes.values()):
            await supervisor.forget_stale_adoptions()

    def hand_over(self) -> tuple[str, ...]:
        handed: list[str] = []
        for supervisor in self.scopes.values():
            handed += supervisor.hand_over()
        return tuple(handed)

    async def serve_scopes(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Host the scopes' supervisors until `close`: each then leaves its block, as
        a fleet's cell does (never cancelled from outside, which would end its runs
        unrecorded)."""
        async with anyio.create_task_group() as hosts:
            self._hosts = hosts
            async with anyio.create_task_group() as reading:
                reading.start_soon(self._inboxes.run)
                task_status.started()
                await self._closed.wait()
                reading.cancel_scope.cancel()

    def close(self) -> None:
        self._closed.set()

    def leave_out(self, scopes: frozenset[Scope], gone_holders: Mapping[Scope, int]) -> None:
        """The plan's facts about this shard's scopes: those a live one-scope worker
        leads now (stop leading them; take back those it gave back, while the shard
        leads), and those whose own lease names a holder that is gone."""
        before, self._left_out = self._left_out, scopes
        self._gone_holders = gone_holders
        for scope in scopes - before:
            self._step_down(scope)
        for scope in before - scopes:
            self._start_taking(scope)

    # -- leading -----------------------------------------------------------------------

    async def _lead(self, epoch: int) -> None:
        """Lead every scope of the shard under `epoch` (each reconciled before the first
        fire, DESIGN 3), fire them from one scheduler and keep reconciling them, until
        cancelled."""
        services, follower = self._services, self._follower
        scheduler = Scheduler(
            services,
            self._fire,
            epoch,
            warmer=self,
            limit=self._fire_limit,
            territory=self.territory,
        )
        self._scheduler, self._epoch = scheduler, epoch
        try:
            async with anyio.create_task_group() as leading:
                self._leading = leading
                # Listening before the read: a scope whose first automation comes
                # meanwhile is taken as it is heard of, if the read misses it.
                follower.add_shard_listener(self.number, self._on_commit, own=True)
                scopes = await patiently(
                    lambda: services.store.reader.shard_scopes((self.number,)),
                    "read the scopes of a shard",
                )
                async with anyio.create_task_group() as taking:  # side by side, all
                    for scope in scopes:  # before the first fire
                        self._start_taking(scope, taking)
                reconcile = partial(self._reconcile_round, epoch)
                leading.start_soon(reconciling_rounds, services, reconcile, self._soonest())
                if services.retention is not None:
                    leading.start_soon(self._keep_pruning, services.retention)
                await scheduler.run()
        finally:
            self._leading = self._scheduler = self._epoch = None
            follower.remove_shard_listener(self.number, self._on_commit)
            for scope in list(self._led):
                self._step_down(scope)

    def _start_taking(
        self, scope: Scope, group: TaskGroup | None = None
    ) -> dict[str, DefinitionUpdated] | None:
        """Take `scope` while the shard leads, in `group` (the term's by default); the
        changes to note once it is led (None: it is not being taken)."""
        group, epoch = group or self._leading, self._epoch
        if group is None or epoch is None or scope in self._led or scope in self._left_out:
            return None
        pending = self._taking.get(scope)
        if pending is None:
            pending = self._taking[scope] = {}
            group.start_soon(self._take, scope, epoch)
        return pending

    async def _take(self, scope: Scope, epoch: int) -> None:
        """Lead one scope of the shard: reconcile it, then take its commands for nobody
        in particular and fire it. The changes of its automations committed meanwhile
        (`_taking`) are noted once it is led."""
        pending = self._taking[scope]
        try:
            supervisor = await self._supervisor(scope)
            await self._fence_gone_holder(scope)
            next_slot = await reconcile_on_taking(supervisor.services, supervisor.adopt, epoch)
            if self._epoch != epoch or scope in self._left_out:
                return  # the term ended, or a one-scope worker took the scope meanwhile
            self._led[scope] = next_slot
            self._begin(supervisor)
        finally:
            self._taking.pop(scope, None)
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.look_again()  # its slots within the window, which the last read left out
            for event in pending.values():
                scheduler.on_commit(scope, event)

    async def _fence_gone_holder(self, scope: Scope) -> None:
        """A scope whose own lease names a holder that is gone (dead, or frozen past
        its heartbeat's expiry): move that lease to a new epoch, so that the holder's
        writes are refused if it wakes (the scope's own lease would still let them in
        beside the shard's)."""
        epoch = self._gone_holders.get(scope)
        if epoch is not None:
            release = ReleaseLease(lease_name(scope), epoch)
            store = self._services.store
            await patiently(lambda: store.write(release), "fence off a gone holder of a scope")

    def _step_down(self, scope: Scope) -> None:
        if self._led.pop(scope, _NOT_LED) is not _NOT_LED:
            supervisor = self.scopes.get(scope)
            if supervisor is not None:
                self._end(supervisor)

    async def _supervisor(self, scope: Scope) -> Supervisor:
        supervisor = self.scopes.get(scope)
        if supervisor is None:
            assert self._hosts is not None, "a shard leads while it serves its scopes"
            supervisor = await self._hosts.start(self._host, scope, name=f"scope:{scope.project}")
        return supervisor

    async def _host(
        self, scope: Scope, *, task_status: TaskStatus[Supervisor] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        async with self._open_scope(scope, partial(self._inboxes.heard, scope)) as supervisor:
            supervisor.on_run_ended = self._run_ended
            self.scopes[scope] = supervisor
            assert supervisor.inbox is not None
            self._inboxes.add(scope, supervisor.inbox)
            try:
                task_status.started(supervisor)
                await self._closed.wait()
            finally:
                self._inboxes.remove(scope)
                del self.scopes[scope]

    def _begin(self, supervisor: Supervisor) -> None:
        supervisor.leading = True
        supervisor.scheduler = self._scheduler
        assert supervisor.inbox is not None
        supervisor.inbox.lead()
        self._presence.nudge()  # the heartbeat says at once which scopes are led
        observer = supervisor.services.observer
        if observer is not None:
            observer.lease_changed(supervisor.services.scope, True)

    def _end(self, supervisor: Supervisor) -> None:
        supervisor.leading = False
        supervisor.scheduler = None
        if supervisor.inbox is not None:
            supervisor.inbox.step_down()
        self._presence.nudge()
        observer = supervisor.services.observer
        if observer is not None:
            observer.lease_changed(supervisor.services.scope, False)

    # -- reconciling and pruning the scopes led ---------------------------------------

    def _soonest(self) -> datetime | None:
        return min((slot for slot in self._led.values() if slot is not None), default=None)

    async def _reconcile_round(self, epoch: int) -> datetime | None:
        """Reconcile every scope led (a dead process's runs); the soonest slot of a run
        left for a later look."""
        for scope in list(self._led):
            supervisor = self.scopes.get(scope)
            if supervisor is None or supervisor.inbox is None:
                continue
            next_slot = await reconcile_dead_owners(
                supervisor.services,
                supervisor.adopt,
                epoch,
                supervisor.inbox.lead,  # a dead claimer's commands, handed back
                self._owners,
            )
            if scope in self._led:  # (not stepped down meanwhile)
                self._led[scope] = next_slot
        return self._soonest()

    async def _keep_pruning(self, retention: timedelta) -> None:
        services = self._services
        while True:
            for scope in list(self._led):
                await prune_once(services.store, scope, services.clock, retention)
            await services.clock.sleep(PRUNE_EVERY.total_seconds())

    # -- the scheduler's side ----------------------------------------------------------

    def _on_commit(self, scope: Scope, event: Event) -> None:
        """A commit in one of the shard's scopes: the scheduler notes it; one of a scope
        not led yet (its first automation) makes the shard take it first."""
        scheduler = self._scheduler
        if scheduler is None or scope in self._left_out:
            return
        if scope in self._led:
            scheduler.on_commit(scope, event)
        elif isinstance(event, DefinitionUpdated):
            pending = self._start_taking(scope)
            if pending is not None:
                pending[event.automation.id] = event

    def _fire(
        self,
        automation_id: str,
        slot: datetime,
        at_startup: bool,
        epoch: int | None,
        permit: Permit,
    ) -> None:
        supervisor = self.scopes.get(self.territory.scope_of(automation_id))
        if supervisor is None or not supervisor.leading:
            permit.release()  # stepped down since it was read: its holder fires it
            return
        supervisor.fire(automation_id, slot, at_startup, epoch, permit)

    def warm(self, automation: Automation) -> None:
        supervisor = self.scopes.get(self.territory.scope_of(automation.id))
        if supervisor is not None:
            supervisor.warm(automation)

    def is_warm(self, automation_id: str) -> bool:
        supervisor = self.scopes.get(self.territory.scope_of(automation_id))
        return supervisor is not None and supervisor.is_warm(automation_id)

    def _run_ended(self) -> None:
        if self.on_run_ended is not None:
            self.on_run_ended()
