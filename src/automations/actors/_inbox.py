"""The worker's side of the command inbox: what other processes ask of this one.

The follower says when another connection committed; the inbox then reads the
commands for this process (and, while it holds the lease, those for nobody in
particular) and acts on each: a run-now starts the run with the id its sender chose
and records the outcome for it; an answer is delivered to the waiting run; a cancel
stops the run. Each command is handled at most once at a time, and a run-now is
idempotent (its run id is fixed), so one taken again after a crash does no harm.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping

import anyio
from anyio.abc import TaskGroup

from ..model import AutomationError, Conflict, Run, StopReason, from_ms
from ..persistence import (
    AnswerCommand,
    BackfillCommand,
    CommandOutcome,
    CompleteCommand,
    PendingCommand,
    RunNowCommand,
)
from ..runtime import ActorRef, MailboxClosed, Reply
from ._follower import Follower
from ._messages import AutomationMessage, BackfillSlot, RunNow
from ._outage import patiently
from ._records import record_stopped
from ._run_actor import RunActor
from ._services import Services

__all__ = ["Inbox"]

log = logging.getLogger("automations.actors")

_PAGE = 100


class Inbox:
    def __init__(
        self,
        services: Services,
        follower: Follower,
        automation: Callable[[str], ActorRef[AutomationMessage]],
        runs: Mapping[str, RunActor],
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._services = services
        self._wake = wake
        """Told when there may be commands to read, by an inbox that does not `run`
        itself: a fleet's shard reads all its scopes' inboxes from one task."""
        self._follower = follower
        self._automation = automation
        self._runs = runs
        self._leading = False
        self._cursor = 0
        self._taken: set[int] = set()
        self._force = True
        self._news = anyio.Event()
        """Set when there may be commands to read: a command past the head seen, or
        this process came to lead."""

    def lead(self) -> None:
        """This process holds the lease now: take the commands for nobody in particular,
        those left pending by the previous holder included."""
        self._leading = True
        self._cursor = 0
        self._force = True
        self._heard()

    def step_down(self) -> None:
        """Another process leads now: leave the commands for nobody in particular."""
        self._leading = False

    async def run(self) -> None:
        """Take and handle commands until cancelled."""
        self.listen()
        try:
            async with anyio.create_task_group() as handlers:
                while True:
                    self._news = anyio.Event()
                    await self.take_news(handlers)
                    await self._news.wait()
        finally:
            self.stop_listening()

    def listen(self) -> None:
        """Be told of the new commands of the scope (`run` does it)."""
        self._follower.add_command_listener(self._services.scope, self._heard)

    def stop_listening(self) -> None:
        self._follower.remove_command_listener(self._services.scope, self._heard)

    @property
    def has_news(self) -> bool:
        return self._force or self._follower.commands_head > self._cursor

    async def take_news(self, handlers: TaskGroup) -> None:
        """Read the commands past the cursor, if there may be some (a read only when
        there is news), and handle each in a task of `handlers`."""
        head = self._follower.commands_head
        if self._force or head > self._cursor:
            self._force = False
            await self._take(handlers, head)

    def _heard(self) -> None:
        if self._wake is not None:
            self._wake()
        else:
            self._news.set()

    async def _take(self, handlers: TaskGroup, head: int) -> None:
        services = self._services
        while True:
            pending = await patiently(
                lambda: services.store.reader.commands(
                    services.scope, self._cursor, services.owner, leading=self._leading, limit=_PAGE
                ),
                "read the command inbox",
            )
            for command in pending:
                self._cursor = command.id
                if command.id not in self._taken:
                    self._taken.add(command.id)
                    self._tell()
                    handlers.start_soon(self._handle, command, name=f"command:{command.id}")
            if len(pending) < _PAGE:
                self._cursor = max(self._cursor, head)
                return

    async def _handle(self, pending: PendingCommand) -> None:
        try:
            command = pending.command
            outcome = None
            if isinstance(command, RunNowCommand | BackfillCommand):
                outcome = await self._run_now(command)
            elif isinstance(command, AnswerCommand):
                actor = self._runs.get(command.run_id)
                if actor is not None:
                    actor.deliver(command.blocker_id, command.reply)
            else:
                await self._cancel(command.run_id)
            services = self._services
            await services.store.write(CompleteCommand(pending.id, outcome, services.now()))
        except MailboxClosed:
            pass  # closing: the command stays pending for the next worker
        except AutomationError:
            log.exception("could not complete command %d", pending.id)
        finally:
            self._taken.discard(pending.id)
            self._tell()

    def _tell(self) -> None:
        observer = self._services.observer
        if observer is not None:
            observer.commands_in_hand(len(self._taken))

    async def _cancel(self, run_id: str) -> None:
        """Stop the run; one this process owns but does not execute (it was never
        started here) ends `cancelled` at once, so its canceller does not wait."""
        actor = self._runs.get(run_id)
        if actor is not None:
            actor.request_stop(StopReason.CANCELLED)
            return
        services = self._services
        run = await services.store.reader.run_by_id(services.scope, run_id)
        if run is None or not run.state.is_active:
            return
        owner = await services.store.reader.run_owner(services.scope, run_id)
        if owner == services.owner and run_id not in self._runs:  # (none started since)
            with contextlib.suppress(Conflict):  # it moved on meanwhile
                await record_stopped(services.store, services.scope, services.now(), run)

    async def _run_now(self, command: RunNowCommand | BackfillCommand) -> CommandOutcome:
        services = self._services
        existing = await services.store.reader.run_by_id(services.scope, command.run_id)
        if existing is not None:  # taken before, by a process that died before answering
            return CommandOutcome(run=existing)
        ref = self._automation(command.automation_id)

        def message(reply: Reply[Run]) -> AutomationMessage:
            if isinstance(command, BackfillCommand):
                slot = from_ms(command.slot_ms)
                return BackfillSlot(slot, reply, command.overlap, command.run_id)
            return RunNow(reply, run_id=command.run_id)

        try:
            run: Run = await ref.ask(message)
        except AutomationError as exc:
            # Taken by two processes at once (a holder waking from a freeze): the run
            # exists once, and that is the outcome.
            existing = await services.store.reader.run_by_id(services.scope, command.run_id)
            if existing is not None:
                return CommandOutcome(run=existing)
            return CommandOutcome(error=type(exc).__name__, message=str(exc))
        return CommandOutcome(run=run)
