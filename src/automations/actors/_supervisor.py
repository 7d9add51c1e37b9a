"""Supervisor: routes commands to automation actors and owns every task of a runtime.

Automation actors are activated on demand (see `AutomationActor`) in a supervised
actor group; each run is a task of the supervisor's run group, started once its first
write is durable. The bookkeeping of an
automation's runs going on (`GoingRuns`) is kept here, not in its actor, so an actor
restarted after a crash still stops, and orders, every run of its automation. Shutdown
stops every run with a recorded reason, then stops the actors, so a runtime closed
cleanly leaves no task behind and no active run without a record of why. The one
exception is a run recorded ahead of a slot still to come: it stays `scheduled`, which
is what it is, and the next lease holder starts it at its slot.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import partial
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..model import (
    Automation,
    AutomationError,
    DefinitionDeleted,
    DefinitionUpdated,
    Event,
    Scope,
    StopReason,
    Trigger,
)
from ..persistence import Adopted, PendingWrite, ReleaseLease
from ..runtime import ActorGroup, ActorRef, MailboxClosed
from ._active_owners import ActiveOwners
from ._automation_actor import AutomationActor
from ._fire_limit import FireLimit, Permit
from ._follower import Follower
from ._going import GoingRuns
from ._inbox import Inbox
from ._messages import Adopt, AutomationMessage, Fire, Refresh, RunEnded
from ._presence import Presence
from ._records import record_stopped
from ._run_actor import RunActor
from ._run_phase import Phase
from ._scheduler import Scheduler
from ._services import Services
from ._shutdown_report import ShutdownReport
from ._slot_starts import SlotStarts

__all__ = ["Supervisor"]

log = logging.getLogger("automations.actors")


class Supervisor:
    def __init__(
        self,
        services: Services,
        runs: TaskGroup,
        actors: ActorGroup[AutomationMessage],
        follower: Follower,
        fire_limit: FireLimit | None = None,
        slot_starts: SlotStarts | None = None,
    ) -> None:
        self.services = services
        self.follower = follower
        self._runs_group = runs
        self._actors = actors
        self._automations: dict[str, ActorRef[AutomationMessage]] = {}
        self.runs: dict[str, RunActor] = {}
        self._adopting: dict[str, Adopted] = {}
        """Runs adopted (`running` under this process) whose actor has not started."""
        self._going: dict[str, GoingRuns] = {}
        """Per automation with runs going on or an active actor."""
        self.fire_limit = fire_limit or FireLimit(services.max_scheduled_runs)
        """Shared by the schedulers of every lease term (a run keeps its permit across),
        and by a fleet's cells (the process's capacity)."""
        self.slot_starts = slot_starts or SlotStarts(services.store, services.clock)
        """The alarm of the runs waiting for their slot: a fleet's, shared by its scopes
        (its process runs it), or this runtime's own."""
        self.scheduler: Scheduler | None = None
        """The scheduler of this process's lease term, while it leads."""
        self._closing = False
        self.leading = False
        """Whether this process holds its scope's scheduler lease now."""
        self.hand_back = True
        """Whether its close leaves runs for the next holder (those recorded ahead of
        their slot, those blocked with a resumable executor): a fleet's cell closes
        while its process lives on only once no run is left (`_cell.py`)."""
        self.presence: Presence | None = None
        """A worker's heartbeat row (None in a client, which records none)."""
        self.owners: ActiveOwners | None = None
        """A fleet's shared read of the active runs' owners, which its cells reconcile
        from (None: the lease holder reads its scope's)."""
        self.on_run_ended: Callable[[], None] | None = None
        """Told when a run ends (a fleet's cell that let its lease go waits to be idle)."""
        self.in_fleet = False
        """A scope of a fleet worker, led by its shard's cell (`_shard.py`) while the
        plan gives the worker that shard, and living on without it while runs go on."""
        self.inbox: Inbox | None = None
        """A worker's side of the command inbox (None in a client)."""
        self.report: ShutdownReport | None = None
        """What the close left and stopped, once it is closed."""
        # Bound once, shared by every activation and run: each bound method is an
        # object the collector scans, and a busy slot holds thousands of actors.
        self._bound_spawn_run = self._spawn_run
        self._bound_spawn_task = self._spawn_task
        self._bound_tell = self.tell
        self._bound_run_ended = self._run_ended
        self._bound_deactivated = self._deactivated
        self._bound_due_again = self.due_again

    @property
    def active_automations(self) -> int:
        return len(self._automations)

    def load(self) -> tuple[int, tuple[Scope, ...]]:
        """(runs executing here, scopes led here): what this worker's heartbeat says."""
        return len(self.runs), (self.services.scope,) if self.leading else ()

    def automation(
        self, automation_id: str, preloaded: Automation | None = None
    ) -> ActorRef[AutomationMessage]:
        """The actor of `automation_id`, activated if it is not running; a definition
        just read (`preloaded`) spares the activation its own read."""
        if self._closing:
            raise MailboxClosed("the runtime is closing")
        ref = self._automations.get(automation_id)
        if ref is None:
            ref = ActorRef(f"automation:{automation_id}")
            self._automations[automation_id] = ref
            going = self._going.get(automation_id)
            if going is None:
                going = self._going[automation_id] = GoingRuns(self.slot_starts)
            # A partial, not a closure: fewer objects for the collector per active actor.
            factory = partial(self._activate, automation_id, going, [preloaded])
            self._actors.spawn(ref, factory, self._bound_deactivated)
        return ref

    def _activate(
        self, automation_id: str, going: GoingRuns, first: list[Automation | None]
    ) -> AutomationActor:
        """An activation of the automation's actor (again after a crash: it then reads
        its definition itself; only the first gets the one just read)."""
        definition, first[0] = first[0], None
        return AutomationActor(
            automation_id,
            self.services,
            spawn_run=self._bound_spawn_run,
            spawn_task=self._bound_spawn_task,
            route=self._bound_tell,
            report_end=self._bound_run_ended,
            runs=going,
            due_again=self._bound_due_again,
            preloaded=definition,
        )

    def warm(self, automation: Automation) -> None:
        """Activate the actor of an automation about to fire (the scheduler's warm-up)."""
        if not self._closing and automation.id not in self._automations:
            self.automation(automation.id, automation)

    def is_warm(self, automation_id: str) -> bool:
        return automation_id in self._automations

    def fire(
        self,
        automation_id: str,
        slot: datetime,
        at_startup: bool,
        epoch: int | None,
        permit: Permit,
    ) -> None:
        """The scheduler's way in: the slot is due."""
        self.tell(automation_id, Fire(slot, at_startup, epoch, permit))

    def due_again(self, automation: Automation) -> None:
        """A fire the database refused: the scheduler looks at its slot again soon."""
        if self.scheduler is not None:
            self.scheduler.note_refused(automation)

    def adopt(self, adopted: Adopted) -> None:
        """Go on with a run of a dead process (reconciliation took it over). Until its
        actor starts it, it is noted here: a close before then hands it back."""
        self._adopting[adopted.run.id] = adopted
        self.tell(adopted.run.automation_id, Adopt(adopted))

    def on_foreign(self, scope: Scope, event: Event) -> None:
        """Another process changed a definition: tell its actor, if it is active here."""
        if scope != self.services.scope:
            return
        if isinstance(event, DefinitionUpdated):
            automation_id, automation = event.automation.id, event.automation
        elif isinstance(event, DefinitionDeleted):
            automation_id, automation = event.tombstone.id, None
        else:
            return
        if automation_id in self._automations:
            self.tell(automation_id, Refresh(automation))

    def tell(self, automation_id: str, message: AutomationMessage) -> None:
        if self._closing:
            return  # shutting down: the actors are stopping; runs record their own ends
        self.automation(automation_id).tell(message)

    def _deactivated(self, ref: ActorRef[AutomationMessage]) -> None:
        automation_id = ref.name.removeprefix("automation:")
        if self._automations.get(automation_id) is ref:
            del self._automations[automation_id]
            going = self._going.get(automation_id)
            if going is not None and not going:
                del self._going[automation_id]

    def _run_ended(self, actor: RunActor) -> None:
        """A run is finished (its end durable, its task done: until then a cancel still
        finds it here); tell its automation's actor (perhaps a later activation)."""
        if self.runs.get(actor.id) is actor:
            del self.runs[actor.id]
        self.tell(actor.automation.id, RunEnded.of(actor))
        if self.on_run_ended is not None:
            self.on_run_ended()

    def _spawn_run(self, actor: RunActor) -> None:
        if self.services.role == "client":  # pragma: no cover - the API never asks
            raise AssertionError("a client runtime never executes runs")
        if self._closing and actor.phase is Phase.ADOPTED:
            return  # adopted as the process closes: handed back, see `shutdown`
        self._adopting.pop(actor.id, None)
        if self.in_fleet and not self.leading and actor.recorded:
            self._hand_over_late(actor)
        first = actor.submit_first_write()  # raises if the store is closed: not a run yet
        self.runs[actor.id] = actor
        if first is None:
            self._start_run_task(actor)
        else:  # the run's task starts when its first write is done: one wake-up, not two
            first.add_done_callback(lambda _: self._start_run_task(actor))

    def _hand_over_late(self, actor: RunActor) -> None:
        """A retry held by a fleet's cell that does not lead (its run went on here after
        the lease was handed over, or ended as it went): it goes to the scope's holder,
        as if handed over with the lease. At an epoch no lease has, the release moves
        the run and nothing else."""
        if actor.phase is not Phase.CLAIMED or not actor.release():
            return
        s = self.services
        write = s.store.submit(ReleaseLease(s.lease, -1, s.owner, (actor.id,)))
        write.add_done_callback(_logged_if_failed)

    def _start_run_task(self, actor: RunActor) -> None:
        self._runs_group.start_soon(actor.main, name=actor.id)

    def _spawn_task(self, function: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """A helper task of a run (timeout watchdog, cancel grace), in the run group."""
        self._runs_group.start_soon(function, name=name)

    def hand_over(self) -> tuple[str, ...]:
        """The scope's lease goes to another worker while this process lives on: the
        runs that go with it, left `scheduled` (nothing written) for its next holder;
        the others go on here to their end."""
        handed: list[str] = []
        for actor in list(self.runs.values()):
            # A slot (or a retry's time) still to come goes; a run that began goes on.
            if actor.run.trigger is not Trigger.MANUAL and actor.release():
                handed.append(actor.id)
            else:
                actor.ledger.unfence()
        return tuple(handed)

    @property
    def idle(self) -> bool:
        """No run goes on here, nor is about to (adopted, its actor not started)."""
        return not self.runs and not self._adopting

    async def forget_stale_adoptions(self) -> None:
        """Drop the adopted runs that moved on before their actor started them (a
        cancel got there first, or the automation was deleted): their actor let them
        be, and nothing else takes them off the list, so `idle` would never hold."""
        store, scope = self.services.store, self.services.scope
        for run_id, adopted in list(self._adopting.items()):
            current = await store.reader.run_by_id(scope, run_id)
            if current is None or current.revision != adopted.run.revision:
                self._adopting.pop(run_id, None)

    async def shutdown(self, grace: float, *, hand_back: bool = True) -> ShutdownReport:
        """Stop every run with a recorded reason (`worker_stopped`), but leave to the
        next worker those that wait on a blocker with a resumable executor, and those
        still waiting for their slot; then stop the actors; bounded by `grace`. What
        was left and stopped is the report. Without `hand_back` every run is stopped."""
        self._closing = True
        released = 0
        left: list[RunActor] = []
        stopped: list[RunActor] = []
        for actor in list(self.runs.values()):
            if hand_back and actor.release():
                released += 1
            elif hand_back and actor.leave():
                left.append(actor)
            else:
                actor.request_stop(StopReason.WORKER_STOPPED)
                stopped.append(actor)
        if released:
            log.info("left %d runs recorded ahead of their slot to the next lease holder", released)
        with anyio.move_on_after(grace + 5):
            for actor in list(self.runs.values()):
                await actor.finished.wait()
        await self._actors.stop(grace)
        await self._hand_back_adopted()
        report = ShutdownReport.of(released, left, stopped)
        self.report = report
        return report

    async def _hand_back_adopted(self) -> None:
        """A run adopted too late to start here is not left `running` by a clean close:
        it ends `blocker_lost` (it was waiting on a person) or `expired` (its slot's
        start), as reconciliation would have ended it."""
        adopting, self._adopting = self._adopting, {}
        for adopted in adopting.values():
            reason = StopReason.EXPIRED if adopted.blocker is None else StopReason.BLOCKER_LOST
            with contextlib.suppress(AutomationError):  # it moved on meanwhile (Conflict)
                services = self.services
                await record_stopped(
                    services.store, services.scope, services.now(), adopted.run, reason
                )


def _logged_if_failed(write: PendingWrite[bool]) -> None:
    if write.error is not None:  # left to this process's death, then reconciled
        log.warning("could not hand a run over to the scope's holder: %s", write.error)
