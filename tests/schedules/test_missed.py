"""Missed-slot records: exact, and bounded in time whatever the downtime."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.model import DstRepeated, DstSkipped
from automations.schedules import (
    IntervalTimeline,
    OnceTimeline,
    Timeline,
    _missed,
    cron_timeline,
    missed_slots,
)
from automations.schedules._dst import local_instants

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "UTC",
    "Australia/Lord_Howe",  # a 30-minute shift
    "America/Havana",  # clocks change at midnight
    "America/Santiago",  # back at midnight: the day's last hour repeats
]


def _brute(timeline: Timeline, first: datetime, bound: datetime) -> list[datetime]:
    fires, cursor = [], first - timedelta(microseconds=1)
    while (nxt := timeline.next_after(cursor)) is not None and nxt <= bound:
        fires.append(nxt)
        cursor = nxt
    return fires


def _record_equals_counting(timeline: Timeline, start: int, span: int) -> None:
    """The record of the slots from the first after T0 + `start` minutes through
    `span` minutes later names what counting them one by one finds."""
    first = timeline.next_after(T0 + timedelta(minutes=start))
    assert first is not None
    bound = first + timedelta(minutes=span)
    missed = missed_slots(timeline, first, bound)
    expected = _brute(timeline, first, bound)
    assert missed is not None
    assert (missed.first, missed.last, missed.count) == (expected[0], expected[-1], len(expected))


@settings(max_examples=150, deadline=None)
@given(
    expression=st.sampled_from(
        ["*/7 * * * *", "30 2 * * *", "0 */3 * * 1-5", "15 1-3 1,15 * 0", "*/20 2 * * *"]
    ),
    zone=st.sampled_from(ZONES),
    skipped=st.sampled_from(list(DstSkipped)),
    repeated=st.sampled_from([None, *DstRepeated]),
    start=st.integers(0, 400 * 24 * 60),
    span=st.integers(0, 12 * 24 * 60),
)
def test_cron_records_equal_counting_one_by_one(
    expression: str,
    zone: str,
    skipped: DstSkipped,
    repeated: DstRepeated | None,
    start: int,
    span: int,
) -> None:
    _record_equals_counting(cron_timeline(expression, zone, skipped, repeated), start, span)


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    repeated=st.sampled_from([None, *DstRepeated]),
    start=st.integers(0, 400 * 24 * 60),
    span=st.integers(0, 6 * 60),
)
def test_every_minute_records_equal_counting_one_by_one(
    zone: str, repeated: DstRepeated | None, start: int, span: int
) -> None:
    """Edge days with one offset are counted by arithmetic: still exact, DST days too."""
    _record_equals_counting(
        cron_timeline("* * * * *", zone, DstSkipped.SHIFT, repeated), start, span
    )


def test_an_hour_missed_on_a_plain_day_needs_no_dst_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restart after an hour down, for an every-minute cron: one offset all day, so
    no wall time goes through the DST rules (each costs microseconds, 1,440 a day)."""
    calls: list[datetime] = []

    def counting(
        wall: datetime, zone: ZoneInfo, skipped: DstSkipped, repeated: DstRepeated
    ) -> tuple[datetime, ...]:
        calls.append(wall)
        return local_instants(wall, zone, skipped, repeated)

    monkeypatch.setattr(_missed, "local_instants", counting)
    timeline = cron_timeline("* * * * *", "Europe/Berlin", DstSkipped.SHIFT, None)
    first = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    missed = missed_slots(timeline, first, first + timedelta(hours=1))
    assert missed is not None and (missed.count, missed.last) == (61, first + timedelta(hours=1))
    assert calls == []
    spring = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # Berlin springs forward at 01:00 UTC
    missed = missed_slots(timeline, spring, spring + timedelta(hours=1))
    assert missed is not None and missed.count == 61
    assert len(calls) == 1440  # a day with a change goes wall time by wall time


def test_a_day_whose_last_hour_repeats_counts_both_passes() -> None:
    """Santiago goes back at midnight (2026-04-04 24:00 -> 23:00): 23:00 and 23:30 of
    that Saturday happen twice, and an hour wildcard fires in both passes. The day was
    counted as plain (its midnight and 23:59:59 share an offset), two slots short."""
    timeline = cron_timeline("*/30 * * * *", "America/Santiago", DstSkipped.SHIFT, None)
    first = timeline.next_after(datetime(2026, 4, 2, tzinfo=UTC))
    assert first is not None
    bound = datetime(2026, 4, 8, tzinfo=UTC)
    missed = missed_slots(timeline, first, bound)
    expected = _brute(timeline, first, bound)
    assert missed is not None and (missed.count, missed.last) == (len(expected), expected[-1])
    assert len(expected) == 288  # six days of 48, and two more in the repeated hour


def test_years_of_downtime_are_counted_in_bounded_time() -> None:
    timeline = cron_timeline("* * * * *", "Europe/Berlin", DstSkipped.SHIFT, None)
    first = timeline.next_after(datetime(2020, 1, 1, tzinfo=UTC))
    assert first is not None
    started = time.perf_counter()
    missed = missed_slots(timeline, first, datetime(2026, 11, 22, tzinfo=UTC))
    assert time.perf_counter() - started < 5  # about 0.2 s here; not minutes
    assert missed is not None and missed.count == 3_624_480
    assert missed.last == datetime(2026, 11, 22, tzinfo=UTC)


def test_interval_and_oneshot_are_arithmetic() -> None:
    timeline = IntervalTimeline(T0, timedelta(seconds=30))
    missed = missed_slots(timeline, T0, T0 + timedelta(hours=1, seconds=10))
    assert missed is not None
    assert (missed.count, missed.last) == (121, T0 + timedelta(hours=1))
    huge = missed_slots(timeline, T0, T0 + timedelta(days=3650))
    assert huge is not None and huge.count == 3650 * 2880 + 1
    once = missed_slots(OnceTimeline(T0), T0, T0 + timedelta(seconds=30))
    assert once is not None and (once.first, once.last, once.count) == (T0, T0, 1)
    assert missed_slots(timeline, T0, T0 - timedelta(seconds=1)) is None
