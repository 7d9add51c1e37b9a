"""The run state machine of DESIGN 5, as one table in one place."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from ._enums import ErrorCode, RunState, StopReason, Trigger
from ._errors import IllegalTransition
from ._run import Blocker, Missed, Run, RunError

__all__ = [
    "PREDECESSORS",
    "TRANSITIONS",
    "advance",
    "check_transition",
    "new_run",
    "step_cap_error",
]

S = RunState

TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    S.SCHEDULED: frozenset({S.RUNNING, S.STOPPED, S.FAILED}),
    S.RUNNING: frozenset({S.AWAITING_INPUT, S.SUCCEEDED, S.FAILED, S.STOPPED}),
    S.AWAITING_INPUT: frozenset({S.RUNNING, S.FAILED, S.STOPPED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.STOPPED: frozenset(),
}


PREDECESSORS: Mapping[RunState, frozenset[RunState]] = {
    state: frozenset(old for old, news in TRANSITIONS.items() if state in news) for state in S
}
"""For each state, the states a run may come from."""


def check_transition(old: RunState, new: RunState) -> None:
    """Raise `IllegalTransition` unless the table allows `old` -> `new`."""
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (it is terminal)"
        raise IllegalTransition(
            f"a run in state {old!s} cannot become {new!s}; it can become {allowed}"
        )


def new_run(
    *,
    id: str,
    automation_id: str,
    definition_revision: int,
    trigger: Trigger,
    triggered_at: datetime,
    attended: bool,
    session_id: str | None = None,
    attempt: int = 1,
    retry_of: str | None = None,
) -> Run:
    """The first revision of a run: `scheduled`."""
    return Run(
        id=id,
        automation_id=automation_id,
        revision=1,
        definition_revision=definition_revision,
        trigger=trigger,
        triggered_at=triggered_at,
        attended=attended,
        state=RunState.SCHEDULED,
        session_id=session_id,
        attempt=attempt,
        retry_of=retry_of,
    )


def advance(
    run: Run,
    state: RunState,
    *,
    at: datetime,
    blocker: Blocker | None = None,
    result: str | None = None,
    error: RunError | None = None,
    stop_reason: StopReason | None = None,
    missed: Missed | None = None,
    **changes: Any,
) -> Run:
    """The next revision of `run`, in `state`, at time `at`.

    Fills `started_at` on the first `running` and `completed_at` on a terminal state,
    clamped so that the invariants `startedAt >= triggeredAt` and
    `completedAt >= startedAt` hold even when clocks of two processes disagree.
    """
    check_transition(run.state, state)
    _check_payload(state, blocker, error, stop_reason)
    started_at = run.started_at
    if state is RunState.RUNNING and started_at is None:
        started_at = max(at, run.triggered_at)
    completed_at = None
    if state.is_terminal:
        completed_at = max(at, started_at or run.triggered_at)
    return msgspec.structs.replace(
        run,
        revision=run.revision + 1,
        state=state,
        started_at=started_at,
        completed_at=completed_at,
        blocker=blocker,
        result=result if state is RunState.SUCCEEDED else None,
        error=error,
        stop_reason=stop_reason,
        missed=missed if stop_reason is StopReason.MISSED_SCHEDULE else None,
        **changes,
    )


def _check_payload(
    state: RunState,
    blocker: Blocker | None,
    error: RunError | None,
    stop_reason: StopReason | None,
) -> None:
    if (state is RunState.AWAITING_INPUT) != (blocker is not None):
        raise IllegalTransition("a blocker goes with awaiting_input, and only with it")
    if (state is RunState.FAILED) != (error is not None):
        raise IllegalTransition("an error goes with failed, and only with it")
    if (state is RunState.STOPPED) != (stop_reason is not None):
        raise IllegalTransition("a stop reason goes with stopped, and only with it")


def step_cap_error(cap: int) -> RunError:
    """The error of a run that went past its step cap, in pawwork's words."""
    return RunError(ErrorCode.STEP_CAP, f"Automation run exceeded the hard step cap ({cap}).")
