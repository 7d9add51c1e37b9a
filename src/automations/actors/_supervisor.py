"""Supervisor: routes commands to automation actors and owns every task of a runtime.

Automation actors are activated on demand (see `AutomationActor`) in a supervised
actor group; runs execute as tasks of the supervisor's run group. Shutdown stops every
run with a recorded reason, then stops the actors, so a runtime closed cleanly leaves
no task behind and no active run without a record of why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..model import StopReason
from ..runtime import ActorGroup, ActorRef, MailboxClosed
from ._automation_actor import AutomationActor
from ._follower import follow_journal
from ._lease import hold_lease
from ._messages import AutomationMessage, Fire
from ._run_actor import RunActor
from ._scheduler import Scheduler
from ._services import Services

__all__ = ["Supervisor", "open_supervisor"]


class Supervisor:
    def __init__(
        self, services: Services, runs: TaskGroup, actors: ActorGroup[AutomationMessage]
    ) -> None:
        self.services = services
        self._runs_group = runs
        self._actors = actors
        self._automations: dict[str, ActorRef[AutomationMessage]] = {}
        self.runs: dict[str, RunActor] = {}
        self._closing = False

    @property
    def active_automations(self) -> int:
        return len(self._automations)

    def automation(self, automation_id: str) -> ActorRef[AutomationMessage]:
        """The actor of `automation_id`, activated if it is not running."""
        if self._closing:
            raise MailboxClosed("the runtime is closing")
        ref = self._automations.get(automation_id)
        if ref is None:
            ref = ActorRef(f"automation:{automation_id}")
            self._automations[automation_id] = ref

            def factory() -> AutomationActor:
                return AutomationActor(
                    automation_id,
                    self.services,
                    spawn_run=self._spawn_run,
                    spawn_task=self._spawn_task,
                    route=self.tell,
                )

            self._actors.spawn(ref, factory, self._deactivated)
        return ref

    def fire(self, automation_id: str, slot: datetime, at_startup: bool, epoch: int | None) -> None:
        """The scheduler's way in: the slot is due."""
        self.tell(automation_id, Fire(slot, at_startup, epoch))

    def tell(self, automation_id: str, message: AutomationMessage) -> None:
        if self._closing:
            return  # shutting down: the actors are stopping; runs record their own ends
        self.automation(automation_id).tell(message)

    def _deactivated(self, ref: ActorRef[AutomationMessage]) -> None:
        automation_id = ref.name.removeprefix("automation:")
        if self._automations.get(automation_id) is ref:
            del self._automations[automation_id]

    def _spawn_run(self, actor: RunActor) -> None:
        self.runs[actor.id] = actor
        self._runs_group.start_soon(self._run, actor, name=f"run:{actor.id}")

    def _spawn_task(self, function: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """A helper task of a run (timeout watchdog, cancel grace), owned by the run group."""
        self._runs_group.start_soon(function, name=name)

    async def _run(self, actor: RunActor) -> None:
        try:
            await actor.main()
        finally:
            if self.runs.get(actor.id) is actor:
                del self.runs[actor.id]

    async def shutdown(self, grace: float) -> None:
        """Stop every run with a recorded reason, then the actors; bounded by `grace`."""
        self._closing = True
        for actor in list(self.runs.values()):
            actor.request_stop(StopReason.CANCELLED, shutdown=True)
            actor.start()
        with anyio.move_on_after(grace + 5):
            for actor in list(self.runs.values()):
                await actor.wait_finished()
        await self._actors.stop(grace)


@asynccontextmanager
async def open_supervisor(services: Services, *, grace: float) -> AsyncIterator[Supervisor]:
    """The supervisor with its scheduler; on exit, runs and actors stop with a reason."""
    async with anyio.create_task_group() as runs, anyio.create_task_group() as actors:
        supervisor = Supervisor(services, runs, ActorGroup(actors))

        async def lead(epoch: int) -> None:
            scheduler = Scheduler(services, supervisor.fire, epoch)
            services.store.add_commit_listener(scheduler.on_commit)
            await scheduler.run()

        try:
            async with anyio.create_task_group() as scheduling:
                scheduling.start_soon(hold_lease, services, lead, name="scheduler-lease")
                scheduling.start_soon(follow_journal, services, services.hub, name="follower")
                try:
                    yield supervisor
                finally:
                    scheduling.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await supervisor.shutdown(grace)
            runs.cancel_scope.cancel()  # what is left ignored cancellation past the grace
