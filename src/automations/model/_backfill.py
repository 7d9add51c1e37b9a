"""Backfill: running the past slots of a range that have no run yet, on request."""

from __future__ import annotations

import msgspec
from msgspec.structs import force_setattr

from ._run import Run
from ._time import Instant, normalize_time

__all__ = ["MAX_BACKFILL_SLOTS", "BackfillReport"]

MAX_BACKFILL_SLOTS = 1000
"""Slots one backfill call may cover; a longer range is refused, to be split. One
call runs its slots one after another, so this also bounds how long it takes."""


class BackfillReport(msgspec.Struct, gc=False, frozen=True, kw_only=True, rename="camel"):
    """What a backfill did so far (its progress) or in all (its result)."""

    slots: int
    """Slots in the range."""
    done: int = 0
    """Slots handled so far, oldest first: run, skipped by the overlap policy, or found
    to have a run already."""
    runs: tuple[Run, ...] = ()
    """The runs it recorded (trigger `backfill`), each as it ended."""
    existing: tuple[Instant, ...] = ()
    """The slots it left alone because they had a run already."""

    def __post_init__(self) -> None:
        if any(type(slot) is not Instant for slot in self.existing):
            force_setattr(self, "existing", tuple(normalize_time(s) for s in self.existing))
