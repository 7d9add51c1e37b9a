"""What the runtime derives on an automation as its slots fire and its runs end.

Pure functions of the definition and of what happened: the next fires after a slot,
the count stop (DESIGN 6.8), the failure streak, the session a `continue` automation
resumes (DESIGN 6.5) and the anchor of a completion-anchored interval. The
AutomationActor writes what they return, at the same revision.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from ..model import (
    AfterCount,
    Anchor,
    Automation,
    ContextMode,
    Run,
    RunState,
    Trigger,
    new_run,
    new_run_id,
)
from ..schedules import with_next_fires

__all__ = ["after_fire", "after_terminal", "ends_its_fire", "may_start", "next_run"]

_ANCHORING = frozenset({Trigger.SCHEDULE, Trigger.CATCHUP, Trigger.RETRY})
"""The runs whose end anchors a completion-anchored interval: not a run-now, nor a
backfill of a past slot."""


def may_start(automation: Automation, going: int) -> bool:
    """Whether another run may start while `going` runs are active or waiting: a count
    stop also counts the runs still going, so it never overshoots."""
    stop = automation.stop
    return not isinstance(stop, AfterCount) or automation.executed_runs + going < stop.count


def after_fire(
    automation: Automation, after: datetime, *, launched: bool, going: int
) -> Automation:
    """The next fires once the slots up to `after` are handled (fired or missed).

    A completion-anchored interval that launched a run has no next fire until the run
    ends; neither has an automation whose count stop the runs going will reach.
    """
    waits_for_completion = automation.anchor is Anchor.COMPLETION and launched
    if waits_for_completion or not may_start(automation, going):
        return msgspec.structs.replace(automation, next_fire_at=None, next_fires=())
    return with_next_fires(automation, after)


def after_terminal(
    automation: Automation, run: Run, *, now: datetime, idle: bool, retried: bool = False
) -> Automation:
    """The automation once `run` reached its terminal state; `idle` when no other run
    of it is active (only then may a completion-anchored interval fire again). A chain
    of retries is one logical run: a failed attempt that is `retried` leaves the streak
    as it is, and the count stop counts the chain once, by its first run."""
    streak = automation.failure_streak
    if run.state is RunState.SUCCEEDED:
        streak = 0
    elif run.state is RunState.FAILED and not retried:
        streak += 1
    session = automation.session_id
    if automation.context is ContextMode.CONTINUE and run.session_id is not None:
        session = run.session_id
    executed = automation.executed_runs
    counts = run.state is not RunState.STOPPED and run.trigger is not Trigger.RETRY
    if isinstance(automation.stop, AfterCount) and counts:
        executed += 1
    anchored = automation.anchored_at
    if automation.anchor is Anchor.COMPLETION and run.trigger in _ANCHORING and not retried:
        anchored = run.completed_at
    changed = automation
    if (streak, session, executed, anchored) != (
        automation.failure_streak,
        automation.session_id,
        automation.executed_runs,
        automation.anchored_at,
    ):  # most runs change nothing here, and a copy is validated again
        changed = msgspec.structs.replace(
            automation,
            failure_streak=streak,
            session_id=session,
            executed_runs=executed,
            anchored_at=anchored,
        )
    if changed.next_fire_at is None and not changed.paused and idle:
        changed = with_next_fires(changed, now)
    return changed


def ends_its_fire(run: Run, due: datetime) -> bool:
    """Whether `run`, ended, is the run of the fire that the next fire `due` is still
    at (the fire's write of its next fires was refused): its slot's, or, a catch-up
    run, that of the episode it ends, whose missed record committed before it."""
    if run.trigger is Trigger.SCHEDULE:
        return due == run.triggered_at
    return run.trigger is Trigger.CATCHUP and due <= run.triggered_at


def next_run(
    automation: Automation,
    trigger: Trigger,
    triggered_at: datetime,
    *,
    attended: bool,
    id: str | None = None,
    planned_at: datetime | None = None,
) -> Run:
    """A new run of the current definition; a `continue` automation passes its session.
    `planned_at`: a jittered slot's planned start."""
    continued = automation.context is ContextMode.CONTINUE
    run = new_run(
        id=id or new_run_id(),
        automation_id=automation.id,
        definition_revision=automation.revision,
        trigger=trigger,
        triggered_at=triggered_at,
        attended=attended,
        session_id=automation.session_id if continued else None,
    )
    if planned_at is not None:
        run = msgspec.structs.replace(run, planned_at=planned_at)
    return run
