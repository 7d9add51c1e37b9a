"""The derived fields of an automation, as pure functions of what happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from automations.actors._derived import after_fire, after_terminal, may_start, next_run
from automations.model import (
    AfterCount,
    Anchor,
    Automation,
    ContextMode,
    ErrorCode,
    Interval,
    NewAutomation,
    Run,
    RunError,
    RunState,
    StopReason,
    Trigger,
    advance,
)
from automations.schedules import build_automation

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _automation(**changes: object) -> Automation:
    new = NewAutomation(
        title="Tick",
        prompt="p",
        timezone="UTC",
        schedule=Interval(every=MINUTE, start=NOW + MINUTE),
        **changes,  # type: ignore[arg-type]
    )
    return build_automation(new, id="automation_1", project="p", now=NOW)


def _ended(automation: Automation, state: RunState, **payload: object) -> Run:
    run = next_run(automation, Trigger.SCHEDULE, NOW + MINUTE, attended=False)
    running = advance(run, RunState.RUNNING, at=NOW + MINUTE)
    return advance(running, state, at=NOW + MINUTE + timedelta(seconds=5), **payload)  # type: ignore[arg-type]


def test_a_count_stop_counts_the_runs_still_going() -> None:
    a = _automation(stop=AfterCount(3))
    assert may_start(a, going=2)
    assert not may_start(a, going=3)
    assert may_start(_automation(), going=1_000)  # no count stop: no limit


def test_after_a_fire_the_next_slot_follows_unless_the_stop_or_the_anchor_waits() -> None:
    a = _automation(stop=AfterCount(2))
    slot = NOW + MINUTE
    assert after_fire(a, slot, launched=True, going=1).next_fire_at == slot + MINUTE
    stopped = after_fire(a, slot, launched=True, going=2)
    assert (stopped.next_fire_at, stopped.next_fires) == (None, ())
    anchored = after_fire(_automation(anchor=Anchor.COMPLETION), slot, launched=True, going=1)
    assert anchored.next_fire_at is None  # until the run completes


def test_the_failure_streak_grows_with_failures_and_resets_on_success() -> None:
    a = _automation()
    error = RunError(ErrorCode.EXECUTION_FAILED, "boom")
    once = after_terminal(a, _ended(a, RunState.FAILED, error=error), now=NOW, idle=True)
    twice = after_terminal(once, _ended(once, RunState.FAILED, error=error), now=NOW, idle=True)
    assert (once.failure_streak, twice.failure_streak) == (1, 2)
    cancelled = _ended(twice, RunState.STOPPED, stop_reason=StopReason.CANCELLED)
    assert after_terminal(twice, cancelled, now=NOW, idle=True).failure_streak == 2
    done = after_terminal(twice, _ended(twice, RunState.SUCCEEDED), now=NOW, idle=True)
    assert done.failure_streak == 0


def test_a_continue_automation_keeps_the_session_of_its_last_run() -> None:
    a = _automation(context=ContextMode.CONTINUE)
    ended = _ended(a, RunState.SUCCEEDED, session_id="session-1")
    changed = after_terminal(a, ended, now=NOW, idle=True)
    assert changed.session_id == "session-1"
    assert next_run(changed, Trigger.MANUAL, NOW, attended=True).session_id == "session-1"
    fresh = _automation()
    assert after_terminal(fresh, ended, now=NOW, idle=True).session_id is None


def test_executed_runs_count_only_runs_that_executed() -> None:
    a = _automation(stop=AfterCount(5))
    succeeded = after_terminal(a, _ended(a, RunState.SUCCEEDED), now=NOW, idle=True)
    skipped = _ended(a, RunState.STOPPED, stop_reason=StopReason.PREVIOUS_RUN_AWAITING_INPUT)
    assert succeeded.executed_runs == 1
    assert after_terminal(a, skipped, now=NOW, idle=True).executed_runs == 0


def test_a_completion_anchored_interval_fires_again_once_idle() -> None:
    a = after_fire(_automation(anchor=Anchor.COMPLETION), NOW + MINUTE, launched=True, going=1)
    ended = _ended(a, RunState.SUCCEEDED)
    busy = after_terminal(a, ended, now=NOW + 2 * MINUTE, idle=False)
    assert busy.next_fire_at is None  # another run is still going
    idle = after_terminal(a, ended, now=NOW + 2 * MINUTE, idle=True)
    assert ended.completed_at is not None
    assert idle.anchored_at == ended.completed_at
    assert idle.next_fire_at == ended.completed_at + MINUTE


def test_a_backfill_or_a_run_now_does_not_anchor_a_completion_interval() -> None:
    a = _automation(anchor=Anchor.COMPLETION)
    for trigger in (Trigger.BACKFILL, Trigger.MANUAL):
        run = next_run(a, trigger, NOW - MINUTE, attended=trigger is Trigger.MANUAL)
        running = advance(run, RunState.RUNNING, at=NOW)
        ended = advance(running, RunState.SUCCEEDED, at=NOW + MINUTE)
        after = after_terminal(a, ended, now=NOW + MINUTE, idle=True)
        assert after.anchored_at == a.anchored_at and after.next_fire_at == a.next_fire_at
