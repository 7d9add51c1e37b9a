"""Timelines: the slots of a schedule, as aware UTC datetimes, after a given instant.

A cron timeline iterates naive *local* wall times with croniter and maps each to UTC
with the DST rules of `_dst`. Timelines are cached by (expression, timezone, DST
rules) and remember the fires they computed last, so that computing `nextFires` for
many automations with the same expression costs a list slice, not croniter calls.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from croniter import croniter

from ..model import DstRepeated, DstSkipped, as_instant
from ._cron import CronFields, parse_cron
from ._dst import local_instants
from ._zones import load_zone

__all__ = [
    "CronTimeline",
    "IntervalTimeline",
    "OnceTimeline",
    "Timeline",
    "cron_timeline",
]

_NEAR = timedelta(hours=3)
"""Wider than any DST shift, so a fold or gap within this distance is always seen."""
_CACHE_LIMIT = 256
_MAX_CANDIDATES = 100_000


class Timeline(Protocol):
    def next_after(self, after: datetime) -> datetime | None:
        """The first slot strictly after `after`, or None when there is none."""

    def fires(self, after: datetime, count: int) -> list[datetime]:
        """Up to `count` slots strictly after `after`, in order."""


@dataclass(frozen=True)
class OnceTimeline:
    at: datetime

    def next_after(self, after: datetime) -> datetime | None:
        return self.at if self.at > after else None

    def fires(self, after: datetime, count: int) -> list[datetime]:
        return [self.at] if self.at > after and count > 0 else []


@dataclass(frozen=True)
class IntervalTimeline:
    """Slots at `origin + k * every` for k >= 0; plain UTC arithmetic, no DST."""

    origin: datetime
    every: timedelta

    def next_after(self, after: datetime) -> datetime | None:
        if after < self.origin:
            return self.origin
        steps = (after - self.origin) // self.every + 1
        return as_instant(self.origin + steps * self.every)

    def fires(self, after: datetime, count: int) -> list[datetime]:
        first = self.next_after(after)
        assert first is not None
        return [as_instant(first + k * self.every) for k in range(count)]


@dataclass
class CronTimeline:
    fields: CronFields
    zone: ZoneInfo
    skipped: DstSkipped
    repeated: DstRepeated
    _iterator: croniter = field(init=False, repr=False)
    _cached_from: datetime | None = field(default=None, init=False, repr=False)
    _cached: list[datetime] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._iterator = croniter(self.fields.canonical, datetime(2000, 1, 1))

    def next_after(self, after: datetime) -> datetime | None:
        found = self.fires(after, 1)
        return found[0] if found else None

    def fires(self, after: datetime, count: int) -> list[datetime]:
        cached = self._cached
        stale = self._cached_from is None or after < self._cached_from
        if stale or (cached and after >= cached[-1]):
            self._cached_from, cached = after, []
            self._cached = cached
        index = bisect.bisect_right(cached, after)
        while len(cached) - index < count:
            tail = cached[-1] if cached else after
            naive = self._next_naive(tail.astimezone(UTC).replace(tzinfo=None))
            cached.append(as_instant(naive.replace(tzinfo=UTC)))
        found = cached[index : index + count]
        if len(cached) > _CACHE_LIMIT:
            drop = len(cached) - _CACHE_LIMIT // 2
            self._cached_from = cached[drop - 1]
            del cached[:drop]
        return found

    def _next_naive(self, after: datetime) -> datetime:
        """The first naive-UTC slot strictly after naive-UTC `after`."""
        aware = after.replace(tzinfo=UTC)
        offset = self._offset(aware)
        near = self._offset(aware - _NEAR) != offset or self._offset(aware + _NEAR) != offset
        local = after + offset
        cursor = local - _NEAR if near else local
        best: datetime | None = None
        best_wall: datetime | None = None
        for _ in range(_MAX_CANDIDATES):
            wall = self._iterator.get_next(datetime, start_time=cursor)
            cursor = wall
            if best_wall is not None and wall > best_wall + _NEAR:
                break
            for instant in local_instants(wall, self.zone, self.skipped, self.repeated):
                if instant > after and (best is None or instant < best):
                    best, best_wall = instant, wall
            if best is not None and not near:
                break
        if best is None:  # unreachable for parsed expressions; never loop forever
            raise RuntimeError(f"no fire found for {self.fields.canonical!r}")
        return best

    def _offset(self, aware_utc: datetime) -> timedelta:
        return aware_utc.astimezone(self.zone).utcoffset() or timedelta(0)


@functools.lru_cache(maxsize=1024)
def cron_timeline(
    expression: str, timezone: str, skipped: DstSkipped, repeated: DstRepeated | None
) -> CronTimeline:
    """The cached timeline of a cron expression; `repeated=None` follows the hour field."""
    fields = parse_cron(expression)
    if repeated is None:
        repeated = DstRepeated.BOTH if fields.hour_repeats else DstRepeated.FIRST
    return CronTimeline(fields, load_zone(timezone), skipped, repeated)
