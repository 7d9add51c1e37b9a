from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automations.model import (
    AutomationPatch,
    Cron,
    Interval,
    Kind,
    NewAutomation,
    Once,
    ValidationError,
    Where,
)
from automations.schedules import apply_patch, as_new, build_automation, timeline_of

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def _build(schedule: Cron | Interval | Once, **changes: object) -> NewAutomation:
    return NewAutomation(
        title="Brief",
        prompt="Summarise",
        timezone="Europe/Berlin",
        schedule=schedule,
        **changes,  # type: ignore[arg-type]
    )


def test_cron_automation_has_its_next_five_fires_in_its_timezone() -> None:
    a = build_automation(_build(Cron("0 9 * * 1-5")), id="a", project="p", now=NOW)
    assert a.kind is Kind.RECURRING and a.fire_at is None
    # 08:30Z is 10:30 in Berlin, so today's 09:00 CEST has passed.
    assert a.next_fire_at == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)
    assert len(a.next_fires) == 5 and a.next_fires[0] == a.next_fire_at
    assert a.next_fires[-1] == datetime(2026, 6, 8, 7, 0, tzinfo=UTC)  # Monday, not Sunday


def test_interval_without_start_begins_one_interval_after_creation() -> None:
    a = build_automation(
        _build(Interval(every=timedelta(minutes=30))), id="a", project="p", now=NOW
    )
    assert a.next_fire_at == NOW + timedelta(minutes=30)
    assert a.next_fires[1] - a.next_fires[0] == timedelta(minutes=30)


def test_interval_with_start_anchors_on_the_start() -> None:
    start = NOW + timedelta(seconds=7)
    new = _build(Interval(every=timedelta(seconds=30), start=start))
    a = build_automation(new, id="a", project="p", now=NOW)
    assert a.next_fires[:2] == (start, start + timedelta(seconds=30))
    later = timeline_of(a).next_after(start + timedelta(minutes=10, seconds=1))
    assert later == start + timedelta(minutes=10, seconds=30)


def test_oneshot_fires_once() -> None:
    at = NOW + timedelta(hours=2)
    a = build_automation(_build(Once(at=at)), id="a", project="p", now=NOW)
    assert a.kind is Kind.ONESHOT and a.schedule is None and a.fire_at == at
    assert a.next_fires == (at,)
    assert timeline_of(a).next_after(at) is None
    assert as_new(a).schedule == Once(at=at)


def test_paused_automation_has_no_next_fire() -> None:
    a = build_automation(_build(Cron("* * * * *"), paused=True), id="a", project="p", now=NOW)
    assert a.next_fire_at is None and a.next_fires == ()


def test_where_defaults_to_the_runtimes_project() -> None:
    a = build_automation(_build(Cron("* * * * *")), id="a", project="p1", now=NOW)
    assert a.where == Where("p1")
    # Its runs hold a writer key of their own; one naming a worktree shares that one.
    assert a.writer_key == "automation:a"
    shared = _build(Cron("* * * * *"), where=Where("p1", worktree="/w"))
    assert build_automation(shared, id="b", project="p1", now=NOW).writer_key == "worktree:/w"


def test_a_real_change_adds_one_revision_and_a_no_op_changes_nothing() -> None:
    a = build_automation(_build(Cron("0 9 * * *")), id="a", project="p", now=NOW)
    later = NOW + timedelta(minutes=1)
    assert apply_patch(a, AutomationPatch(title="Brief"), now=later) is a
    assert apply_patch(a, AutomationPatch(), now=later) is a
    b = apply_patch(a, AutomationPatch(title="Daily brief"), now=later)
    assert (b.revision, b.title, b.updated_at, b.created_at) == (2, "Daily brief", later, NOW)
    assert b.next_fires == a.next_fires


def test_a_timezone_change_reschedules() -> None:
    a = build_automation(_build(Cron("0 9 * * *")), id="a", project="p", now=NOW)
    b = apply_patch(a, AutomationPatch(timezone="America/New_York"), now=NOW)
    assert b.next_fire_at == datetime(2026, 6, 1, 13, 0, tzinfo=UTC)  # 09:00 EDT


def test_a_patch_is_validated_as_a_whole() -> None:
    a = build_automation(_build(Cron("0 9 * * *")), id="a", project="p", now=NOW)
    with pytest.raises(ValidationError) as caught:
        apply_patch(a, AutomationPatch(title="", schedule=Cron("bad")), now=NOW)
    assert sorted(caught.value.details) == [
        ("schedule.expression", "invalid_cron_expression"),
        ("title", "title_required"),
    ]


def test_a_past_oneshot_can_still_be_renamed() -> None:
    at = NOW + timedelta(hours=1)
    a = build_automation(_build(Once(at=at)), id="a", project="p", now=NOW)
    b = apply_patch(a, AutomationPatch(title="Renamed"), now=at + timedelta(hours=1))
    assert b.title == "Renamed" and b.fire_at == at
    with pytest.raises(ValidationError):
        apply_patch(a, AutomationPatch(schedule=Once(at=at)), now=at + timedelta(hours=1))


def test_switching_kinds() -> None:
    a = build_automation(_build(Cron("0 9 * * *")), id="a", project="p", now=NOW)
    at = NOW + timedelta(days=1)
    b = apply_patch(a, AutomationPatch(schedule=Once(at=at)), now=NOW)
    assert (b.kind, b.schedule, b.fire_at, b.next_fire_at) == (Kind.ONESHOT, None, at, at)
