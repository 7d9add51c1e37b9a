"""The run: one attempt to execute an automation, and the blockers that pause it."""

from __future__ import annotations

import msgspec
from msgspec.structs import force_setattr

from ._enums import BlockerKind, ErrorCode, RunState, StopReason, Trigger
from ._time import Instant, normalize_time

__all__ = [
    "Blocker",
    "KeyHolder",
    "Missed",
    "Permission",
    "Pruned",
    "Question",
    "Run",
    "RunError",
    "RunOutcome",
    "TRACEBACK_LIMIT",
]


class Question(
    msgspec.Struct, gc=False, frozen=True, tag="question", tag_field="type", rename="camel"
):
    """A question for a person, answered with a `str` (one of `options` when given)."""

    text: str
    options: tuple[str, ...] | None = None

    @property
    def kind(self) -> BlockerKind:
        return BlockerKind.QUESTION


class Permission(
    msgspec.Struct, gc=False, frozen=True, tag="permission", tag_field="type", rename="camel"
):
    """A request to use a tool, answered with a `bool`."""

    tool: str
    detail: str = ""

    @property
    def kind(self) -> BlockerKind:
        return BlockerKind.PERMISSION


class Blocker(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """A pause inside a run until a person answers `request`."""

    id: str
    request: Question | Permission
    asked_at: Instant

    def __post_init__(self) -> None:
        force_setattr(self, "asked_at", normalize_time(self.asked_at))


TRACEBACK_LIMIT = 8192
"""Characters of an executor's traceback a failed run keeps: the last ones, where the
exception is."""


class RunError(msgspec.Struct, gc=False, frozen=True, rename="camel"):
    code: ErrorCode
    message: str
    traceback: str | None = None
    """For an executor that raised: its traceback, the last `TRACEBACK_LIMIT`
    characters (None in records written before it was kept)."""


class Missed(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """The slots that passed unfired: first, last and how many."""

    first: Instant
    last: Instant
    count: int

    def __post_init__(self) -> None:
        force_setattr(self, "first", normalize_time(self.first))
        force_setattr(self, "last", normalize_time(self.last))


class KeyHolder(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """The run that held a writer key when another run was skipped for it."""

    run_id: str
    automation_id: str
    state: RunState


class RunOutcome(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """What an executor may return besides a plain result string or None."""

    result: str | None = None
    cost: float | None = None
    session_id: str | None = None


class Run(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """A run as the ledger holds it at one revision.

    Build new revisions with `automations.model.advance`, which enforces the state
    machine; never with `msgspec.structs.replace` directly.
    """

    id: str
    automation_id: str
    revision: int
    definition_revision: int
    trigger: Trigger
    triggered_at: Instant
    attended: bool
    state: RunState
    session_id: str | None = None
    started_at: Instant | None = None
    completed_at: Instant | None = None
    steps: int = 0
    cost: float | None = None
    blocker: Blocker | None = None
    result: str | None = None
    error: RunError | None = None
    stop_reason: StopReason | None = None
    missed: Missed | None = None
    held_by: KeyHolder | None = None
    """For a run skipped by the overlap policy (`previous_run_awaiting_input`): the run
    that held the writer key, and its state then. None in records written before it."""
    planned_at: Instant | None = None
    """For a slot of an automation with a jitter: when the run was planned to start
    (its slot plus the slot's offset); `triggered_at` stays the slot."""
    attempt: int = 1
    """1 for a run, n + 1 for the retry of attempt n (trigger `retry`)."""
    retry_of: str | None = None
    """For a retry: the id of the first run of its chain (attempt 1)."""

    def __post_init__(self) -> None:
        # Runs are built on the hot path: check the common case (already an Instant) inline.
        if type(self.triggered_at) is not Instant:
            force_setattr(self, "triggered_at", normalize_time(self.triggered_at))
        if self.started_at is not None and type(self.started_at) is not Instant:
            force_setattr(self, "started_at", normalize_time(self.started_at))
        if self.completed_at is not None and type(self.completed_at) is not Instant:
            force_setattr(self, "completed_at", normalize_time(self.completed_at))
        if self.planned_at is not None and type(self.planned_at) is not Instant:
            force_setattr(self, "planned_at", normalize_time(self.planned_at))

    @property
    def slot(self) -> Instant | None:
        """The scheduled slot this run executes or records, if any."""
        if self.trigger is Trigger.MANUAL or self.trigger is Trigger.RETRY:
            return None
        return self.triggered_at

    @property
    def starts_at(self) -> Instant:
        """When the run may start: its planned start, or else when it was triggered."""
        return self.triggered_at if self.planned_at is None else self.planned_at


class Pruned(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """What a retention sweep forgot: whole runs, and journal entries (theirs and the
    superseded revisions of automations)."""

    runs: int = 0
    entries: int = 0
