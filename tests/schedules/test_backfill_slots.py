"""A backfill's slots are the schedule's own, in the range, oldest first; bad ranges are
refused before anything runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.model import (
    MAX_BACKFILL_SLOTS,
    Automation,
    Cron,
    Interval,
    NewAutomation,
    ValidationError,
)
from automations.schedules import backfill_slots, build_automation, timeline_of

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CRONS = ["0 9 * * 1-5", "30 2 * * *", "*/15 * * * *", "0 0 1 * *", "0 */6 * * 0"]
ZONES = ["Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe"]


def _automation(schedule: Cron | Interval, zone: str = "UTC") -> Automation:
    new = NewAutomation(title="t", prompt="p", timezone=zone, schedule=schedule)
    return build_automation(new, id="automation_x", project="p", now=NOW, min_interval=timedelta(0))


@settings(max_examples=60, deadline=None)
@given(
    expression=st.sampled_from(CRONS),
    zone=st.sampled_from(ZONES),
    start_hours=st.integers(0, 24 * 300),
    length_hours=st.integers(1, 24 * 10),
)
def test_the_slots_are_the_schedule_s_in_the_range(
    expression: str, zone: str, start_hours: int, length_hours: int
) -> None:
    automation = _automation(Cron(expression), zone)
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=start_hours)
    end = min(NOW, start + timedelta(hours=length_hours))
    if end <= start:
        return
    timeline = timeline_of(automation)
    expected = []
    after = start - timedelta(milliseconds=1)
    while (slot := timeline.next_after(after)) is not None and slot < end:
        expected.append(slot)
        after = slot
    if len(expected) > MAX_BACKFILL_SLOTS:
        with pytest.raises(ValidationError):
            backfill_slots(automation, start, end, now=NOW)
    else:
        assert backfill_slots(automation, start, end, now=NOW) == expected


def test_an_interval_has_no_slot_before_its_start() -> None:
    start = NOW - timedelta(hours=2)
    automation = _automation(Interval(every=timedelta(minutes=30), start=start))
    slots = backfill_slots(automation, NOW - timedelta(days=1), NOW, now=NOW)
    assert slots == [start + timedelta(minutes=30 * k) for k in range(4)]


def test_the_cap_counts_slots_not_time() -> None:
    automation = _automation(Cron("* * * * *"))
    exactly = backfill_slots(automation, NOW - timedelta(minutes=MAX_BACKFILL_SLOTS), NOW, now=NOW)
    assert len(exactly) == MAX_BACKFILL_SLOTS
    with pytest.raises(ValidationError) as refused:
        backfill_slots(automation, NOW - timedelta(minutes=MAX_BACKFILL_SLOTS + 1), NOW, now=NOW)
    assert refused.value.details == [("end", f"backfill_too_many_slots_{MAX_BACKFILL_SLOTS}")]
