"""DESIGN 6.2 on the DST days of 2026, Europe/Berlin and America/New_York."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from automations.model import DstRepeated, DstSkipped
from automations.schedules import cron_timeline


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fires(
    expression: str,
    zone: str,
    after: datetime,
    count: int,
    skipped: DstSkipped = DstSkipped.SHIFT,
    repeated: DstRepeated | None = None,
) -> list[datetime]:
    return cron_timeline(expression, zone, skipped, repeated).fires(after, count)


# Europe/Berlin springs forward on 2026-03-29 at 02:00 CET (01:00Z) to 03:00 CEST.


def test_berlin_spring_fixed_time_in_the_gap_fires_right_after_it() -> None:
    assert fires("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), 2) == [
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST, the first instant after the gap
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]


def test_berlin_spring_fixed_time_in_the_gap_can_be_skipped() -> None:
    got = fires("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), 1, DstSkipped.SKIP)
    assert got == [utc(2026, 3, 30, 0, 30)]


def test_berlin_spring_wildcard_hour_keeps_its_rhythm_once() -> None:
    assert fires("*/30 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 10), 4) == [
        utc(2026, 3, 29, 0, 30),  # 01:30 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST; the gap's 02:00 and 02:30 collapse into it
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 2, 0),
    ]


# Europe/Berlin falls back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00 CET.


def test_berlin_fall_fixed_time_fires_once_at_the_first_occurrence() -> None:
    assert fires("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST; not again at 02:30 CET
        utc(2026, 10, 26, 1, 30),
    ]


def test_berlin_fall_fixed_time_can_fire_in_both_passes() -> None:
    got = fires("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12), 2, repeated=DstRepeated.BOTH)
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)]


def test_berlin_fall_wildcard_hour_fires_in_both_passes() -> None:
    assert fires("*/30 * * * *", "Europe/Berlin", utc(2026, 10, 24, 23, 10), 6) == [
        utc(2026, 10, 24, 23, 30),  # 01:30 CEST
        utc(2026, 10, 25, 0, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 1, 0),  # 02:00 CET
        utc(2026, 10, 25, 1, 30),  # 02:30 CET
        utc(2026, 10, 25, 2, 0),  # 03:00 CET
    ]


def test_berlin_fall_wildcard_hour_can_be_limited_to_the_first_pass() -> None:
    got = fires(
        "0 * * * *", "Europe/Berlin", utc(2026, 10, 24, 23, 30), 3, repeated=DstRepeated.FIRST
    )
    assert got == [utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 2, 0), utc(2026, 10, 25, 3, 0)]


@pytest.mark.parametrize("after_minute", [0, 15, 45, 59])
def test_berlin_fall_second_pass_is_found_from_inside_the_fold(after_minute: int) -> None:
    # From 02:xx CEST (first pass), the next quarter may be in the second pass.
    after = utc(2026, 10, 25, 0, after_minute)
    got = fires("*/15 * * * *", "Europe/Berlin", after, 1)
    minute = (after_minute // 15 + 1) * 15
    assert got == [utc(2026, 10, 25, 0, 0).replace(hour=minute // 60, minute=minute % 60)]


# America/New_York springs forward on 2026-03-08 at 02:00 EST (07:00Z) to 03:00 EDT
# and falls back on 2026-11-01 at 02:00 EDT (06:00Z) to 01:00 EST.


def test_new_york_spring_fixed_and_wildcard() -> None:
    assert fires("30 2 * * *", "America/New_York", utc(2026, 3, 7, 12), 2) == [
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT
        utc(2026, 3, 9, 6, 30),
    ]
    assert fires("0 * * * *", "America/New_York", utc(2026, 3, 8, 6, 30), 2) == [
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT follows 01:00 EST
        utc(2026, 3, 8, 8, 0),
    ]


def test_new_york_fall_fixed_and_wildcard() -> None:
    assert fires("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12), 2) == [
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT only
        utc(2026, 11, 2, 6, 30),
    ]
    assert fires("0 * * * *", "America/New_York", utc(2026, 11, 1, 4, 10), 4) == [
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        utc(2026, 11, 1, 6, 0),  # 01:00 EST
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
        utc(2026, 11, 1, 8, 0),
    ]


@pytest.mark.parametrize(
    ("zone", "around"),
    [
        ("Europe/Berlin", utc(2026, 3, 28)),
        ("Europe/Berlin", utc(2026, 10, 24)),
        ("America/New_York", utc(2026, 3, 7)),
        ("America/New_York", utc(2026, 10, 31)),
        ("Australia/Lord_Howe", utc(2026, 4, 4)),  # a 30-minute shift
        ("Australia/Lord_Howe", utc(2026, 10, 3)),
    ],
)
def test_fires_are_strictly_increasing_across_transitions(zone: str, around: datetime) -> None:
    got = fires("*/10 * * * *", zone, around, 6 * 24 * 3)
    gaps = {b - a for a, b in itertools.pairwise(got)}
    assert min(gaps).total_seconds() > 0 and max(gaps).total_seconds() <= 600
