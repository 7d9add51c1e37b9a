"""Runs that end without executing: skipped by overlap, missed by the schedule,
cancelled before the executor was called again, or never recorded at all.

A new one is written in one operation (`CreateRun`): the run as `scheduled` and at
once as `stopped`, so a failure can never leave half of one behind.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from ..model import (
    Automation,
    DuplicateSlot,
    KeyHolder,
    Missed,
    Run,
    RunState,
    Scope,
    StopReason,
    StoreClosed,
    Trigger,
    advance,
    new_run,
    new_run_id,
)
from ..persistence import CreateRun, SaveRun, StorePort
from ..runtime import Reply

__all__ = ["fail_reply", "record_missed", "record_skipped", "record_stopped"]


async def record_skipped(
    store: StorePort,
    scope: Scope,
    now: datetime,
    run: Run,
    epoch: int | None = None,
    held_by: KeyHolder | None = None,
) -> Run:
    """Record `run` as skipped by the overlap policy, naming the run `held_by` that held
    its writer key; the executor is never called."""
    reason = StopReason.PREVIOUS_RUN_AWAITING_INPUT
    stopped = advance(run, RunState.STOPPED, at=now, stop_reason=reason, held_by=held_by)
    await store.write(CreateRun(scope, (run, stopped), (now, now), epoch=epoch))
    return stopped


async def record_missed(
    store: StorePort,
    scope: Scope,
    now: datetime,
    automation: Automation,
    missed: Missed,
    epoch: int | None = None,
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
    stopped = advance(
        run, RunState.STOPPED, at=now, stop_reason=StopReason.MISSED_SCHEDULE, missed=missed
    )
    with contextlib.suppress(DuplicateSlot):  # another process recorded this episode
        await store.write(CreateRun(scope, (run, stopped), (now, now), epoch=epoch))


async def record_stopped(
    store: StorePort,
    scope: Scope,
    now: datetime,
    run: Run,
    reason: StopReason = StopReason.CANCELLED,
) -> Run:
    """End an active `run` that nobody executes any more as `stopped` with `reason`."""
    stopped = advance(run, RunState.STOPPED, at=now, stop_reason=reason)
    await store.write(SaveRun(scope, stopped, run.revision, now))
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
