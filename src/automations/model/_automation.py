"""The automation: a stored definition, its create and update inputs, its tombstone.

Stored types accept unknown fields (a journal written by newer code must still be
readable); input types reject them, so a typo never silently does nothing.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
from msgspec import UNSET, UnsetType
from msgspec.structs import force_setattr

from ._enums import (
    Anchor,
    Catchup,
    ContextMode,
    DstRepeated,
    DstSkipped,
    Kind,
    Overlap,
    UnattendedBlockers,
)
from ._retry import RetryPolicy
from ._specs import AfterCount, Cron, Interval, Never, Once
from ._time import Instant, Millis, normalize_time

__all__ = [
    "DEFAULT_CATCHUP_WINDOW",
    "DEFAULT_STEP_CAP",
    "MAX_JITTER",
    "NO_JITTER",
    "Automation",
    "AutomationPatch",
    "ModelRef",
    "NewAutomation",
    "Scope",
    "Tombstone",
    "Where",
]

DEFAULT_STEP_CAP = 50
DEFAULT_CATCHUP_WINDOW = timedelta(seconds=60)
NO_JITTER = timedelta(0)
MAX_JITTER = timedelta(hours=1)
"""A slot's run is recorded before its slot and waits for its planned start: an hour
at most, so a definition does not hold a run back for long."""

_DURATION_FIELDS = ("catchup_window", "blocker_timeout", "max_duration", "jitter")
_AUTOMATION_TIMES = ("created_at", "updated_at", "fire_at", "next_fire_at", "anchored_at")


class Scope(msgspec.Struct, gc=False, frozen=True):
    """Who may see a row: the runtime's project and owner directory."""

    project: str
    directory: str


class Where(msgspec.Struct, gc=False, frozen=True, rename="camel", forbid_unknown_fields=True):
    """Where a run works: its project, and the worktree it writes to, if it names one
    (automations naming the same worktree share a writer key, see `Automation`)."""

    project: str
    worktree: str | None = None


class ModelRef(msgspec.Struct, gc=False, frozen=True, rename="camel", forbid_unknown_fields=True):
    provider: str
    model: str


def _normalize_durations(obj: msgspec.Struct) -> None:
    for name in _DURATION_FIELDS:
        value = getattr(obj, name)
        # Already the model's type (the defaults, a value converted before): left as is.
        if value is not None and value is not UNSET and type(value) is not Millis:
            force_setattr(obj, name, normalize_time(value))


class NewAutomation(
    msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """What a user gives to create an automation; see DESIGN 4 for each field."""

    title: str
    prompt: str
    timezone: str
    schedule: Cron | Interval | Once
    model: ModelRef | None = None
    variant: str | None = None
    stop: Never | AfterCount = msgspec.field(default_factory=Never)
    context: ContextMode = ContextMode.FRESH
    where: Where | None = None
    executor: str = "default"
    paused: bool = False
    overlap: Overlap = Overlap.SKIP
    catchup_window: Millis = DEFAULT_CATCHUP_WINDOW
    catchup: Catchup = Catchup.NONE
    anchor: Anchor = Anchor.SLOT
    step_cap: int = DEFAULT_STEP_CAP
    unattended_blockers: UnattendedBlockers = UnattendedBlockers.FAIL
    blocker_timeout: Millis | None = None
    dst_skipped: DstSkipped = DstSkipped.SHIFT
    dst_repeated: DstRepeated | None = None
    max_duration: Millis | None = None
    key: str | None = None
    """Makes create idempotent: creating again with the key of an automation of the
    scope returns it (`Conflict` if its definition differs). Unique per scope."""
    jitter: Millis = NO_JITTER
    """Each slot starts at a deterministic offset in `[0, jitter)` after it (see
    `schedules.planned_start`), so a crowd of automations on one slot is spread."""
    retry: RetryPolicy | None = None
    """How a failed run is retried; None (the default) retries nothing."""

    def __post_init__(self) -> None:
        _normalize_durations(self)


class AutomationPatch(
    msgspec.Struct,
    gc=False,
    frozen=True,
    kw_only=True,
    rename="camel",
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    """An update: only the fields that are set change."""

    title: str | UnsetType = UNSET
    prompt: str | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    schedule: Cron | Interval | Once | UnsetType = UNSET
    model: ModelRef | UnsetType | None = UNSET
    variant: str | UnsetType | None = UNSET
    stop: Never | AfterCount | UnsetType = UNSET
    context: ContextMode | UnsetType = UNSET
    where: Where | UnsetType = UNSET
    executor: str | UnsetType = UNSET
    paused: bool | UnsetType = UNSET
    overlap: Overlap | UnsetType = UNSET
    catchup_window: Millis | UnsetType = UNSET
    catchup: Catchup | UnsetType = UNSET
    anchor: Anchor | UnsetType = UNSET
    step_cap: int | UnsetType = UNSET
    unattended_blockers: UnattendedBlockers | UnsetType = UNSET
    blocker_timeout: Millis | UnsetType | None = UNSET
    dst_skipped: DstSkipped | UnsetType = UNSET
    dst_repeated: DstRepeated | UnsetType | None = UNSET
    max_duration: Millis | UnsetType | None = UNSET
    jitter: Millis | UnsetType = UNSET
    retry: RetryPolicy | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        _normalize_durations(self)

    def changes(self) -> dict[str, object]:
        """The fields that are set, by Python name."""
        return {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not UNSET
        }


class Automation(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """A stored definition with its derived schedule fields."""

    id: str
    title: str
    prompt: str
    revision: int
    paused: bool
    context: ContextMode
    where: Where
    timezone: str
    model: ModelRef | None
    variant: str | None
    executor: str
    created_at: Instant
    updated_at: Instant
    kind: Kind
    schedule: Cron | Interval | None
    fire_at: Instant | None
    stop: Never | AfterCount
    overlap: Overlap
    catchup_window: Millis
    catchup: Catchup
    anchor: Anchor
    step_cap: int
    unattended_blockers: UnattendedBlockers
    blocker_timeout: Millis | None
    dst_skipped: DstSkipped
    dst_repeated: DstRepeated | None
    max_duration: Millis | None
    next_fire_at: Instant | None = None
    next_fires: tuple[Instant, ...] = ()
    failure_streak: int = 0
    session_id: str | None = None
    executed_runs: int = 0
    """Runs that executed (succeeded or failed), manual ones included: the count stop."""
    anchored_at: Instant | None = None
    """With `anchor="completion"`, when the last scheduled run ended."""
    key: str | None = None
    """The idempotency key it was created with (`NewAutomation.key`), if any."""
    jitter: Millis = NO_JITTER
    """See `NewAutomation.jitter`; zero in records written before it existed."""
    retry: RetryPolicy | None = None
    """How a failed run is retried (`NewAutomation.retry`); None retries nothing."""

    @property
    def writer_key(self) -> str:
        """The key one active run at a time holds: its worktree when it names one (the
        automations naming the same worktree exclude each other), else its own, so a
        run of one automation never stops another's."""
        if self.where.worktree is not None:
            return f"worktree:{self.where.worktree}"
        return f"automation:{self.id}"

    def __post_init__(self) -> None:
        # Built for every create and every derived change: check the common case (values
        # already of the model's types) inline, and convert only what is not.
        for name in _AUTOMATION_TIMES:
            value = getattr(self, name)
            if value is not None and type(value) is not Instant:
                force_setattr(self, name, normalize_time(value))
        fires = self.next_fires
        if type(fires) is not tuple or any(type(v) is not Instant for v in fires):
            force_setattr(self, "next_fires", tuple(normalize_time(v) for v in fires))
        for name in _DURATION_FIELDS:
            value = getattr(self, name)
            if value is not None and type(value) is not Millis:
                force_setattr(self, name, normalize_time(value))


class Tombstone(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """What remains of a deleted automation; its runs stay in the ledger."""

    id: str
    revision: int
    deleted: bool = True
