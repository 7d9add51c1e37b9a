"""The enumerations of the contract; each member equals its wire string."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Anchor",
    "BlockerKind",
    "Catchup",
    "ContextMode",
    "DstRepeated",
    "DstSkipped",
    "ErrorCode",
    "Kind",
    "Overlap",
    "RunState",
    "StopReason",
    "Trigger",
    "UnattendedBlockers",
]


class RunState(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    AWAITING_INPUT = "awaiting_input"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        return self not in _TERMINAL


_TERMINAL = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.STOPPED})


class StopReason(StrEnum):
    CANCELLED = "cancelled"
    MISSED_SCHEDULE = "missed_schedule"
    PREVIOUS_RUN_AWAITING_INPUT = "previous_run_awaiting_input"
    EXPIRED = "expired"
    BLOCKER_LOST = "blocker_lost"
    SUPERSEDED = "superseded"
    WORKER_STOPPED = "worker_stopped"
    """Its process stopped cleanly (Ctrl-C, SIGTERM, the runtime closed) while it ran."""


class ErrorCode(StrEnum):
    EXECUTION_FAILED = "execution_failed"
    STEP_CAP = "step_cap"
    NEEDS_USER_INPUT = "needs_user_input"
    TIMEOUT = "timeout"


class Trigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    CATCHUP = "catchup"
    BACKFILL = "backfill"
    """A past slot run on request (`Runtime.backfill`), unattended as a scheduled one."""
    RETRY = "retry"
    """A failed run's next attempt (`Run.attempt`, `Run.retry_of`); not a slot."""


class Kind(StrEnum):
    RECURRING = "recurring"
    ONESHOT = "oneshot"


class ContextMode(StrEnum):
    FRESH = "fresh"
    CONTINUE = "continue"


class Overlap(StrEnum):
    SKIP = "skip"
    BUFFER_ONE = "buffer_one"
    CANCEL_OTHER = "cancel_other"
    ALLOW = "allow"


class Catchup(StrEnum):
    NONE = "none"
    LATEST = "latest"


class Anchor(StrEnum):
    SLOT = "slot"
    COMPLETION = "completion"


class UnattendedBlockers(StrEnum):
    FAIL = "fail"
    REJECT = "reject"
    WAIT = "wait"


class DstSkipped(StrEnum):
    SHIFT = "shift"
    SKIP = "skip"


class DstRepeated(StrEnum):
    FIRST = "first"
    BOTH = "both"


class BlockerKind(StrEnum):
    QUESTION = "question"
    PERMISSION = "permission"
