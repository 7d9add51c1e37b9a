"""Times and durations as the wire sees them: whole epoch milliseconds.

In Python every time is an aware UTC `datetime` and every duration a `timedelta`.
At run time they are the subclasses `Instant` and `Millis`, which the codec writes as
integers; type checkers see plain `datetime` and `timedelta`, so users never meet
the subclasses. Values are truncated to the millisecond when they enter the model,
so that a value survives any number of encode/decode round trips unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

__all__ = [
    "EPOCH",
    "Instant",
    "Millis",
    "as_duration",
    "as_instant",
    "from_ms",
    "normalize_time",
    "ms_of",
    "to_ms",
]

if TYPE_CHECKING:
    Instant: TypeAlias = datetime
    Millis: TypeAlias = timedelta
else:

    class Instant(datetime):
        """An aware UTC datetime, whole milliseconds, encoded as epoch milliseconds."""

        __slots__ = ()

    class Millis(timedelta):
        """A duration in whole milliseconds, encoded as an integer of milliseconds."""

        __slots__ = ()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_INSTANT = Instant(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    """The instant `ms` milliseconds after the epoch, exactly."""
    return _EPOCH_INSTANT + timedelta(milliseconds=ms)


def to_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime (truncated toward the past)."""
    return (value - EPOCH) // _MS


def ms_of(value: timedelta) -> int:
    """Whole milliseconds of a duration (truncated toward minus infinity)."""
    return value // _MS


def as_instant(value: datetime) -> datetime:
    """`value` as an `Instant`; raises ValueError for a naive datetime."""
    if type(value) is Instant:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a naive datetime has no meaning here; give it a timezone")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return Instant(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond - value.microsecond % 1000,
        UTC,
    )


def as_duration(value: timedelta) -> timedelta:
    """`value` as `Millis`, truncated to the millisecond."""
    if type(value) is Millis:
        return value
    return Millis(milliseconds=ms_of(value))


def normalize_time(value: Any) -> Any:
    """Coerce aware datetimes and timedeltas to the model's types, leave the rest.

    Naive datetimes are left as they are, so that validation can report them with
    the field they came from instead of failing at construction.
    """
    if isinstance(value, datetime):
        if type(value) is Instant or value.tzinfo is None or value.utcoffset() is None:
            return value
        return as_instant(value)
    if isinstance(value, timedelta):
        return as_duration(value)
    return value
