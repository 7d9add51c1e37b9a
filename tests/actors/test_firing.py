"""What firing a slot means, as the pure plan `plan_fire` makes of it."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from automations.actors._firing import Late, OnTime, Passes, Stale, plan_fire
from automations.model import (
    AfterCount,
    Automation,
    Catchup,
    Missed,
    NewAutomation,
    Once,
    Trigger,
)
from automations.schedules import build_automation

from .test_derived import MINUTE, NOW, _automation

SLOT = NOW + MINUTE


@pytest.mark.parametrize(
    "automation",
    [
        None,
        msgspec.structs.replace(_automation(), paused=True),
        msgspec.structs.replace(_automation(), next_fire_at=SLOT + MINUTE),
    ],
    ids=["deleted", "paused", "another-slot"],
)
def test_a_slot_that_is_no_longer_the_next_fire_is_stale(automation: Automation | None) -> None:
    assert plan_fire(automation, SLOT, SLOT, going=0) == Stale()


def test_a_slot_due_now_starts_its_run_at_once() -> None:
    plan = plan_fire(_automation(), SLOT, SLOT + timedelta(seconds=1), going=0)
    assert isinstance(plan, OnTime) and not plan.ahead
    assert (plan.run.trigger, plan.run.triggered_at, plan.run.attended) == (
        Trigger.SCHEDULE,
        SLOT,
        False,
    )


def test_a_slot_still_to_come_records_its_run_ahead() -> None:
    plan = plan_fire(_automation(), SLOT, SLOT - timedelta(milliseconds=500), going=0)
    assert isinstance(plan, OnTime) and plan.ahead


def test_a_slot_passes_unfired_when_the_runs_going_reach_the_count_stop() -> None:
    automation = _automation(stop=AfterCount(2))
    assert isinstance(plan_fire(automation, SLOT, SLOT, going=1), OnTime)
    assert plan_fire(automation, SLOT, SLOT, going=2) == Passes(SLOT)


def test_a_slot_exactly_at_the_end_of_its_window_is_on_time() -> None:
    automation = _automation()
    assert isinstance(
        plan_fire(automation, SLOT, SLOT + automation.catchup_window, going=0), OnTime
    )


def test_late_slots_are_one_missed_record_with_no_catchup_by_default() -> None:
    now = SLOT + 10 * MINUTE + timedelta(seconds=30)
    plan = plan_fire(_automation(), SLOT, now, going=0)
    # Slots up to now minus the window (60 s) are late: 09:01 ... 09:10.
    assert plan == Late(Missed(first=SLOT, last=SLOT + 9 * MINUTE, count=10), catchup=False)


def test_catchup_latest_runs_the_latest_missed_slot_unless_the_count_stop_is_reached() -> None:
    now = SLOT + 10 * MINUTE + timedelta(seconds=30)
    latest = _automation(catchup=Catchup.LATEST, stop=AfterCount(3))
    plan = plan_fire(latest, SLOT, now, going=0)
    assert isinstance(plan, Late) and plan.catchup
    assert plan_fire(latest, SLOT, now, going=3) == Late(plan.missed, catchup=False)


def test_a_oneshot_found_past_its_time_at_startup_is_missed_even_inside_its_window() -> None:
    new = NewAutomation(title="Once", prompt="p", timezone="UTC", schedule=Once(at=SLOT))
    once = build_automation(new, id="automation_2", project="p", now=NOW)
    now = SLOT + timedelta(seconds=5)
    assert isinstance(plan_fire(once, SLOT, now, going=0), OnTime)
    started = plan_fire(once, SLOT, now, going=0, at_startup=True)
    assert started == Late(Missed(first=SLOT, last=SLOT, count=1), catchup=False)
