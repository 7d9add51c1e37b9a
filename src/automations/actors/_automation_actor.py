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

import anyio
import msgspec

from ..model import (
    AfterCount,
    Automation,
    AutomationError,
    Catchup,
    Conflict,
    Kind,
    LeaseLost,
    NotFound,
    Run,
    StopReason,
    Tombstone,
    Trigger,
)
from ..persistence import Adopted, PendingWrite, SaveAutomation
from ..runtime import Reply
from ..schedules import apply_patch, missed_slots, timeline_of, with_next_fires
from ._derived import after_fire, after_terminal, may_start, next_run
from ._fire_limit import Permit
from ._going import GoingRuns
from ._messages import (
    Adopt,
    AutomationMessage,
    Delete,
    Fire,
    Refresh,
    Reload,
    RunEnded,
    RunNow,
    Update,
)
from ._records import record_cancelled, record_missed, record_skipped
from ._run_actor import RunActor
from ._run_phase import Phase
from ._services import Services

__all__ = ["AutomationActor"]

log = logging.getLogger("automations.actors")

_ONE_MS = timedelta(milliseconds=1)
_KEEP_WARM = timedelta(seconds=5)

SpawnRun = Callable[[RunActor], None]
SpawnTask = Callable[[Callable[[], Coroutine[Any, Any, None]], str], None]
Route = Callable[[str, AutomationMessage], None]
T = TypeVar("T")


class AutomationActor:
    __slots__ = (
        "_derived",
        "_permit",
        "_preloaded",
        "_route",
        "_services",
        "_spawn_run",
        "_spawn_task",
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
        runs: GoingRuns,
        preloaded: Automation | None = None,
    ) -> None:
        """`runs` is the automation's bookkeeping of its runs going on, kept by the
        supervisor: an activation restarted after a crash goes on with it."""
        self.id = automation_id
        self._services = services
        self._spawn_run = spawn_run
        self._spawn_task = spawn_task
        self._route = route
        self.automation: Automation | None = preloaded
        self._preloaded = preloaded is not None
        self.runs = runs
        runs.definition = lambda: self.automation
        self._derived: PendingWrite[int] | None = None
        """The last derived write submitted (they commit in order)."""
        self._permit: Permit | None = None
        """The permit of the fire being handled, until a run it starts takes it."""

    async def on_start(self) -> None:
        if not self._preloaded:
            await self._reload()

    def idle(self) -> bool:
        """Nothing running, nothing waiting, and no fire due within `_KEEP_WARM`.

        Keeping the actor of an automation that fires again within seconds saves a
        database read per fire; memory stays bounded by how many fire that soon.
        """
        if self.runs:
            return False
        automation = self.automation
        if automation is None or automation.next_fire_at is None:
            return True
        return automation.next_fire_at - self._services.clock.now() > _KEEP_WARM

    def on_crash(self, message: AutomationMessage, error: BaseException) -> None:
        if isinstance(message, Update | Delete | RunNow):
            message.reply.fail(error)

    async def handle(self, message: AutomationMessage) -> None:
        if isinstance(message, RunEnded):
            await self._run_ended(message)
            return
        if isinstance(message, Refresh):
            self._refresh(message.automation)
            return
        if isinstance(message, Reload):
            await self._reload()
            return
        if isinstance(message, Adopt):
            await self._adopt(message.adopted)
            return
        if isinstance(message, Fire):
            self._permit = message.permit
            try:
                await self._fire(message.slot, at_startup=message.at_startup, epoch=message.epoch)
            except LeaseLost:
                log.warning("not firing %s: this process lost the scheduler lease", self.id)
            except AutomationError:  # the slot stays next_fire_at: the next look retries it
                log.exception("could not fire %s; the scheduler will try again", self.id)
                await self._reload()
            finally:  # no run took it (skipped, missed, stale): free at once
                permit, self._permit = self._permit, None
                if permit is not None:
                    permit.release()
            return
        if self.automation is None:
            message.reply.fail(NotFound(f"no automation {self.id} in this project and directory"))
            return
        if isinstance(message, RunNow):
            await self._run_now(self.automation, message)
        elif isinstance(message, Update):
            await _answer(message.reply, self._update_fresh(message))
        elif isinstance(message, Delete):
            await _answer(message.reply, self._delete(self.automation))

    # -- definition -----------------------------------------------------------------

    async def _reload(self) -> None:
        """Read the definition again: another process may have changed it."""
        self.automation = await self._services.store.reader.automation(
            self._services.scope, self.id
        )

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
        again and, unless the caller pinned a revision, apply the update to that."""
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
        expected = message.expected_revision
        if expected is not None and expected != current.revision:
            raise Conflict(
                f"automation {self.id} is at revision {current.revision}, not {expected}; "
                "read it again and retry the change on the current revision"
            )
        services = self._services
        changed = apply_patch(
            current,
            message.patch,
            now=services.now(),
            min_interval=services.min_interval,
            catalog=services.catalog,
        )
        if changed is current:
            return current  # a no-op changes nothing and publishes nothing
        if isinstance(changed.stop, AfterCount) and not isinstance(current.stop, AfterCount):
            executed = await services.store.reader.executed_runs(services.scope, self.id)
            changed = with_next_fires(
                msgspec.structs.replace(changed, executed_runs=executed), services.now()
            )
        await services.store.update_automation(
            services.scope, changed, expected_revision=current.revision
        )
        self.automation = changed
        if changed.paused:  # a run recorded ahead of its slot is taken back
            self.runs.stop_claimed(StopReason.CANCELLED)
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

    def _save_derived(self, changed: Automation, epoch: int | None = None) -> None:
        """Write fields the runtime derives (failure streak, session, next fires) at the
        same revision; nothing is written when nothing changed.

        The actor goes on without waiting: writes commit in the order they were
        submitted, so whatever it writes next builds on this one. Should this one
        fail (another process changed the definition, say), the actor reads the
        definition again before its next message.
        """
        current = self.automation
        if current is None or changed == current:
            return
        services = self._services
        operation = SaveAutomation(
            services.scope, changed, current.revision, derived=True, epoch=epoch
        )
        pending = self._derived = services.store.submit(operation)
        pending.add_done_callback(self._derived_written)
        self.automation = changed

    async def settle(self) -> None:
        """Before deactivating, see the last derived write done: the next activation
        reads the definition from the database, and must find it there."""
        pending = self._derived
        if pending is not None and not pending.done:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await pending.outcome()  # a failure is handled by `_derived_written`

    def _derived_written(self, pending: PendingWrite[int]) -> None:
        error = pending.error
        if error is None:
            return
        if isinstance(error, LeaseLost):
            log.warning("not rescheduling %s: this process lost the scheduler lease", self.id)
        elif not isinstance(error, Conflict):  # a conflict: changed by another process
            log.error("could not record the derived fields of %s: %s", self.id, error)
        self._route(self.id, Reload())

    # -- runs -----------------------------------------------------------------------

    async def _run_now(self, automation: Automation, message: RunNow) -> None:
        now = self._services.now()
        run = next_run(automation, Trigger.MANUAL, now, attended=True, id=message.run_id)
        await self._launch(automation, run, message.reply)

    async def _adopt(self, adopted: Adopted) -> None:
        """Go on with a run of a process that died; it is `running` under this one."""
        automation = self.automation
        if automation is None:  # deleted since it was adopted
            await record_cancelled(self._services, adopted.run)
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

    async def _launch(
        self,
        automation: Automation,
        run: Run,
        reply: Reply[Run] | None,
        epoch: int | None = None,
    ) -> None:
        """Start `run` as the overlap policy says, or record it as skipped.

        `epoch` fences the first write of a scheduled run with the lease it fired under.
        """
        if not self._admit(automation, run, reply, epoch):
            await self._skip(run, reply, epoch)

    def _admit(
        self, automation: Automation, run: Run, reply: Reply[Run] | None, epoch: int | None
    ) -> bool:
        """Start `run`, or have it wait, if the overlap policy lets it; False when it is
        to be skipped. Submits the run's first write without waiting."""
        admission = self.runs.admission(automation)
        if admission is None:
            return False
        key, wait = admission
        self._start(automation, run, reply, writer_key=key, wait=wait, epoch=epoch)
        return True

    def _claim(self, automation: Automation, run: Run, epoch: int | None) -> None:
        """Record the run of a slot still to come; it is admitted at its slot."""
        actor = self._new_run(
            automation, run, None, writer_key=None, phase=Phase.CLAIMED, epoch=epoch
        )
        self.runs.claim(actor)
        self._spawn_run(actor)

    async def _skip(self, run: Run, reply: Reply[Run] | None, epoch: int | None) -> None:
        if reply is not None:
            await _answer(reply, record_skipped(self._services, run))
        else:
            with contextlib.suppress(AutomationError):  # a slot fired elsewhere, say
                await record_skipped(self._services, run, epoch)

    # -- schedule -------------------------------------------------------------------

    async def _fire(
        self, slot: datetime, *, at_startup: bool = False, epoch: int | None = None
    ) -> None:
        """Fire the due slot, or record the slots missed up to now (DESIGN 6.3).

        A slot is late when it fires more than `catchup_window` after its time; a
        one-shot found past its time when the runtime starts is missed (DESIGN 6.4).
        """
        current = self.automation
        if current is None or current.paused or current.next_fire_at != slot:
            return  # stale: the schedule changed after the scheduler looked
        services = self._services
        now = services.now()
        launched = False
        window = current.catchup_window
        if at_startup and current.kind is Kind.ONESHOT:
            window = timedelta(0)
        if now > slot + window:
            # Late slots are those before `now - window`; one exactly on it is on time.
            bound = now - window - _ONE_MS
            missed = missed_slots(timeline_of(current), slot, bound)
            assert missed is not None
            await record_missed(services, current, missed, epoch)
            after = missed.last
            if current.catchup is Catchup.LATEST and self._may_start(current):
                catchup = next_run(current, Trigger.CATCHUP, missed.last, attended=False)
                await self._launch(current, catchup, None, epoch)
                launched = True
        elif self._may_start(current):
            run = next_run(current, Trigger.SCHEDULE, slot, attended=False)
            # The run and the next fires in one transaction: a crash leaves the slot
            # either fired and passed, or due still.
            with services.store.together():
                if slot > now:  # recorded ahead: the run starts at the slot
                    self._claim(current, run, epoch)
                    admitted = True
                else:
                    admitted = self._admit(current, run, None, epoch)
                if admitted:
                    self._reschedule(current, slot, True, epoch)
            if admitted:
                return
            await self._skip(run, None, epoch)  # recorded before the slot is passed
            launched, after = True, slot
        else:
            after = slot
        self._reschedule(current, after, launched, epoch)

    def _may_start(self, automation: Automation) -> bool:
        return may_start(automation, len(self.runs))

    def _reschedule(
        self, current: Automation, after: datetime, launched: bool, epoch: int | None
    ) -> None:
        going = len(self.runs)
        self._save_derived(after_fire(current, after, launched=launched, going=going), epoch)

    def _start(
        self,
        automation: Automation,
        run: Run,
        reply: Reply[Run] | None,
        *,
        writer_key: str | None,
        wait: bool = False,
        epoch: int | None = None,
    ) -> None:
        phase = Phase.WAITING if wait else Phase.STARTING
        actor = self._new_run(
            automation, run, reply, writer_key=writer_key, phase=phase, epoch=epoch
        )
        self.runs.add(actor, wait=wait)
        self._spawn_run(actor)

    def _new_run(
        self,
        automation: Automation,
        run: Run,
        reply: Reply[Run] | None,
        *,
        writer_key: str | None,
        phase: Phase,
        epoch: int | None,
    ) -> RunActor:
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
        permit, self._permit = self._permit, None
        if permit is not None:  # the run of a fire holds its permit until it is finished
            actor.finished.add_callback(permit.release)
        return actor

    def _report_end(self, actor: RunActor) -> None:
        """Called by a RunActor as it ends; becomes a message to this automation, which
        may by then be another activation of it."""
        self._route(self.id, RunEnded(actor.id, actor.run if actor.recorded else None))

    async def _run_ended(self, message: RunEnded) -> None:
        self.runs.forget(message.run_id)
        run = message.run
        if run is not None and run.state.is_terminal:
            self._after_terminal(run)
        self.runs.start_waiting()

    def _after_terminal(self, run: Run) -> None:
        current = self.automation
        if current is None:
            return  # deleted: a finished run never revives it
        now = self._services.now()
        self._save_derived(after_terminal(current, run, now=now, idle=not self.runs.active))


async def _answer(reply: Reply[T], work: Awaitable[T]) -> None:
    """Await `work` and send its result, or the AutomationError it raised."""
    try:
        reply.send(await work)
    except AutomationError as exc:
        reply.fail(exc)
