"""AutomationActor: every change to one automation passes through it.

It is a virtual actor: the supervisor activates it when a message arrives and it
stops itself when it has no active run, so 100,000 automations cost 100,000 rows, not
100,000 tasks. Messages for one automation are handled one at a time, so its
definition and its overlap bookkeeping need no locks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ..model import (
    Automation,
    AutomationError,
    Conflict,
    LeaseLost,
    NotFound,
    Run,
    StopReason,
    Tombstone,
)
from ..persistence import Adopted
from ..runtime import Reply
from ._derived import after_fire, after_terminal, ends_its_fire
from ._derived_writes import DerivedWrites
from ._fire_limit import Permit
from ._firing import Firing, answer, plan_fire
from ._going import GoingRuns
from ._messages import (
    Adopt,
    AutomationMessage,
    BackfillSlot,
    Delete,
    Fire,
    Refresh,
    Reload,
    RunEnded,
    RunNow,
    Update,
)
from ._outage import patiently
from ._patching import patched
from ._records import record_stopped
from ._retries import NextAttempt
from ._run_actor import RunActor
from ._run_phase import Phase
from ._services import Services

__all__ = ["AutomationActor"]

log = logging.getLogger("automations.actors")

_KEEP_WARM = timedelta(seconds=5)

SpawnRun = Callable[[RunActor], None]
DueAgain = Callable[[Automation], None]
SpawnTask = Callable[[Callable[[], Coroutine[Any, Any, None]], str], None]
Route = Callable[[str, AutomationMessage], None]
T = TypeVar("T")


class AutomationActor:
    __slots__ = (
        "_due_again",
        "_firing",
        "_permit",
        "_preloaded",
        "_report_end",
        "_route",
        "_services",
        "_spawn_run",
        "_spawn_task",
        "_writes",
        "automation",
        "id",
        "runs",
    )

    def __init__(
        self,
        automation_id: str,
        services: Services,
        *,
        spawn_run: SpawnRun,
        spawn_task: SpawnTask,
        route: Route,
        report_end: Callable[[RunActor], None],
        runs: GoingRuns,
        due_again: DueAgain,
        preloaded: Automation | None = None,
    ) -> None:
        """`runs` is the automation's bookkeeping of its runs going on, kept by the
        supervisor: an activation restarted after a crash goes on with it. `due_again`
        puts a slot whose fire the database refused back in the scheduler's index."""
        self.id = automation_id
        self._services = services
        self._spawn_run = spawn_run
        self._spawn_task = spawn_task
        self._route = route
        self._due_again = due_again
        self._report_end = report_end
        """Tells the automation's actor, whichever activation it is by then, of a run's end."""
        self.automation: Automation | None = preloaded
        self._preloaded = preloaded is not None
        self.runs = runs
        runs.definition = self._definition
        self._writes = DerivedWrites(services.store, self._derived_failed)
        self._firing = Firing(services, runs, self._start_run, self._reschedule)
        self._permit: Permit | None = None
        """The permit of the fire being handled, until a run it starts takes it."""

    def _definition(self) -> Automation | None:
        return self.automation

    async def on_start(self) -> None:
        if not self._preloaded:
            await self._reload(patient=True)

    def idle(self) -> bool:
        """Nothing running or waiting, and no fire due within `_KEEP_WARM` (kept warm, it
        saves a database read per fire; memory stays bounded by how many fire that soon)."""
        if self.runs:
            return False
        automation = self.automation
        if automation is None or automation.next_fire_at is None:
            return True
        return automation.next_fire_at - self._services.clock.now() > _KEEP_WARM

    def on_crash(self, message: AutomationMessage, error: BaseException) -> None:
        if isinstance(message, Update | Delete | RunNow | BackfillSlot):
            message.reply.fail(error)

    async def handle(self, message: AutomationMessage) -> None:
        if isinstance(message, RunEnded):
            await self._run_ended(message)
            return
        if isinstance(message, Refresh):
            self._refresh(message.automation)
            return
        if isinstance(message, Reload):
            await self._reload(patient=True)
            self._writes.forget()
            if self.automation is not None:  # a refused fire leaves its slot due
                self._due_again(self.automation)
            return
        if isinstance(message, Adopt):
            await self._adopt(message.adopted)
            return
        if isinstance(message, Fire):
            self._permit = message.permit
            try:
                await self._fire(message)
            except LeaseLost:
                log.warning("not firing %s: this process lost the scheduler lease", self.id)
            except AutomationError:  # the slot stays next_fire_at: look again soon
                log.exception("could not fire %s; the scheduler will try again", self.id)
                self._route(self.id, Reload())
            finally:  # no run took it (skipped, missed, stale): free at once
                permit, self._permit = self._permit, None
                if permit is not None:
                    permit.release()
            return
        if self.automation is None:
            message.reply.fail(NotFound(f"no automation {self.id} in this project and directory"))
            return
        if isinstance(message, RunNow):
            now = self._services.now()
            await self._firing.run_now(self.automation, message.run_id, now, message.reply)
        elif isinstance(message, BackfillSlot):
            await self._firing.backfill(self.automation, message)
        elif isinstance(message, Update):
            await answer(message.reply, self._update_fresh(message))
        elif isinstance(message, Delete):
            await answer(message.reply, self._delete(self.automation))

    # -- definition -----------------------------------------------------------------

    async def _reload(self, *, patient: bool = False) -> None:
        """Read the definition again: another process may have changed it. `patient`
        rides out an outage (an actor that crashed on one would only crash again)."""
        services = self._services

        def read() -> Awaitable[Automation | None]:
            return services.store.reader.automation(services.scope, self.id)

        self.automation = await (patiently(read, f"read {self.id}") if patient else read())

    def _refresh(self, automation: Automation | None) -> None:
        """Another process changed the definition; deleting it cancels the runs here."""
        if automation is None:
            self.runs.stop_all(StopReason.CANCELLED)
            self.automation = None
        elif self.automation is None or automation.revision >= self.automation.revision:
            self.automation = automation
            if automation.paused:
                self.runs.stop_claimed(StopReason.CANCELLED)

    async def _update_fresh(self, message: Update) -> Automation:
        """Apply an update; if another process changed the definition meanwhile, read it
        again and, unless the caller pinned a revision, apply the update to that. A
        derived write that failed first means the definition here is not the database's."""
        if not await self._writes.settle():
            await self._reload()
            self._writes.forget()
        try:
            return await self._update(message)
        except Conflict:
            await self._reload()
            if message.expected_revision is not None or self.automation is None:
                raise
            return await self._update(message)

    async def _update(self, message: Update) -> Automation:
        current = self.automation
        assert current is not None
        changed = await patched(self._services, current, message)
        if changed is current:
            return current  # a no-op changes nothing and publishes nothing
        pausing = changed.paused and not current.paused
        if pausing:  # a slot coming while the pause is written must not start its run
            self.runs.hold_back()
        try:
            await self._services.store.update_automation(
                self._services.scope, changed, expected_revision=current.revision
            )
            self.automation = changed
            if changed.paused:  # a run recorded ahead of its slot is taken back
                self.runs.stop_claimed(StopReason.CANCELLED)
        finally:
            if pausing:
                self.runs.let_go()
        return changed

    async def _delete(self, current: Automation) -> Tombstone:
        runs = self.runs.stop_all(StopReason.CANCELLED)
        for run in runs:
            await run.finished.wait()
        services = self._services
        tombstone = Tombstone(id=self.id, revision=current.revision + 1)
        await services.store.delete_automation(
            services.scope, tombstone, expected_revision=current.revision, at=services.now()
        )
        self.automation = None
        return tombstone

    def _save_derived(
        self, changed: Automation, epoch: int | None = None, slot_with_run: datetime | None = None
    ) -> None:
        """Write fields the runtime derives at the same revision, without waiting (see
        `DerivedWrites`); nothing is written when nothing changed. Should the write fail
        (another process changed the definition, say), the actor reads the definition
        again before its next message."""
        current = self.automation
        if current is None or changed == current:
            return
        self._writes.submit(self._services.scope, current, changed, epoch, slot_with_run)
        self.automation = changed

    async def settle(self) -> None:
        """Before deactivating, see the last derived write done: the next activation
        reads the definition from the database, and must find it there."""
        await self._writes.settle()

    def _derived_failed(self, error: BaseException) -> None:
        if isinstance(error, LeaseLost):
            log.warning("not rescheduling %s: this process lost the scheduler lease", self.id)
        elif not isinstance(error, Conflict):  # a conflict: changed by another process
            log.error("could not record the derived fields of %s: %s", self.id, error)
        self._route(self.id, Reload())

    # -- runs -----------------------------------------------------------------------

    async def _adopt(self, adopted: Adopted) -> None:
        """Go on with a run of a process that died; it is `running` under this one."""
        automation = self.automation
        services = self._services
        current = await services.store.reader.run_by_id(services.scope, adopted.run.id)
        if current is None or current.revision != adopted.run.revision:
            return  # ended meanwhile (a cancel reached it before its actor did)
        if automation is None:  # deleted since it was adopted
            await record_stopped(services.store, services.scope, services.now(), adopted.run)
            return
        actor = RunActor(
            self._services,
            automation,
            adopted.run,
            writer_key=adopted.writer_key,
            reply=None,
            on_end=self._report_end,
            spawn=self._spawn_task,
            phase=Phase.ADOPTED,
            reopen=adopted.blocker,
        )
        self.runs.add(actor, wait=False)
        self._spawn_run(actor)

    # -- schedule -------------------------------------------------------------------

    async def _fire(self, message: Fire) -> None:
        """Fire the due slot, or record the slots missed up to now (see `_firing`)."""
        current = self.automation
        now = self._services.now()
        going = self.runs.counted()
        plan = plan_fire(current, message.slot, now, going=going, at_startup=message.at_startup)
        if current is not None:  # a stale plan does nothing
            await self._firing.fire(current, plan, message.epoch)

    def _reschedule(
        self,
        current: Automation,
        after: datetime,
        launched: bool,
        epoch: int | None,
        *,
        with_run: bool = False,
    ) -> None:
        changed = after_fire(current, after, launched=launched, going=self.runs.counted())
        self._save_derived(changed, epoch, slot_with_run=after if with_run else None)

    def _start_run(
        self,
        automation: Automation,
        run: Run,
        reply: Reply[Run] | None,
        *,
        phase: Phase,
        writer_key: str | None,
        epoch: int | None,
    ) -> None:
        """Make the run's actor and submit its first write. The run of a fire holds the
        fire's permit until it is finished."""
        actor = RunActor(
            self._services,
            automation,
            run,
            writer_key=writer_key,
            reply=reply,
            on_end=self._report_end,
            spawn=self._spawn_task,
            phase=phase,
            epoch=epoch,
        )
        actor.permit, self._permit = self._permit, None
        if phase is Phase.CLAIMED:
            self.runs.claim(actor)
        else:
            self.runs.add(actor, wait=phase is Phase.WAITING)
        self._spawn_run(actor)

    async def _run_ended(self, message: RunEnded) -> None:
        self.runs.forget(message.run_id)
        if message.retry is not None:  # before the derived fields: the chain goes on
            await self._hold_retry(message.retry)
        if message.run is not None and message.run.state.is_terminal:
            self._after_terminal(message.run, message.epoch, retried=message.retry is not None)
        self.runs.start_waiting()

    def _after_terminal(self, run: Run, epoch: int | None, *, retried: bool = False) -> None:
        current = self.automation
        if current is None:
            return  # deleted: a finished run never revives it
        now = self._services.now()
        idle = not (self.runs.active or self.runs.retrying)
        changed = after_terminal(current, run, now=now, idle=idle, retried=retried)
        slot, due = run.triggered_at, changed.next_fire_at
        if due is not None and not changed.paused and ends_its_fire(run, due):
            # The fire's write of its next fires was refused (with a first write that
            # found the key held elsewhere, the run now skipped; or by a conflict), and
            # its `Reload`, routed before this end, read the slot back: pass it now.
            changed = after_fire(changed, slot, launched=False, going=self.runs.counted())
            self._save_derived(changed, epoch, slot_with_run=slot)
            return
        self._save_derived(changed)

    async def _hold_retry(self, attempt: NextAttempt) -> None:
        """Hold a failed run's next attempt until due (that of a deleted or paused: cancelled)."""
        current, services = self.automation, self._services
        definition, retry = attempt.recorded()
        if current is None or current.paused:
            with contextlib.suppress(AutomationError):  # else the next lease holder ends it
                await record_stopped(services.store, services.scope, services.now(), retry)
            return
        actor = RunActor(
            services,
            definition,
            retry,
            on_end=self._report_end,
            spawn=self._spawn_task,
            phase=Phase.CLAIMED,
            epoch=attempt.epoch,
            recorded=True,
        )
        self.runs.hold_retry(actor)
        self._spawn_run(actor)
