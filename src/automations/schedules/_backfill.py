"""The slots of a past range, for a backfill: the automation's own timeline, DST rules
included, so a backfilled slot is one the schedule would have fired."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..model import MAX_BACKFILL_SLOTS, Automation, ValidationError, as_instant
from ._definition import timeline_of

__all__ = ["backfill_slots"]

_ONE_MS = timedelta(milliseconds=1)
_CHUNK = 64


def backfill_slots(
    automation: Automation, start: datetime, end: datetime, *, now: datetime
) -> list[datetime]:
    """The slots `s` of `automation` with `start <= s < end`, oldest first.

    `ValidationError` when the range is empty, reaches past `now` (a backfill runs the
    past; the scheduler runs the future), or holds more than `MAX_BACKFILL_SLOTS`.
    """
    problems: list[tuple[str, str]] = []
    for field, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            problems.append((field, "datetime_needs_timezone"))
    if problems:
        raise ValidationError(problems)
    start, end = as_instant(start), as_instant(end)
    if end <= start:
        raise ValidationError([("end", "backfill_end_must_follow_start")])
    if end > now:
        raise ValidationError([("end", "backfill_range_in_future")])
    timeline = timeline_of(automation)
    slots: list[datetime] = []
    after = start - _ONE_MS
    while True:
        chunk = timeline.fires(after, _CHUNK)
        for slot in chunk:
            if slot >= end:
                return slots
            if len(slots) == MAX_BACKFILL_SLOTS:
                raise ValidationError([("end", f"backfill_too_many_slots_{MAX_BACKFILL_SLOTS}")])
            slots.append(slot)
        if len(chunk) < _CHUNK:
            return slots
        after = chunk[-1]
