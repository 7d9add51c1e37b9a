"""From what a person types to the model: durations, times, schedules, policies.

Bad input raises `BadInput` with one line that says what was wrong and what a good
value looks like; nothing is written before every option is understood.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..model import (
    MAX_ATTEMPTS,
    AfterCount,
    Anchor,
    AutomationError,
    Catchup,
    ContextMode,
    Cron,
    Interval,
    Never,
    NewAutomation,
    Once,
    Overlap,
    RetryPolicy,
    UnattendedBlockers,
    Where,
)
from ..schedules import CronSyntaxError, parse_cron, timezone_problem

__all__ = [
    "BadInput",
    "local_timezone",
    "new_automation",
    "parse_duration",
    "parse_limit",
    "parse_when",
    "patch_changes",
]


class BadInput(AutomationError):
    """A command-line value that cannot be used (exit 1); the message says why in one
    line. Malformed command lines (an unknown option) are argparse's, exit 2."""


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str) -> timedelta:
    """'30s', '5m', '1h30m', '2d' or a number of seconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return timedelta(seconds=float(value))
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise BadInput(f"{option} {text!r} is not a duration; write e.g. 30s, 5m, 1h30m or 2d")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def parse_limit(text: str, option: str) -> int | None:
    """A positive count, or 'none' for no bound."""
    if text.strip().lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise BadInput(f"{option} {text!r} is not a count; write e.g. 500, or none for no bound")
    return value


def local_timezone() -> str:
    """This machine's IANA timezone: $TZ, else /etc/localtime's target, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name and timezone_problem(name) is None:
        return name
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    _, found, zone = target.partition("zoneinfo/")
    return zone if found and timezone_problem(zone) is None else "UTC"


def _check_timezone(name: str) -> str:
    if timezone_problem(name) is not None:
        raise BadInput(
            f"--timezone {name!r} is not a known IANA timezone; write e.g. Europe/Berlin or UTC"
        )
    return name


def parse_when(text: str, timezone: str, option: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is read in `timezone`."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"{option} {text!r} is not a date-time; write e.g. 2026-12-24T18:00 "
            "(in --timezone) or 2026-12-24T17:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(timezone))
    return when


def _schedule(args: argparse.Namespace, timezone: str) -> Cron | Interval | Once | None:
    chosen = [name for name in ("cron", "every", "at") if getattr(args, name, None)]
    if len(chosen) > 1:
        raise BadInput("give one schedule: --cron, --every or --at")
    if args.cron:
        try:
            parse_cron(args.cron)
        except CronSyntaxError as exc:
            raise BadInput(f"--cron {args.cron!r} is not a valid cron expression: {exc}") from None
        return Cron(args.cron)
    if args.every:
        start = parse_when(args.start, timezone, "--start") if args.start else None
        return Interval(every=parse_duration(args.every, "--every"), start=start)
    if args.at:
        return Once(at=parse_when(args.at, timezone, "--at"))
    return None


def _prompt(args: argparse.Namespace) -> str | None:
    """--prompt TEXT, --prompt - (standard input) or --prompt-file PATH."""
    if args.prompt is not None and args.prompt_file is not None:
        raise BadInput("give --prompt or --prompt-file, not both")
    if args.prompt == "-":
        return sys.stdin.read().rstrip("\n")
    if args.prompt_file is not None:
        try:
            with open(args.prompt_file, encoding="utf-8") as file:
                return file.read().rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise BadInput(f"--prompt-file {args.prompt_file!r} cannot be read: {reason}") from None
    prompt: str | None = args.prompt
    return prompt


def _policies(args: argparse.Namespace) -> dict[str, Any]:
    """The optional settings both `add` and `edit` take, as NewAutomation fields."""
    fields: dict[str, Any] = {}
    prompt = _prompt(args)
    if prompt is not None:
        fields["prompt"] = prompt
    if args.executor is not None:
        fields["executor"] = args.executor
    fields.update(_retry(args.retry, args.backoff))
    if args.count is not None:
        if args.count < 0:
            raise BadInput(
                f"--count {args.count} is not a number of runs; write e.g. 10, or 0 for never"
            )
        fields["stop"] = AfterCount(args.count) if args.count > 0 else Never()
    choices = {
        "overlap": Overlap,
        "catchup": Catchup,
        "anchor": Anchor,
        "context": ContextMode,
        "unattended": UnattendedBlockers,
    }
    for option, kind in choices.items():
        value = getattr(args, option)
        if value is not None:
            field = "unattended_blockers" if option == "unattended" else option
            fields[field] = kind(value)
    durations = {
        "catchup_window": "--catchup-window",
        "blocker_timeout": "--blocker-timeout",
        "max_duration": "--max-duration",
        "jitter": "--jitter",
    }
    for field, option in durations.items():
        value = getattr(args, field)
        if value is not None:
            fields[field] = parse_duration(value, option)
    if args.step_cap is not None:
        fields["step_cap"] = args.step_cap
    if args.worktree is not None:
        fields["where"] = Where(project=args.project, worktree=args.worktree)
    return fields


def new_automation(args: argparse.Namespace) -> NewAutomation:
    timezone = _check_timezone(args.timezone or local_timezone())
    schedule = _schedule(args, timezone)
    if schedule is None:
        raise BadInput(
            "give a schedule: --cron '0 9 * * 1-5', --every 30m or --at 2026-12-24T18:00"
        )
    fields = _policies(args)
    fields.setdefault("prompt", args.title)
    fields.setdefault("executor", "demo")
    return NewAutomation(
        title=args.title,
        timezone=timezone,
        schedule=schedule,
        paused=args.paused,
        **fields,
    )


def patch_changes(args: argparse.Namespace, timezone: str) -> dict[str, Any]:
    """The changes `edit` asks for, as keyword arguments of `Runtime.update`."""
    changes = _policies(args)
    if args.title is not None:
        changes["title"] = args.title
    if args.timezone is not None:
        changes["timezone"] = _check_timezone(args.timezone)
        timezone = args.timezone
    schedule = _schedule(args, timezone)
    if schedule is not None:
        changes["schedule"] = schedule
    if not changes:
        raise BadInput("nothing to change; see `automations edit --help`")
    return changes


def _retry(retries: int | None, backoff: str | None) -> dict[str, Any]:
    """`retry` as `--retry N` and `--backoff FIRST[..MAX]` ask (None for `--retry 0`)."""
    if retries is None:
        if backoff is not None:
            raise BadInput("--backoff needs --retry N, the number of retries it spaces out")
        return {}
    if not 0 <= retries < MAX_ATTEMPTS:
        raise BadInput(
            f"--retry {retries} is not a number of retries; write 0 to {MAX_ATTEMPTS - 1}"
        )
    if retries == 0:
        return {"retry": None}
    default = RetryPolicy()
    first, longest = default.backoff, default.max_backoff
    if backoff is not None:
        head, _, tail = backoff.partition("..")
        first = parse_duration(head, "--backoff")
        longest = parse_duration(tail, "--backoff") if tail else max(first, longest)
        if first <= timedelta(0) or longest < first:
            raise BadInput(
                f"--backoff {backoff!r} is not a backoff; write FIRST..MAX with FIRST above 0 "
                "and MAX at least FIRST, e.g. 30s..10m"
            )
    return {"retry": RetryPolicy(max_attempts=retries + 1, backoff=first, max_backoff=longest)}
