"""Missed-slot records: exact, and bounded in time whatever the downtime."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from automations.model import DstRepeated, DstSkipped
from automations.schedules import (
    IntervalTimeline,
    OnceTimeline,
    Timeline,
    cron_timeline,
    missed_slots,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _brute(timeline: Timeline, first: datetime, bound: datetime) -> list[datetime]:
    fires, cursor = [], first - timedelta(microseconds=1)
    while (nxt := timeline.next_after(cursor)) is not None and nxt <= bound:
        fires.append(nxt)
        cursor = nxt
    return fires


@settings(max_examples=150, deadline=None)
@given(
    expression=st.sampled_from(
        ["*/7 * * * *", "30 2 * * *", "0 */3 * * 1-5", "15 1-3 1,15 * 0", "*/20 2 * * *"]
    ),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe"]),
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
    timeline = cron_timeline(expression, zone, skipped, repeated)
    first = timeline.next_after(T0 + timedelta(minutes=start))
    assert first is not None
    bound = first + timedelta(minutes=span)
    missed = missed_slots(timeline, first, bound)
    expected = _brute(timeline, first, bound)
    assert missed is not None
    assert (missed.first, missed.last, missed.count) == (expected[0], expected[-1], len(expected))


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
