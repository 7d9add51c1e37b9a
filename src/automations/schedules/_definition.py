"""From user input to a stored `Automation`: validation, patches and derived fields.

Validation collects every problem at once (the model's field checks plus the
schedule and timezone checks here) and raises one `ValidationError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from msgspec.structs import force_setattr

from ..model import (
    AfterCount,
    Anchor,
    Automation,
    AutomationPatch,
    Catalog,
    Cron,
    Interval,
    Kind,
    NewAutomation,
    Once,
    Problem,
    ValidationError,
    Where,
    as_instant,
    conform,
    field_problems,
    naive_time_problems,
)
from ._cron import CronSyntaxError, parse_cron
from ._timeline import IntervalTimeline, OnceTimeline, Timeline, cron_timeline
from ._zones import timezone_problem

__all__ = [
    "DEFAULT_MIN_INTERVAL",
    "NEXT_FIRES",
    "apply_patch",
    "as_new",
    "build_automation",
    "same_definition",
    "schedule_problems",
    "stop_reached",
    "timeline_of",
    "with_next_fires",
]

DEFAULT_MIN_INTERVAL = timedelta(seconds=30)
MAX_INTERVAL = timedelta(days=36_525)
"""A century: the next fires of a longer interval (or of a time past `LATEST`) would
not fit in a `datetime`."""
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
NEXT_FIRES = 5

_SCHEDULE_FIELDS = frozenset(
    {"schedule", "timezone", "dst_skipped", "dst_repeated", "anchor", "paused"}
)


def schedule_problems(
    new: NewAutomation, *, now: datetime, min_interval: timedelta, check_future: bool = True
) -> list[Problem]:
    """Problems with the timezone and the schedule of `new`."""
    problems: list[Problem] = []
    if code := timezone_problem(new.timezone):
        problems.append(("timezone", code))
    problems.extend(_schedule_problems(new, now, min_interval, check_future))
    return problems


def _schedule_problems(
    new: NewAutomation, now: datetime, min_interval: timedelta, check_future: bool
) -> Iterator[Problem]:
    schedule = new.schedule
    if isinstance(schedule, Cron):
        try:
            parse_cron(schedule.expression)
        except CronSyntaxError:
            yield ("schedule.expression", "invalid_cron_expression")
    elif isinstance(schedule, Interval):
        if schedule.every < min_interval:
            yield ("schedule.every", "interval_below_minimum")
        elif schedule.every > MAX_INTERVAL:
            yield ("schedule.every", "interval_above_maximum")
        if schedule.start is not None and _aware(schedule.start) and schedule.start > LATEST:
            yield ("schedule.start", "time_out_of_range")
    elif check_future and _aware(schedule.at) and schedule.at <= now:
        yield ("schedule.at", "fireAt_must_be_future")
    elif _aware(schedule.at) and schedule.at > LATEST:
        yield ("schedule.at", "time_out_of_range")


def _aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def _validate(
    new: NewAutomation,
    *,
    now: datetime,
    min_interval: timedelta,
    catalog: Catalog | None,
    check_future: bool = True,
) -> NewAutomation:
    """`new` as the wire decoder would have made it (enums from their strings, every
    field's type checked), or `ValidationError` with every problem found."""
    if naive := naive_time_problems(new):  # no wire form: they cannot be converted
        raise ValidationError(naive)
    new = conform(new, NewAutomation, unknown="unsupported_automation_field")
    problems = field_problems(new, catalog=catalog)
    problems += schedule_problems(
        new, now=now, min_interval=min_interval, check_future=check_future
    )
    if problems:
        raise ValidationError(problems)
    return new


def build_automation(
    new: NewAutomation,
    *,
    id: str,
    project: str,
    now: datetime,
    min_interval: timedelta = DEFAULT_MIN_INTERVAL,
    catalog: Catalog | None = None,
) -> Automation:
    """A validated revision-1 automation with its next fires, or `ValidationError`."""
    new = _validate(new, now=now, min_interval=min_interval, catalog=catalog)
    now = as_instant(now)
    fields = _definition_fields(new, project)
    automation = Automation(id=id, revision=1, created_at=now, updated_at=now, **fields)
    # Nobody has seen it yet: set the derived fields in place rather than build a copy
    # (a copy costs about a tenth of what `create_many` spends per automation).
    fires = _next_fires(automation, now)
    force_setattr(automation, "next_fire_at", fires[0] if fires else None)
    force_setattr(automation, "next_fires", tuple(fires))
    return automation


def _definition_fields(new: NewAutomation, project: str) -> dict[str, Any]:
    fields = msgspec.structs.asdict(new)
    schedule = fields.pop("schedule")
    if isinstance(schedule, Once):
        fields.update(kind=Kind.ONESHOT, schedule=None, fire_at=as_instant(schedule.at))
    else:
        fields.update(kind=Kind.RECURRING, schedule=schedule, fire_at=None)
    if fields["where"] is None:
        fields["where"] = Where(project=project)
    return fields


def as_new(automation: Automation) -> NewAutomation:
    """The input that would create `automation` as it is now."""
    fields = {
        name: getattr(automation, name)
        for name in NewAutomation.__struct_fields__
        if name != "schedule"
    }
    schedule: Cron | Interval | Once
    if automation.kind is Kind.ONESHOT:
        assert automation.fire_at is not None
        schedule = Once(at=automation.fire_at)
    else:
        assert automation.schedule is not None
        schedule = automation.schedule
    return NewAutomation(schedule=schedule, **fields)


def same_definition(existing: Automation, new: NewAutomation) -> bool:
    """Whether creating `new` would make `existing` as it is defined now (its pause, a
    state people change, aside): an idempotent create of the same key is a no-op."""
    if naive := naive_time_problems(new):
        raise ValidationError(naive)
    new = conform(new, NewAutomation, unknown="unsupported_automation_field")
    mine = as_new(existing)
    where = new.where or Where(project=existing.where.project)
    return msgspec.structs.replace(new, where=where, paused=mine.paused) == mine


def apply_patch(
    automation: Automation,
    patch: AutomationPatch,
    *,
    now: datetime,
    min_interval: timedelta = DEFAULT_MIN_INTERVAL,
    catalog: Catalog | None = None,
) -> Automation:
    """`automation` changed by `patch`; the same object when nothing really changes."""
    changes = patch.changes()
    merged = msgspec.structs.replace(as_new(automation), **changes)
    merged = _validate(
        merged,
        now=now,
        min_interval=min_interval,
        catalog=catalog,
        check_future="schedule" in changes,
    )
    fields = _definition_fields(merged, automation.where.project)
    candidate = msgspec.structs.replace(automation, **fields)
    if candidate == automation:
        return automation
    now = as_instant(now)
    updated = msgspec.structs.replace(candidate, revision=automation.revision + 1, updated_at=now)
    if _SCHEDULE_FIELDS.isdisjoint(changes):
        return updated
    return with_next_fires(updated, now)


def timeline_of(automation: Automation) -> Timeline:
    """The slots of `automation`, whatever its kind."""
    if automation.kind is Kind.ONESHOT:
        assert automation.fire_at is not None
        return OnceTimeline(automation.fire_at)
    schedule = automation.schedule
    if isinstance(schedule, Cron):
        return cron_timeline(
            schedule.expression,
            automation.timezone,
            automation.dst_skipped,
            automation.dst_repeated,
        )
    assert schedule is not None
    if automation.anchor is Anchor.COMPLETION and automation.anchored_at is not None:
        return IntervalTimeline(automation.anchored_at + schedule.every, schedule.every)
    origin = schedule.start or automation.created_at + schedule.every
    return IntervalTimeline(origin, schedule.every)


def stop_reached(automation: Automation) -> bool:
    """True once a count stop has counted its runs (DESIGN 6.8)."""
    stop = automation.stop
    return isinstance(stop, AfterCount) and automation.executed_runs >= stop.count


def with_next_fires(automation: Automation, after: datetime) -> Automation:
    """`automation` with `nextFireAt` and `nextFires` computed from `after`.

    A paused automation, or one whose count stop is reached, has no next fire.
    """
    fires = _next_fires(automation, after)
    return msgspec.structs.replace(
        automation,
        next_fire_at=fires[0] if fires else None,
        next_fires=tuple(fires),
    )


def _next_fires(automation: Automation, after: datetime) -> list[datetime]:
    if automation.paused or stop_reached(automation):
        return []
    return [_shared(fire) for fire in timeline_of(automation).fires(after, NEXT_FIRES)]


_SHARED: dict[datetime, datetime] = {}
_SHARED_MAX = 1_024


def _shared(fire: datetime) -> datetime:
    """One object for equal fire times: a crowd of automations on one schedule shares
    its next fires instead of holding five each, every one an object the cycle
    collector scans (an instant is immutable, so sharing it is safe)."""
    found = _SHARED.get(fire)
    if found is not None:
        return found
    if len(_SHARED) >= _SHARED_MAX:  # bounded: the recent ones are the ones in use
        _SHARED.clear()
    _SHARED[fire] = fire
    return fire
