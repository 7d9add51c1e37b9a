"""Schedules: cron (croniter, strict dialect), interval and one-shot; timezones and DST.

Imports the model only. Every function takes the current time as an argument: there
is no hidden clock here, which is what makes schedule tests exact.
"""

from ._backfill import backfill_slots
from ._cron import CronFields, CronSyntaxError, parse_cron
from ._definition import (
    DEFAULT_MIN_INTERVAL,
    NEXT_FIRES,
    apply_patch,
    as_new,
    build_automation,
    same_definition,
    schedule_problems,
    stop_reached,
    timeline_of,
    with_next_fires,
)
from ._dst import local_instants
from ._jitter import jitter_offset, planned_start
from ._missed import missed_slots
from ._timeline import CronTimeline, IntervalTimeline, OnceTimeline, Timeline, cron_timeline
from ._zones import load_zone, timezone_problem

__all__ = [
    "DEFAULT_MIN_INTERVAL",
    "NEXT_FIRES",
    "CronFields",
    "CronSyntaxError",
    "CronTimeline",
    "IntervalTimeline",
    "OnceTimeline",
    "Timeline",
    "apply_patch",
    "backfill_slots",
    "as_new",
    "build_automation",
    "same_definition",
    "cron_timeline",
    "jitter_offset",
    "load_zone",
    "local_instants",
    "missed_slots",
    "parse_cron",
    "planned_start",
    "schedule_problems",
    "stop_reached",
    "timeline_of",
    "timezone_problem",
    "with_next_fires",
]
