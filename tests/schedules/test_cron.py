from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.model import DstRepeated, DstSkipped, ValidationError
from automations.schedules import (
    CronSyntaxError,
    CronTimeline,
    cron_timeline,
    load_zone,
    parse_cron,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def next_fire(expression: str, after: datetime, tz: str = "UTC") -> datetime | None:
    return cron_timeline(expression, tz, DstSkipped.SHIFT, None).next_after(after)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 9 * * *", utc(2026, 6, 1, 8, 30), utc(2026, 6, 1, 9, 0)),  # pawwork
        ("0 9 1 * 1", utc(2026, 6, 2), utc(2026, 6, 8, 9, 0)),  # day OR weekday
        ("0 9 31 2 1", utc(2026, 2, 3), utc(2026, 2, 9, 9, 0)),  # Feb 31 never, Mondays do
        ("5/15 9 * * *", utc(2026, 6, 1, 9, 0), utc(2026, 6, 1, 9, 5)),
        ("0 0 29 2 *", utc(2026, 3, 1), utc(2028, 2, 29)),
        ("0 9 * * *", utc(2026, 6, 1, 9, 0), utc(2026, 6, 2, 9, 0)),  # strictly after
        ("0 0 * * 7", utc(2026, 6, 1), utc(2026, 6, 7)),  # 7 is Sunday
        ("0 0 * * 0", utc(2026, 6, 1), utc(2026, 6, 7)),  # 0 is Sunday
        ("0 12 * JAN,jul MON-fri", utc(2026, 6, 1), utc(2026, 7, 1, 12)),
        ("*/20 1-3/2 * * *", utc(2026, 6, 1, 1, 45), utc(2026, 6, 1, 3, 0)),
    ],
)
def test_next_fire(expression: str, after: datetime, expected: datetime) -> None:
    assert next_fire(expression, after) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "*/0 * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "* * * * * *",  # six fields
        "* * * *",
        "",
        "0 0 31 2 *",  # unreachable
        "0 0 30,31 2 *",
        "0 0 31 4,6,9,11 *",
        "L * * * *",
        "0 0 L * *",
        "0 0 1W * *",
        "0 0 * * 1#2",
        "@daily",
        "H * * * *",
        "? * * * *",
        "5-1 * * * *",  # backwards range
        "1,,2 * * * *",
        "*/5/2 * * * *",
        "-1 * * * *",
        "0 0 * * MON-",
        "0x10 * * * *",
        "\uff11 * * * *",  # full-width digit one
    ],
)
def test_malformed_or_unreachable_is_rejected_at_once(expression: str) -> None:
    with pytest.raises(CronSyntaxError):
        parse_cron(expression)


def test_february_29_is_reachable() -> None:
    parse_cron("0 0 29 2 *")
    parse_cron("0 0 31 1-2 *")  # reachable in January


def test_hour_field_decides_the_default_repeated_rule() -> None:
    assert parse_cron("*/15 * * * *").hour_repeats
    assert parse_cron("0 */2 * * *").hour_repeats
    assert parse_cron("0 1-5/2 * * *").hour_repeats
    assert not parse_cron("30 2 * * *").hour_repeats
    assert not parse_cron("30 1-3 * * *").hour_repeats


def test_the_timeline_is_cached_by_expression_and_timezone() -> None:
    first = cron_timeline("*/5 * * * *", "Europe/Berlin", DstSkipped.SHIFT, None)
    assert cron_timeline("*/5 * * * *", "Europe/Berlin", DstSkipped.SHIFT, None) is first
    assert cron_timeline("*/5 * * * *", "UTC", DstSkipped.SHIFT, None) is not first


cron_fields = st.one_of(
    st.just("*"),
    st.integers(0, 70).map(str),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(0, 40), st.integers(0, 40)),
    st.builds(
        lambda a, s: f"{a}/{s}", st.sampled_from(["*", "0", "5", "1-30"]), st.integers(0, 70)
    ),
    st.builds(lambda a, b: f"{a},{b}", st.integers(0, 40), st.integers(0, 40)),
    st.sampled_from(["mon", "FEB", "L", "1W", "#", "?", "@", "sun-sat", "jan-dec"]),
    st.text(max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.lists(cron_fields, min_size=5, max_size=5).map(" ".join),
        st.lists(cron_fields, min_size=0, max_size=7).map(" ".join),
        st.text(max_size=300),
    )
)
def test_any_string_is_accepted_or_rejected_quickly(expression: str) -> None:
    """No input hangs the validator or raises anything but the syntax error."""
    started = time.perf_counter()
    try:
        parse_cron(expression)
    except CronSyntaxError:
        accepted = False
    else:
        accepted = True
    if accepted:  # an accepted expression must also produce fires, quickly
        fields = parse_cron(expression)
        zone = load_zone("Europe/Berlin")
        timeline = CronTimeline(fields, zone, DstSkipped.SHIFT, DstRepeated.FIRST)
        fires = timeline.fires(utc(2026, 3, 29), 3)
        assert len(fires) == 3 and fires == sorted(set(fires))
    assert time.perf_counter() - started < 2.0


@settings(max_examples=200, deadline=None)
@given(
    expression=st.sampled_from(["*/7 * * * *", "30 2 * * *", "0 */3 * * *", "15 1-3 * * 0"]),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe"]),
    offsets=st.lists(st.integers(0, 400 * 24 * 60), min_size=1, max_size=8),
)
def test_cached_answers_equal_fresh_ones(expression: str, zone: str, offsets: list[int]) -> None:
    """The per-timeline cache is an optimisation only: any query order, same answers."""
    base = utc(2026, 1, 1)
    shared = cron_timeline(expression, zone, DstSkipped.SHIFT, None)
    for minutes in offsets:
        after = base + timedelta(minutes=minutes, seconds=minutes % 59)
        fresh = CronTimeline(shared.fields, shared.zone, shared.skipped, shared.repeated)
        assert shared.fires(after, 4) == fresh.fires(after, 4)


def test_validation_error_for_bad_cron_is_a_value_error() -> None:
    assert issubclass(CronSyntaxError, ValueError)
    assert not issubclass(CronSyntaxError, ValidationError)
