from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automations.model import (
    TRANSITIONS,
    Blocker,
    ErrorCode,
    IllegalTransition,
    Permission,
    Run,
    RunError,
    RunState,
    StopReason,
    Trigger,
    advance,
    check_transition,
    new_run,
    step_cap_error,
)

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
S = RunState


def _run(triggered_at: datetime = T0) -> Run:
    return new_run(
        id="automation_run_x",
        automation_id="automation_x",
        definition_revision=3,
        trigger=Trigger.MANUAL,
        triggered_at=triggered_at,
        attended=True,
    )


def test_the_table_is_the_contracts_table() -> None:
    assert {
        S.SCHEDULED: {S.RUNNING, S.STOPPED, S.FAILED},
        S.RUNNING: {S.AWAITING_INPUT, S.SUCCEEDED, S.FAILED, S.STOPPED},
        S.AWAITING_INPUT: {S.RUNNING, S.FAILED, S.STOPPED},
        S.SUCCEEDED: set(),
        S.FAILED: set(),
        S.STOPPED: set(),
    } == TRANSITIONS


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_every_pair_is_allowed_exactly_when_the_table_says(old: RunState, new: RunState) -> None:
    if new in TRANSITIONS[old]:
        check_transition(old, new)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(old, new)


def test_a_full_life_with_a_blocker() -> None:
    run = _run()
    running = advance(run, S.RUNNING, at=T0 + timedelta(seconds=1))
    blocker = Blocker(id="b1", request=Permission("bash", "ls"), asked_at=T0)
    waiting = advance(running, S.AWAITING_INPUT, at=T0 + timedelta(seconds=2), blocker=blocker)
    resumed = advance(waiting, S.RUNNING, at=T0 + timedelta(seconds=3))
    done = advance(resumed, S.SUCCEEDED, at=T0 + timedelta(seconds=4), result="ok")
    assert [r.revision for r in (run, running, waiting, resumed, done)] == [1, 2, 3, 4, 5]
    assert resumed.blocker is None and waiting.blocker == blocker
    assert done.started_at == T0 + timedelta(seconds=1)
    assert done.completed_at == T0 + timedelta(seconds=4)
    assert done.result == "ok" and done.definition_revision == 3


def test_terminal_states_are_final() -> None:
    cancelled = advance(_run(), S.STOPPED, at=T0, stop_reason=StopReason.CANCELLED)
    with pytest.raises(IllegalTransition, match="terminal"):
        advance(cancelled, S.SUCCEEDED, at=T0, result="late")


def test_payload_goes_with_its_state() -> None:
    running = advance(_run(), S.RUNNING, at=T0)
    with pytest.raises(IllegalTransition):
        advance(running, S.FAILED, at=T0)
    with pytest.raises(IllegalTransition):
        advance(running, S.STOPPED, at=T0)
    with pytest.raises(IllegalTransition):
        advance(running, S.AWAITING_INPUT, at=T0)
    with pytest.raises(IllegalTransition):
        advance(running, S.SUCCEEDED, at=T0, error=RunError(ErrorCode.TIMEOUT, "slow"))


def test_clock_skew_cannot_break_the_time_invariants() -> None:
    run = _run(triggered_at=T0)
    early = T0 - timedelta(seconds=5)  # another process's clock is behind
    running = advance(run, S.RUNNING, at=early)
    assert running.started_at is not None and running.started_at >= run.triggered_at
    done = advance(running, S.FAILED, at=early - timedelta(seconds=1), error=step_cap_error(50))
    assert done.completed_at is not None and done.completed_at >= running.started_at
    assert done.error == RunError(
        ErrorCode.STEP_CAP, "Automation run exceeded the hard step cap (50)."
    )


def test_stopped_before_start_has_no_start_time() -> None:
    stopped = advance(_run(), S.STOPPED, at=T0, stop_reason=StopReason.EXPIRED)
    assert stopped.started_at is None and stopped.completed_at == T0
