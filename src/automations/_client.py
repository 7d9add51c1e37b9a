"""Asking another process through the command inbox (DESIGN 3, Another process).

A client never executes runs: its run-now becomes a command that the lease holder
of its scope takes, and it waits for the outcome; its cancels go to the process that
runs the run. The follower says when other processes committed, so waiting costs a
read per change, not a busy loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import anyio

from .actors import Follower, holder_alive, is_led, leading_lease
from .model import (
    AutomationError,
    Conflict,
    DuplicateSlot,
    NotFound,
    NotServed,
    Overlap,
    Run,
    Scope,
    StorageError,
    StoreClosed,
    new_run_id,
    to_ms,
)
from .persistence import (
    BackfillCommand,
    CancelCommand,
    Command,
    CommandOutcome,
    DropCommand,
    EnqueueCommand,
    RunNowCommand,
    StorePort,
)

__all__ = ["SERVED_CHECK_SECONDS", "CommandSender"]

SERVED_CHECK_SECONDS = 1.0
"""How often a client waiting on another process looks whether one serves it."""
_ERRORS: dict[str, type[AutomationError]] = {
    cls.__name__: cls
    for cls in (NotFound, Conflict, DuplicateSlot, NotServed, StorageError, StoreClosed)
}


class CommandSender:
    """A runtime's way to the other processes of its scope, through the inbox."""

    def __init__(
        self,
        store: StorePort,
        scope: Scope,
        owner: str,
        now: Callable[[], datetime],
        follower: Follower,
    ) -> None:
        self._store = store
        self._scope = scope
        self._owner = owner
        self._now = now
        self._follower = follower

    async def run_now(self, automation_id: str) -> Run:
        """Have the worker start a run; the run as soon as it is durably scheduled."""
        return await self._ask(RunNowCommand(automation_id, new_run_id()))

    async def backfill(self, automation_id: str, slot: datetime, overlap: Overlap | None) -> Run:
        """Have the worker run a past slot as a backfill (`DuplicateSlot` if it has a run)."""
        command = BackfillCommand(automation_id, new_run_id(), to_ms(slot), overlap)
        return await self._ask(command)

    async def _ask(self, command: Command) -> Run:
        if not await is_led(self._store, self._scope):
            raise self._not_served()
        store = self._store
        id: int = await store.write(EnqueueCommand(self._scope, command, None, self._now()))
        try:
            outcome = await self._outcome_of(id)
        finally:
            with anyio.CancelScope(shield=True):
                await store.write(DropCommand(id))
        if outcome.run is not None:
            return outcome.run
        raise _ERRORS.get(outcome.error or "", AutomationError)(outcome.message or "")

    async def cancel(self, run: Run, owner: str) -> None:
        """Ask the process `owner` to cancel `run`."""
        command = CancelCommand(run.id)
        await self._store.write(EnqueueCommand(self._scope, command, owner, self._now()))

    async def check_run_served(self, run: Run) -> None:
        """Raise `NotServed` when nobody will move `run` on: the process that owns it is
        gone (or none does) and no worker leads its scope to end, resume or start it."""
        store, scope = self._store, self._scope
        owner = await store.reader.run_owner(scope, run.id)
        if owner is not None and (owner == self._owner or await holder_alive(store, owner)):
            return
        if await is_led(store, scope):
            return  # the leader reconciles a dead owner's runs and starts the scheduled ones
        gone = "nobody runs it" if owner is None else "the worker that ran it is gone"
        raise NotServed(
            f"run {run.id} is {run.state} but {gone}, and no worker serves project "
            f"{scope.project!r} in {scope.directory!r} on {store.location}; start "
            "one (`automations serve`): it ends the run, or resumes it if its executor is "
            "resumable"
        )

    async def served_executors(self) -> frozenset[str] | None:
        """The executors the worker leading the scope registered; None when no worker
        leads it (or one written before the lease named them)."""
        row = await leading_lease(self._store, self._scope)
        if row is None or not row.executors:
            return None
        return frozenset(row.executors)

    async def _outcome_of(self, id: int) -> CommandOutcome:
        store, follower = self._store, self._follower
        while True:
            generation = follower.generation
            try:
                outcome = await store.reader.command_outcome(id)
            except LookupError:
                raise AutomationError(
                    "the run-now request disappeared before a worker answered it; try again"
                ) from None
            if outcome is not None:
                return outcome
            with anyio.move_on_after(SERVED_CHECK_SECONDS) as waited:
                await follower.wait_past(generation)
            if (
                waited.cancelled_caught
                and not await is_led(store, self._scope)
                and await store.write(DropCommand(id, pending_only=True))
            ):
                raise self._not_served()  # withdrawn: it will not run later

    def _not_served(self) -> NotServed:
        scope = self._scope
        return NotServed(
            f"no worker serves project {scope.project!r} in {scope.directory!r} on "
            f"{self._store.location}; start one (`automations serve`, or open_runtime with "
            "role='worker') and try again"
        )
