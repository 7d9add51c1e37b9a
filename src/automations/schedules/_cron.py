"""The strict five-field cron dialect of DESIGN 6.1, parsed before croniter sees it.

croniter is generous (seconds fields, `L`, `W`, `#`, `@daily`, hashes) and reports an
unreachable date only after searching for years; this parser accepts exactly
`*`, numbers, three-letter month and weekday names, lists, ranges and steps, rejects
everything else at once, and rejects dates that can never occur. It then hands
croniter a canonical expression of plain number lists, so both agree on the meaning.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["CronFields", "CronSyntaxError", "parse_cron"]

MAX_EXPRESSION = 200

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_WEEKDAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February as in leap years


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _WEEKDAYS),
)

_ITEM = re.compile(r"^(?P<base>\*|[0-9a-z]{1,3}(?:-[0-9a-z]{1,3})?)(?:/(?P<step>[0-9]{1,3}))?$")


class CronSyntaxError(ValueError):
    """The expression is not in the accepted dialect; the message says where."""


@dataclass(frozen=True)
class CronFields:
    """A parsed expression: the allowed values of each field, and its canonical form."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool
    hour_repeats: bool
    """The hour field is a wildcard or a step: such a job runs in both passes of a
    repeated local hour (DESIGN 6.2)."""

    @property
    def canonical(self) -> str:
        def render(values: frozenset[int], restricted: bool = True) -> str:
            return ",".join(map(str, sorted(values))) if restricted else "*"

        return " ".join(
            (
                render(self.minutes),
                render(self.hours),
                render(self.days, self.days_restricted),
                render(self.months),
                render(self.weekdays, self.weekdays_restricted),
            )
        )


@functools.lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronFields:
    """Parse `expression` or raise `CronSyntaxError`; bounded time for any input."""
    if len(expression) > MAX_EXPRESSION:
        raise CronSyntaxError(f"longer than {MAX_EXPRESSION} characters")
    parts = expression.strip().lower().split()
    if len(parts) != len(_FIELDS):
        raise CronSyntaxError(f"needs 5 fields (minute hour day month weekday), got {len(parts)}")
    values = [_parse_field(text, field) for text, field in zip(parts, _FIELDS, strict=True)]
    minutes, hours, days, months, weekdays = values
    weekdays = frozenset(0 if day == 7 else day for day in weekdays)
    fields = CronFields(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        days_restricted=parts[2] != "*",
        weekdays_restricted=parts[4] != "*",
        hour_repeats=parts[1].startswith("*") or "/" in parts[1],
    )
    _check_reachable(fields)
    return fields


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, field))
    return frozenset(values)


def _parse_item(item: str, field: _Field) -> Iterator[int]:
    match = _ITEM.match(item)
    if match is None:
        raise CronSyntaxError(f"{field.name}: cannot read {item!r}")
    base, step_text = match.group("base"), match.group("step")
    step = 1 if step_text is None else int(step_text)
    if step < 1 or step > field.high:
        raise CronSyntaxError(f"{field.name}: step {step} is out of range 1-{field.high}")
    if base == "*":
        low, high = field.low, field.high
    elif "-" in base:
        first, last = base.split("-")
        low, high = _value(first, field), _value(last, field)
        if low > high:
            raise CronSyntaxError(f"{field.name}: range {base!r} runs backwards")
    else:
        low = _value(base, field)
        high = field.high if step_text is not None else low
    return iter(range(low, high + 1, step))


def _value(text: str, field: _Field) -> int:
    if text.isdigit():
        number = int(text)
    elif text in field.names:
        number = field.names[text]
    else:
        raise CronSyntaxError(f"{field.name}: {text!r} is not a value")
    if not field.low <= number <= field.high:
        raise CronSyntaxError(f"{field.name}: {number} is out of range {field.low}-{field.high}")
    return number


def _check_reachable(fields: CronFields) -> None:
    """Reject day/month combinations that never occur (`0 0 31 2 *`).

    With both day fields restricted they combine by OR, and any weekday occurs in
    every month, so only a restricted day-of-month alone can be unreachable.
    """
    if fields.weekdays_restricted or not fields.days_restricted:
        return
    if any(day <= _DAYS_IN_MONTH[month - 1] for month in fields.months for day in fields.days):
        return
    raise CronSyntaxError("no month in the expression has any of its days of the month")
