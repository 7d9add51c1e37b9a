"""The life of a run in this process, as one state table, and the ends it can reach.

`Phase` says what a `RunActor` waits for; `NEXT` is every change it may make, checked
as it is made, as `model._transitions` checks the ledger's states. A `Decision` is the
end of a run once it is decided (by the executor, a stop request, the step cap, a
blocker nobody can answer, or a timeout): the first one wins, and it is typed, so the
ledger's payload for each terminal state is checked where it is built.
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec

from ..model import ErrorCode, KeyHolder, Run, RunError, RunState, StopReason, advance

__all__ = [
    "NEXT",
    "SETTLED",
    "WRITTEN",
    "Decision",
    "Fail",
    "Leave",
    "Phase",
    "Stop",
    "Succeed",
    "check_phase",
    "decided",
]


class Phase(enum.Enum):
    CLAIMED = "claimed"
    """Recorded `scheduled` ahead of its slot; admitted (or refused) when it comes."""
    WAITING = "waiting"
    """Recorded `scheduled`; starts when the runs going on end (buffer_one, cancel_other)."""
    STARTING = "starting"
    """Its first write, or its `running`, is submitted; the executor starts once durable."""
    ADOPTED = "adopted"
    """Already `running` in the ledger under this process, taken over from a dead one."""
    EXECUTING = "executing"
    """The executor runs (or is about to be called)."""
    ENDING = "ending"
    """Its end is submitted; writes commit in order, so a run started after this one's
    end is recorded after it."""
    RETRYING = "retrying"
    """Its end could not be written (disk full, file locked); it is tried again."""
    RELEASED = "released"
    """Left `scheduled` for the next lease holder to start (the process closes, or
    hands the scope's lease over)."""
    OVER = "over"
    """Nothing more to write here: its end is recorded, given up on, or it never was."""


NEXT: dict[Phase, frozenset[Phase]] = {
    Phase.CLAIMED: frozenset({Phase.STARTING, Phase.WAITING, Phase.ENDING, Phase.RELEASED}),
    Phase.WAITING: frozenset({Phase.STARTING, Phase.ENDING}),
    Phase.STARTING: frozenset({Phase.EXECUTING, Phase.ENDING}),
    Phase.ADOPTED: frozenset({Phase.EXECUTING, Phase.ENDING}),
    Phase.EXECUTING: frozenset({Phase.ENDING}),
    Phase.ENDING: frozenset({Phase.RETRYING, Phase.OVER}),
    Phase.RETRYING: frozenset({Phase.ENDING}),
    Phase.RELEASED: frozenset(),
    Phase.OVER: frozenset(),
}
"""Each phase's successors. Besides these, a run whose first write failed (its slot
fired elsewhere, its lease lost) or that the runtime could not record is OVER from any
phase not SETTLED, without an end (`RunActor.main` gives it up)."""
WRITTEN = frozenset({Phase.ENDING, Phase.OVER})
"""Its end is submitted (or nothing is left to write)."""
SETTLED = frozenset({Phase.ENDING, Phase.RETRYING, Phase.OVER, Phase.RELEASED})
"""Nothing is left to decide about its end here."""


def check_phase(current: Phase, nxt: Phase) -> None:
    if nxt not in NEXT[current]:
        raise AssertionError(f"a run cannot go from {current.value} to {nxt.value}")


class Succeed(msgspec.Struct, frozen=True):
    result: str | None


class Fail(msgspec.Struct, frozen=True):
    error: RunError
    retry: bool | None = None
    """The executor's wish: True when it raised `Retryable`, False for `NotRetryable`."""

    @classmethod
    def because(
        cls,
        code: ErrorCode,
        message: str,
        traceback: str | None = None,
        *,
        retry: bool | None = None,
    ) -> Fail:
        return cls(RunError(code, message, traceback), retry)


class Stop(msgspec.Struct, frozen=True):
    reason: StopReason
    held_by: KeyHolder | None = None
    """For a run skipped for its writer key: the run that held it."""


Decision = Succeed | Fail | Stop


class Leave(msgspec.Struct, frozen=True):
    """Not an end: the process stops, and the run, waiting on a blocker with a
    resumable executor, is left `awaiting_input` for the next worker to resume (as a
    process that died leaves it). Recorded `stopped/worker_stopped` if by the time it
    would be left it no longer waits."""


def decided(
    run: Run,
    decision: Decision,
    *,
    at: datetime,
    steps: int,
    cost: float | None,
    session_id: str | None,
) -> Run:
    """The terminal revision of `run` that `decision` records, `at` that time."""
    result = error = reason = held_by = None
    if isinstance(decision, Succeed):
        state, result = RunState.SUCCEEDED, decision.result
    elif isinstance(decision, Fail):
        state, error = RunState.FAILED, decision.error
    else:
        state, reason, held_by = RunState.STOPPED, decision.reason, decision.held_by
    return advance(
        run,
        state,
        at=at,
        result=result,
        error=error,
        stop_reason=reason,
        held_by=held_by,
        steps=steps,
        cost=cost,
        session_id=session_id,
    )
