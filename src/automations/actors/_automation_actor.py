"""AutomationActor: every change to one automation passes through it.

It is a virtual actor: the supervisor activates it when a message arrives and it
stops itself when it has no active run, so 100,000 automations cost 100,000 rows, not
100,000 tasks. Messages for one automation are handled one at a time, so its
definition and its overlap bookkeeping need no locks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio
import msgspec

from ..model import (
    Automation,
    AutomationError,
    Conflict,
    ContextMode,
    NotFound,
    Overlap,
    Run,
    RunState,
    StopReason,
    Tombstone,
    Trigger,
    new_run,
    new_run_id,
)
from ..persistence import SaveAutomation
from ..runtime import Reply
from ..schedules import apply_patch
from ._messages import AutomationMessage, Delete, RunEnded, RunNow, Update
from ._run_actor import RunActor, record_skipped
from ._services import Services

__all__ = ["AutomationActor"]

SpawnRun = Callable[[RunActor], None]
SpawnTask = Callable[[Callable[[], Coroutine[Any, Any, None]], str], None]
Route = Callable[[str, AutomationMessage], None]
T = TypeVar("T")


class AutomationActor:
    def __init__(
        self,
        automation_id: str,
        services: Services,
        *,
        spawn_run: SpawnRun,
        spawn_task: SpawnTask,
        route: Route,
    ) -> None:
        self.id = automation_id
        self._services = services
        self._spawn_run = spawn_run
        self._spawn_task = spawn_task
        self._route = route
        self.automation: Automation | None = None
        self.active: dict[str, RunActor] = {}
        self.waiting: list[RunActor] = []
        """Runs recorded as scheduled that start when the active ones end."""

    async def on_start(self) -> None:
        self.automation = await self._services.store.reader.automation(
            self._services.scope, self.id
        )

    def idle(self) -> bool:
        return not self.active and not self.waiting

    def on_crash(self, message: AutomationMessage, error: BaseException) -> None:
        if not isinstance(message, RunEnded):
            message.reply.fail(error)

    async def handle(self, message: AutomationMessage) -> None:
        if isinstance(message, RunEnded):
            await self._run_ended(message)
            return
        if self.automation is None:
            message.reply.fail(NotFound(f"no automation {self.id} in this project and directory"))
            return
        if isinstance(message, RunNow):
            await self._run_now(self.automation, message.reply)
        elif isinstance(message, Update):
            await _answer(message.reply, self._update(message))
        elif isinstance(message, Delete):
            await _answer(message.reply, self._delete(self.automation))

    # -- definition -----------------------------------------------------------------

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
        await services.store.update_automation(
            services.scope, changed, expected_revision=current.revision
        )
        self.automation = changed
        return changed

    async def _delete(self, current: Automation) -> Tombstone:
        runs = [*self.active.values(), *self.waiting]
        for run in runs:
            run.request_stop(StopReason.CANCELLED)
            run.start()
        for run in runs:
            await run.wait_finished()
        services = self._services
        tombstone = Tombstone(id=self.id, revision=current.revision + 1)
        await services.store.delete_automation(
            services.scope, tombstone, expected_revision=current.revision, at=services.now()
        )
        self.automation = None
        return tombstone

    async def _save_derived(self, changed: Automation) -> None:
        """Write fields the runtime derives (failure streak, session) at the same revision."""
        current = self.automation
        if current is None or changed == current:
            return
        services = self._services
        operation = SaveAutomation(services.scope, changed, current.revision, derived=True)
        with anyio.CancelScope(shield=True):
            await services.store.write(operation)
        self.automation = changed

    # -- runs -----------------------------------------------------------------------

    async def _run_now(self, automation: Automation, reply: Reply[Run]) -> None:
        services = self._services
        run = new_run(
            id=new_run_id(),
            automation_id=automation.id,
            definition_revision=automation.revision,
            trigger=Trigger.MANUAL,
            triggered_at=services.now(),
            attended=True,
            session_id=automation.session_id
            if automation.context is ContextMode.CONTINUE
            else None,
        )
        policy = automation.overlap
        busy = bool(self.active or self.waiting)
        if policy is Overlap.ALLOW:
            self._start(automation, run, reply, writer_key=None)
        elif not busy:
            self._start(automation, run, reply, writer_key=automation.where.writer_key)
        elif policy is Overlap.BUFFER_ONE and not self.waiting:
            self._start(automation, run, reply, writer_key=automation.where.writer_key, wait=True)
        elif policy is Overlap.CANCEL_OTHER:
            for other in [*self.active.values(), *self.waiting]:
                other.request_stop(StopReason.SUPERSEDED)
                other.start()
            self._start(automation, run, reply, writer_key=automation.where.writer_key, wait=True)
        else:
            await _answer(reply, record_skipped(services, run))

    def _start(
        self,
        automation: Automation,
        run: Run,
        reply: Reply[Run],
        *,
        writer_key: str | None,
        wait: bool = False,
    ) -> None:
        actor = RunActor(
            self._services,
            automation,
            run,
            writer_key=writer_key,
            reply=reply,
            on_end=self._report_end,
            spawn=self._spawn_task,
            deferred=wait,
        )
        if wait:
            self.waiting.append(actor)
        else:
            self.active[run.id] = actor
        self._spawn_run(actor)

    def _report_end(self, actor: RunActor) -> None:
        """Called by a RunActor as it ends; becomes a message to this automation, which
        may by then be another activation of it."""
        self._route(self.id, RunEnded(actor.id, actor.run if actor.recorded else None))

    async def _run_ended(self, message: RunEnded) -> None:
        self.active.pop(message.run_id, None)
        self.waiting = [w for w in self.waiting if w.id != message.run_id]
        run = message.run
        if run is not None and run.state.is_terminal:
            await self._after_terminal(run)
        if not self.active and self.waiting:
            nxt = self.waiting.pop(0)
            self.active[nxt.id] = nxt
            nxt.start()

    async def _after_terminal(self, run: Run) -> None:
        """The failure streak, and the session a `continue` automation resumes next time."""
        current = self.automation
        if current is None:
            return  # deleted: a finished run never revives it
        streak = current.failure_streak
        if run.state is RunState.SUCCEEDED:
            streak = 0
        elif run.state is RunState.FAILED:
            streak += 1
        session = current.session_id
        if current.context is ContextMode.CONTINUE and run.session_id is not None:
            session = run.session_id
        if (streak, session) == (current.failure_streak, current.session_id):
            return
        changed = msgspec.structs.replace(current, failure_streak=streak, session_id=session)
        await self._save_derived(changed)


async def _answer(reply: Reply[T], work: Awaitable[T]) -> None:
    """Await `work` and send its result, or the AutomationError it raised."""
    try:
        reply.send(await work)
    except AutomationError as exc:
        reply.fail(exc)
