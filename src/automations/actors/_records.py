"""Runs that end without executing: skipped by overlap, missed by the schedule,
cancelled before the executor was called again, or never recorded at all.

A new one is written in one operation (`CreateRun`): the run as `scheduled` and at
once as `stopped`, so a failure can never leave half of one behind.
"""

from __future__ import annotations

import contextlib

from ..model import (
    Automation,
    DuplicateSlot,
    KeyHolder,
    Missed,
    Run,
    RunState,
    StopReason,
    StoreClosed,
    Trigger,
    advance,
    new_run,
    new_run_id,
)
from ..persistence import CreateRun, SaveRun
from ..runtime import Reply
from ._services import Services

__all__ = ["fail_reply", "record_missed", "record_skipped", "record_stopped"]


async def record_skipped(
    services: Services, run: Run, epoch: int | None = None, held_by: KeyHolder | None = None
) -> Run:
    """Record `run` as skipped by the overlap policy, naming the run `held_by` that held
    its writer key; the executor is never called."""
    now = services.now()
    scope = services.scope
    reason = StopReason.PREVIOUS_RUN_AWAITING_INPUT
    stopped = advance(run, RunState.STOPPED, at=now, stop_reason=reason, held_by=held_by)
    await services.store.write(CreateRun(scope, (run, stopped), (now, now), epoch=epoch))
    return stopped


async def record_missed(
    services: Services, automation: Automation, missed: Missed, epoch: int | None = None
) -> None:
    """One `stopped/missed_schedule` run naming the slots that passed unfired."""
    run = new_run(
        id=new_run_id(),
        automation_id=automation.id,
        definition_revision=automation.revision,
        trigger=Trigger.SCHEDULE,
        triggered_at=missed.first,
        attended=False,
    )
    now = services.now()
    stopped = advance(
        run, RunState.STOPPED, at=now, stop_reason=StopReason.MISSED_SCHEDULE, missed=missed
    )
    scope = services.scope
    with contextlib.suppress(DuplicateSlot):  # another process recorded this episode
        await services.store.write(CreateRun(scope, (run, stopped), (now, now), epoch=epoch))


async def record_stopped(
    services: Services, run: Run, reason: StopReason = StopReason.CANCELLED
) -> Run:
    """End an active `run` that nobody executes any more as `stopped` with `reason`."""
    now = services.now()
    stopped = advance(run, RunState.STOPPED, at=now, stop_reason=reason)
    await services.store.write(SaveRun(services.scope, stopped, run.revision, now))
    return stopped


def fail_reply(reply: Reply[Run] | None, error: BaseException) -> None:
    """Tell the caller its run was not recorded. A cancellation belongs to the task it
    was delivered to, never to the caller's: the caller hears that the runtime closed."""
    if reply is None:
        return
    if isinstance(error, Exception):
        reply.fail(error)
    else:
        reply.fail(StoreClosed("the runtime closed before the run was recorded; run it again"))
