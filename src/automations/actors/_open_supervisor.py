"""Opening a supervisor: in a worker, with what leads a scope beside it. The worker
competes for its scope's lease, executes the commands other processes send it, keeps
its heartbeat, and while it leads, fires (reconciling first, DESIGN 3) and keeps
reconciling and pruning.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup

from ..runtime import ActorGroup
from ._active_owners import ActiveOwners
from ._fire_limit import FireLimit
from ._follower import Follower
from ._inbox import Inbox
from ._lease import hold_lease
from ._presence import Presence
from ._reconciling import keep_reconciling, reconcile_on_taking
from ._renewals import LeaseRenewals
from ._retention import keep_pruning
from ._scheduler import Scheduler
from ._services import Services
from ._slot_starts import SlotStarts
from ._supervisor import Supervisor

__all__ = ["open_supervisor"]


@asynccontextmanager
async def open_supervisor(
    services: Services,
    *,
    grace: float,
    follower: Follower | None = None,
    presence: Presence | None = None,
    fire_limit: FireLimit | None = None,
    renewals: LeaseRenewals | None = None,
    owners: ActiveOwners | None = None,
    slot_starts: SlotStarts | None = None,
    inbox_heard: Callable[[], None] | None = None,
) -> AsyncIterator[Supervisor]:
    """The supervisor with its follower and, in a worker, the lease, the scheduler, the
    inbox and the heartbeat; on exit, runs and actors stop with a reason. A fleet's
    cell (one scope of a worker that serves many) shares the fleet's `follower`, which
    it does not run, its `presence`, which it only tells of its lease, its
    `fire_limit`, the process's capacity, its read of the active runs' `owners` and
    its `slot_starts` alarm, which the fleet runs. It has no lease of its own: its
    shard's cell leads it (`_shard.py`), and reads its inbox when told
    (`inbox_heard`, given for such a scope only)."""
    shared = follower is not None
    if follower is None:
        follower = Follower(services.store, services.hub)
    async with anyio.create_task_group() as runs, anyio.create_task_group() as actors:
        supervisor = Supervisor(
            services, runs, ActorGroup(actors), follower, fire_limit, slot_starts
        )
        supervisor.hand_back = not shared
        supervisor.in_fleet = inbox_heard is not None
        supervisor.owners = owners
        follower.add_listener(services.scope, supervisor.on_foreign)
        try:
            async with anyio.create_task_group() as background:
                if not shared:
                    await background.start(follower.run, name="follower")
                if services.role == "worker":
                    if slot_starts is None:  # (a fleet runs the one its scopes share)
                        background.start_soon(supervisor.slot_starts.run, name="slot-starts")
                    await _start_worker(
                        background, supervisor, presence, renewals, inbox_heard=inbox_heard
                    )
                try:
                    yield supervisor
                finally:
                    background.cancel_scope.cancel()
        finally:
            if inbox_heard is not None and supervisor.inbox is not None:
                supervisor.inbox.stop_listening()
            with anyio.CancelScope(shield=True):
                await supervisor.shutdown(grace, hand_back=supervisor.hand_back)
            if shared:
                follower.remove_listener(services.scope, supervisor.on_foreign)
        runs.cancel_scope.cancel()  # what is left ignored cancellation past the grace


async def _start_worker(
    background: TaskGroup,
    supervisor: Supervisor,
    presence: Presence | None,
    renewals: LeaseRenewals | None,
    *,
    inbox_heard: Callable[[], None] | None,
) -> None:
    """Compete for the lease (unless its shard's cell leads it: `inbox_heard` given);
    execute what other processes ask of this one; keep the heartbeat row and renew
    the lease (unless a fleet does: `presence` given)."""
    services, follower = supervisor.services, supervisor.follower
    inbox = supervisor.inbox = Inbox(
        services, follower, supervisor.automation, supervisor.runs, wake=inbox_heard
    )
    if presence is None:
        presence = Presence(services, supervisor.load)
        await background.start(presence.run, name="presence")
    supervisor.presence = presence
    if inbox_heard is not None:  # its shard leads it, and reads its inbox
        inbox.listen()
        return
    background.start_soon(inbox.run, name="inbox")
    if renewals is None:
        renewals = LeaseRenewals(services.store)
        background.start_soon(renewals.run, name="lease-renewals")

    async def lead(epoch: int) -> None:
        supervisor.leading = True
        presence.nudge()
        try:
            await _lead(supervisor, inbox, epoch)
        finally:
            supervisor.leading = False
            presence.nudge()

    await background.start(hold_lease, services, lead, renewals, name="scheduler-lease")


async def _lead(supervisor: Supervisor, inbox: Inbox, epoch: int) -> None:
    """Lead the scope under `epoch`: reconcile, fire, keep reconciling and pruning."""
    services, follower = supervisor.services, supervisor.follower
    # DESIGN 3: reconcile first, then fire (missed fires included), then lead.
    next_slot = await reconcile_on_taking(services, supervisor.adopt, epoch)
    scheduler = Scheduler(
        services, supervisor.fire, epoch, warmer=supervisor, limit=supervisor.fire_limit
    )
    follower.add_listener(services.scope, scheduler.on_commit, own=True)
    supervisor.scheduler = scheduler
    inbox.lead()
    try:
        async with anyio.create_task_group() as leading:
            leading.start_soon(
                keep_reconciling,
                services,
                supervisor.adopt,
                epoch,
                next_slot,
                inbox.lead,  # a dead claimer's commands, handed back
                supervisor.owners,
                name="reconcile",
            )
            if services.retention is not None:
                leading.start_soon(
                    keep_pruning,
                    services.store,
                    services.scope,
                    services.clock,
                    services.retention,
                    name="retention",
                )
            await scheduler.run()
    finally:  # stepping down (or closing): this scheduler is done
        inbox.step_down()
        supervisor.scheduler = None
        follower.remove_listener(services.scope, scheduler.on_commit)
