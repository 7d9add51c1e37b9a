"""Counting the slots that passed unfired, in bounded time whatever the downtime.

For cron, whole days are counted from the expression's field sets (hours x minutes on
a matching day); only the two edge days and days with a DST change are enumerated, so a
year of downtime costs about 365 cheap steps, not 525,600 croniter calls. An edge day
without a change has one offset all day, so its slots are counted in epoch milliseconds;
only days with a change go wall time by wall time through the DST rules. Interval and
one-shot schedules are plain arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..model import Missed, as_instant, from_ms, to_ms
from ._cron import CronFields
from ._dst import local_instants
from ._timeline import CronTimeline, IntervalTimeline, OnceTimeline, Timeline

__all__ = ["missed_slots"]

_DAY = timedelta(days=1)
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000


def missed_slots(timeline: Timeline, first: datetime, bound: datetime) -> Missed | None:
    """The slots `s` with `first <= s <= bound`: first, last and count; None if none.

    `first` must be a slot of `timeline` (an automation's `next_fire_at`).
    """
    if first > bound:
        return None
    if isinstance(timeline, OnceTimeline):
        return Missed(first=first, last=first, count=1)
    if isinstance(timeline, IntervalTimeline):
        count = (bound - first) // timeline.every + 1
        return Missed(
            first=first, last=as_instant(first + (count - 1) * timeline.every), count=count
        )
    if isinstance(timeline, CronTimeline):
        return _cron_missed(timeline, first, bound)
    raise TypeError(f"unknown timeline {timeline!r}")


def _cron_missed(timeline: CronTimeline, first: datetime, bound: datetime) -> Missed:
    zone = timeline.zone
    first_day = first.astimezone(zone).date()
    last_day = bound.astimezone(zone).date()
    per_day = len(timeline.fields.hours) * len(timeline.fields.minutes)
    count = 0
    last: datetime | None = None
    day = first_day
    while day <= last_day:
        if _matches(timeline.fields, day):
            edge = day in (first_day, last_day)
            if edge or _changes_offset(day, zone):
                day_count, day_last = _day_slots(timeline, day, first, bound)
                count += day_count
                last = day_last or last
            else:
                count += per_day
                last = None  # known to be on this day; found below if it is the latest
        day += _DAY
    if last is None or last.astimezone(zone).date() < last_day:
        last = _last_not_after(timeline, bound, first)
    return Missed(first=first, last=last, count=count)


def _day_slots(
    timeline: CronTimeline, day: date, first: datetime, bound: datetime
) -> tuple[int, datetime | None]:
    """How many slots `s` of one local day have `first <= s <= bound`, and the last."""
    fields, zone = timeline.fields, timeline.zone
    minutes = sorted(fields.minutes)
    if _changes_offset(day, zone):
        found: set[datetime] = set()
        for hour in fields.hours:
            for minute in minutes:
                wall = datetime.combine(day, time(hour, minute))
                found.update(local_instants(wall, zone, timeline.skipped, timeline.repeated))
        fires = sorted(as_instant(i.replace(tzinfo=UTC)) for i in found)
        in_range = [f for f in fires if first <= f <= bound]
        return len(in_range), in_range[-1] if in_range else None
    # One offset all day: each wall time is one instant, in order, found by arithmetic.
    offset = datetime.combine(day, time(0), tzinfo=zone).utcoffset() or timedelta(0)
    midnight = to_ms(datetime.combine(day, time(0), tzinfo=UTC) - offset)
    low, high = to_ms(first), to_ms(bound)
    count, last = 0, None
    for hour in sorted(fields.hours):
        start = midnight + hour * _HOUR_MS
        if start + _HOUR_MS <= low or start > high:
            continue
        for minute in minutes:
            at = start + minute * _MINUTE_MS
            if low <= at <= high:
                count, last = count + 1, at
    return count, None if last is None else from_ms(last)


def _last_not_after(timeline: CronTimeline, bound: datetime, first: datetime) -> datetime:
    """The latest slot in [first, bound], searching back one matching day at a time."""
    zone = timeline.zone
    day = bound.astimezone(zone).date()
    while True:
        if _matches(timeline.fields, day):
            _, last = _day_slots(timeline, day, first, bound)
            if last is not None:
                return last
        day -= _DAY


def _matches(fields: CronFields, day: date) -> bool:
    """Vixie cron's day rule: restricted day fields combine by OR."""
    if day.month not in fields.months:
        return False
    weekday = (day.weekday() + 1) % 7  # cron counts from Sunday = 0
    if fields.days_restricted and fields.weekdays_restricted:
        return day.day in fields.days or weekday in fields.weekdays
    if fields.days_restricted:
        return day.day in fields.days
    if fields.weekdays_restricted:
        return weekday in fields.weekdays
    return True


def _changes_offset(day: date, zone: ZoneInfo) -> bool:
    """Whether the offset at the day's first instant differs from the next day's: also
    true of a day whose last hour repeats because the clocks go back at midnight."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + _DAY, time(0), tzinfo=zone)
    return start.utcoffset() != end.utcoffset()
