"""What a user says about *when*: schedules and stop conditions.

These are tagged unions on the wire (`{"type": "cron", ...}`); the tags are part of
the contract and never change.
"""

from __future__ import annotations

import msgspec
from msgspec.structs import force_setattr

from ._time import Instant, Millis, normalize_time

__all__ = ["AfterCount", "Cron", "Interval", "Never", "Once", "Schedule", "Stop"]


class Cron(msgspec.Struct, gc=False, frozen=True, tag="cron", tag_field="type", rename="camel"):
    """Five-field cron expression, evaluated in the automation's timezone."""

    expression: str


class Interval(
    msgspec.Struct, gc=False, frozen=True, tag="interval", tag_field="type", rename="camel"
):
    """Every `every`; the first slot is `start`, or one interval after creation."""

    every: Millis
    start: Instant | None = None

    def __post_init__(self) -> None:
        force_setattr(self, "every", normalize_time(self.every))
        if self.start is not None:
            force_setattr(self, "start", normalize_time(self.start))


class Once(msgspec.Struct, gc=False, frozen=True, tag="once", tag_field="type", rename="camel"):
    """A single fire at `at`, which must be in the future when the automation is created."""

    at: Instant

    def __post_init__(self) -> None:
        force_setattr(self, "at", normalize_time(self.at))


class Never(msgspec.Struct, gc=False, frozen=True, tag="never", tag_field="type", rename="camel"):
    """The automation keeps firing until it is paused or deleted."""


class AfterCount(
    msgspec.Struct, gc=False, frozen=True, tag="count", tag_field="type", rename="camel"
):
    """Stop after `count` runs that executed (succeeded or failed), manual ones included."""

    count: int


Schedule = Cron | Interval | Once
Stop = Never | AfterCount
