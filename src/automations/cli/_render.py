"""What the command line prints: rich tables for people, wire JSON for scripts.

Times are shown in the viewer's timezone ($TZ, else the machine's), with how far away
they are, and also in the automation's own timezone when it differs, because that is
what its schedule is written in.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..model import (
    AfterCount,
    Automation,
    Cron,
    DefinitionDeleted,
    DefinitionUpdated,
    Event,
    Interval,
    Permission,
    Question,
    RetryPolicy,
    Run,
    RunState,
    Trigger,
    to_json,
)
from ._options import local_timezone
from ._text import printable

__all__ = [
    "Output",
    "automation_table",
    "automations_table",
    "blocker_text",
    "describe_event",
    "describe_retry",
    "describe_schedule",
    "describe_trigger",
    "make_console",
    "outcome_text",
    "relative",
    "runs_table",
    "state_text",
    "when",
]

_STATE_STYLES = {
    RunState.SCHEDULED: "blue",
    RunState.RUNNING: "cyan",
    RunState.AWAITING_INPUT: "bold magenta",
    RunState.SUCCEEDED: "green",
    RunState.FAILED: "bold red",
    RunState.STOPPED: "yellow",
}


class _Console(Console):
    """A console whose closed pipe (`automations demo | head`) is an exception.

    Rich raises `SystemExit` there, which a task of the event loop must not raise:
    the runtime could not close. A `BrokenPipeError` ends the command like any error
    (stdout then points at /dev/null, so nothing else fails on it), and `main` exits
    quietly.
    """

    def on_broken_pipe(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise BrokenPipeError("the reader of the output went away")


def make_console(*, stderr: bool = False) -> Console:
    """A console; off a terminal it is wide enough for ids and never colours."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return _Console(file=stream, highlight=False, markup=False)
    width = int(os.environ.get("COLUMNS", "140"))
    return _Console(file=stream, width=width, highlight=False, markup=False, no_color=True)


class Output:
    """Prints results as tables (people) or wire JSON (`--json`, scripts)."""

    def __init__(self, *, json: bool) -> None:
        self.json = json
        self.console = make_console()
        self.errors = make_console(stderr=True)

    def value(self, value: object) -> None:
        """One value in the wire format, on one line."""
        sys.stdout.write(to_json(value).decode() + "\n")
        sys.stdout.flush()

    def say(self, text: str | Text) -> None:
        if not self.json:
            self._line(text)

    def result(self, value: object, text: str | Text) -> None:
        """What a command did: `value` as wire JSON with --json, else `text`."""
        if self.json:
            self.value(value)
        else:
            self._line(text)

    def _line(self, text: str | Text) -> None:
        """Wrapped to a terminal's width; off one (a log, a pipe) never: one line stays
        one line for grep and log shippers, however long its URL or path."""
        self.console.print(text, soft_wrap=not self.console.is_terminal)

    def error(self, text: str) -> None:
        self.errors.print(Text(f"error: {text}"), soft_wrap=True)


@functools.cache
def _viewer_zone() -> ZoneInfo:
    return ZoneInfo(local_timezone())


def when(instant: datetime | None, timezone: str, now: datetime | None = None) -> str:
    """In the viewer's zone: 'Mon 23 Nov 17:00 JST (in 10h 5m)', or '14:05:30 JST (in
    20s)' today; followed by the time in the automation's zone when that differs
    ('= 09:00 Europe/Berlin'), since that is what its schedule is written in."""
    if instant is None:
        return "-"
    viewer = _viewer_zone()
    local = instant.astimezone(viewer)
    today = now is not None and local.date() == now.astimezone(viewer).date()
    text = local.strftime("%H:%M:%S %Z" if today else "%a %d %b %H:%M %Z")
    own = instant.astimezone(ZoneInfo(timezone))
    if own.utcoffset() != local.utcoffset():
        text += f" = {own:%H:%M} {timezone}"
    if now is not None:
        text += f" ({relative(instant - now)})"
    return text


def relative(delta: timedelta) -> str:
    """'in 5m 3s', '2h 1m ago'; within a second either way 'now' (a heartbeat half a
    second old is not 'in 0s')."""
    total = delta.total_seconds()
    past, seconds = total < 0, int(abs(total))
    if seconds == 0:
        return "now"
    if seconds < 60:
        amount = f"{seconds}s"
    elif seconds < 3600:
        amount = f"{seconds // 60}m {seconds % 60}s"
    elif seconds < 86400:
        amount = f"{seconds // 3600}h {seconds % 3600 // 60}m"
    else:
        amount = f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    return f"{amount} ago" if past else f"in {amount}"


def describe_schedule(automation: Automation) -> str:
    """The schedule in words, and its jitter when it has one."""
    jitter = f", jitter {_duration(automation.jitter)}" if automation.jitter else ""
    return _describe_slots(automation) + jitter


def _describe_slots(automation: Automation) -> str:
    schedule = automation.schedule
    if isinstance(schedule, Cron):
        return f"cron {schedule.expression} ({automation.timezone})"
    if isinstance(schedule, Interval):
        return f"every {_duration(schedule.every)}"
    return f"once at {when(automation.fire_at, automation.timezone)}"


def _duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def state_text(run: Run) -> Text:
    return Text(run.state.value, style=_STATE_STYLES[run.state])


def outcome_text(run: Run) -> str:
    """Why the run is where it is: its blocker, result, error or stop reason."""
    if run.blocker is not None:
        return blocker_text(run.blocker.request)
    if run.error is not None:
        return printable(f"{run.error.code}: {run.error.message}")
    if run.stop_reason is not None:
        text = str(run.stop_reason)
        if run.missed is not None:
            missed = run.missed
            text += (
                f" ({missed.count} slots, {missed.first:%d %b %H:%M} to {missed.last:%H:%M} UTC)"
            )
        return text
    return printable(run.result or "")


def blocker_text(request: Question | Permission) -> str:
    if isinstance(request, Question):
        options = f" [{' / '.join(request.options)}]" if request.options else ""
        return printable(f"asks: {request.text}{options}")
    detail = f" ({request.detail})" if request.detail else ""
    return printable(f"asks permission: {request.tool}{detail} [yes / no]")


def automations_table(automations: Iterable[Automation], now: datetime) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("ID", no_wrap=True)
    for column in ("TITLE", "SCHEDULE", "NEXT FIRE", "STATE", "EXECUTOR"):
        table.add_column(column, overflow="fold")
    for a in automations:
        state = "paused" if a.paused else ("done" if a.next_fire_at is None else "active")
        if a.failure_streak:
            state += f", {a.failure_streak} failed in a row"
        table.add_row(
            a.id,
            printable(a.title),
            describe_schedule(a) + (f", retry {a.retry.max_attempts - 1}x" if a.retry else ""),
            when(a.next_fire_at, a.timezone, now),
            state,
            a.executor,
        )
    return table


def automation_table(a: Automation, now: datetime) -> Table:
    """One automation, field by field."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    stop = f"after {a.stop.count} runs" if isinstance(a.stop, AfterCount) else "never"
    rows = [
        ("id", a.id),
        ("title", printable(a.title)),
        ("prompt", printable(a.prompt)),
        ("schedule", describe_schedule(a)),
        ("next fires", "\n".join(when(t, a.timezone, now) for t in a.next_fires) or "-"),
        ("state", "paused" if a.paused else "active"),
        ("executor", a.executor),
        ("stop", stop),
        ("overlap", str(a.overlap)),
        ("unattended blockers", str(a.unattended_blockers)),
        ("catch-up", f"{a.catchup} (window {_duration(a.catchup_window)})"),
        ("jitter", _duration(a.jitter) if a.jitter else "none"),
        ("step cap", str(a.step_cap)),
        ("retry", describe_retry(a.retry)),
        ("failure streak", str(a.failure_streak)),
        ("revision", str(a.revision)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def runs_table(runs: Sequence[Run], now: datetime, titles: dict[str, str] | None = None) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("RUN", no_wrap=True)
    columns = ["TRIGGER", "WHEN", "STATE", "STEPS", "COST", "OUTCOME"]
    if titles is not None:
        columns.insert(0, "AUTOMATION")
    for column in columns:
        table.add_column(column, overflow="fold")
    for run in runs:
        cost = f"${run.cost:.4f}" if run.cost is not None else ""
        row: list[str | Text] = [
            run.id,
            describe_trigger(run),
            relative(run.triggered_at - now),
            state_text(run),
            str(run.steps),
            cost,
            outcome_text(run),
        ]
        if titles is not None:
            row.insert(1, printable(titles.get(run.automation_id, run.automation_id)))
        table.add_row(*row)
    return table


def describe_retry(policy: RetryPolicy | None) -> str:
    """`up to 3 retries, after 30s x2 up to 10m, on execution_failed, timeout`."""
    if policy is None:
        return "never"
    retries = policy.max_attempts - 1
    backoff = f"{_duration(policy.backoff)} x{policy.multiplier:g}"
    return (
        f"up to {retries} {'retry' if retries == 1 else 'retries'}, after {backoff} up to "
        f"{_duration(policy.max_backoff)}, on {', '.join(policy.retry_on) or 'Retryable only'}"
    )


def describe_trigger(run: Run) -> str:
    """The trigger, and for a retry its attempt (`retry 2`)."""
    if run.trigger is Trigger.RETRY:
        return f"retry {run.attempt}"
    return str(run.trigger)


def describe_event(event: Event, *, live: bool = False) -> str:
    """One line for the event log; `live` ones start with the time they were seen."""
    head = f"#{event.seq:<6}"
    if live:
        head = f"{datetime.now(UTC).astimezone():%H:%M:%S} {head}"
    if isinstance(event, DefinitionUpdated):
        a = event.automation
        return f"{head} {a.id} '{printable(a.title)}' r{a.revision}: {describe_schedule(a)}"
    if isinstance(event, DefinitionDeleted):
        return f"{head} {event.tombstone.id} deleted"
    run = event.run
    detail = outcome_text(run)
    return (
        f"{head} {run.id} {run.state.value}"
        + (f" step {run.steps}" if run.steps else "")
        + (f": {detail}" if detail else "")
    )
