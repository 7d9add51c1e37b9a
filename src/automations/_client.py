"""Asking another process through the command inbox (DESIGN 3, Another process).

A client never executes runs: its run-now becomes a command that the lease holder
of its scope takes, and it waits for the outcome; its cancels go to the process that
runs the run. The follower says when other processes committed, so waiting costs a
read per change, not a busy loop.
"""

from __future__ import annotations

import anyio

from .actors import Follower, Services, holder_alive, is_led
from .model import (
    AutomationError,
    Conflict,
    NotFound,
    NotServed,
    Run,
    StorageError,
    StoreClosed,
    new_run_id,
)
from .persistence import (
    CancelCommand,
    CommandOutcome,
    DropCommand,
    EnqueueCommand,
    RunNowCommand,
)

__all__ = [
    "SERVED_CHECK_SECONDS",
    "check_run_served",
    "send_cancel",
    "send_run_now",
    "served_executors",
]

SERVED_CHECK_SECONDS = 1.0
"""How often a client waiting on another process looks whether one serves it."""
_ERRORS: dict[str, type[AutomationError]] = {
    cls.__name__: cls for cls in (NotFound, Conflict, NotServed, StorageError, StoreClosed)
}


def _not_served(services: Services) -> NotServed:
    scope = services.scope
    return NotServed(
        f"no worker serves project {scope.project!r} in {scope.directory!r} on "
        f"{services.store.location}; start one (`automations serve`, or open_runtime with "
        "role='worker') and try again"
    )


async def send_run_now(services: Services, follower: Follower, automation_id: str) -> Run:
    """Have the worker start a run; the run as soon as it is durably scheduled."""
    if not await is_led(services):
        raise _not_served(services)
    command = RunNowCommand(automation_id, new_run_id())
    store = services.store
    id: int = await store.write(EnqueueCommand(services.scope, command, None, services.now()))
    try:
        outcome = await _outcome_of(services, follower, id)
    finally:
        with anyio.CancelScope(shield=True):
            await store.write(DropCommand(id))
    if outcome.run is not None:
        return outcome.run
    raise _ERRORS.get(outcome.error or "", AutomationError)(outcome.message or "")


async def _outcome_of(services: Services, follower: Follower, id: int) -> CommandOutcome:
    store = services.store
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
            and not await is_led(services)
            and await store.write(DropCommand(id, pending_only=True))
        ):
            raise _not_served(services)  # withdrawn: it will not run later


async def send_cancel(services: Services, run: Run, owner: str) -> None:
    """Ask the process `owner` to cancel `run`."""
    command = CancelCommand(run.id)
    await services.store.write(EnqueueCommand(services.scope, command, owner, services.now()))


async def check_run_served(services: Services, run: Run) -> None:
    """Raise `NotServed` when nobody will move `run` on: the process that owns it is
    gone (or none does) and no worker leads its scope to end, resume or start it."""
    owner = await services.store.reader.run_owner(services.scope, run.id)
    if owner is not None and (owner == services.owner or await holder_alive(services, owner)):
        return
    if await is_led(services):
        return  # the leader reconciles a dead owner's runs and starts the scheduled ones
    scope = services.scope
    gone = "nobody runs it" if owner is None else "the worker that ran it is gone"
    raise NotServed(
        f"run {run.id} is {run.state} but {gone}, and no worker serves project "
        f"{scope.project!r} in {scope.directory!r} on {services.store.location}; start "
        "one (`automations serve`): it ends the run, or resumes it if its executor is "
        "resumable"
    )


async def served_executors(services: Services) -> frozenset[str] | None:
    """The executors the worker leading the scope registered; None when no worker
    leads it (or one written before the lease named them)."""
    row = await services.store.reader.lease(services.scope)
    if row is None or not row.executors or not await is_led(services):
        return None
    return frozenset(row.executors)
