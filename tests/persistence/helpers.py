"""Builders shared by the persistence tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from automations.model import (
    Automation,
    Cron,
    Interval,
    NewAutomation,
    Run,
    Scope,
    Trigger,
    new_automation_id,
    new_run,
    new_run_id,
)
from automations.schedules import build_automation

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SCOPE = Scope("project-a", "/repo/a")
OTHER = Scope("project-b", "/repo/b")


def automation(
    title: str = "Brief", project: str = "project-a", every: timedelta | None = None
) -> Automation:
    schedule: Cron | Interval = Cron("0 9 * * *") if every is None else Interval(every=every)
    new = NewAutomation(title=title, prompt="Summarise", timezone="UTC", schedule=schedule)
    return build_automation(
        new, id=new_automation_id(), project=project, now=NOW, min_interval=timedelta(0)
    )


def run(
    automation_id: str,
    *,
    trigger: Trigger = Trigger.MANUAL,
    triggered_at: datetime = NOW,
) -> Run:
    return new_run(
        id=new_run_id(),
        automation_id=automation_id,
        definition_revision=1,
        trigger=trigger,
        triggered_at=triggered_at,
        attended=trigger is Trigger.MANUAL,
    )
