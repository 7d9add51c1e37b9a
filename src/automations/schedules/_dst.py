"""Local wall times to UTC instants, with the DST rules of DESIGN 6.2.

Working on naive local wall times keeps croniter out of timezone arithmetic; this
module alone decides what a wall time that does not exist (spring forward) or exists
twice (fall back) means.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..model import DstRepeated, DstSkipped

__all__ = ["local_instants"]

_SECOND = timedelta(seconds=1)


def local_instants(
    wall: datetime, zone: ZoneInfo, skipped: DstSkipped, repeated: DstRepeated
) -> tuple[datetime, ...]:
    """The naive-UTC instants at which naive local `wall` happens in `zone`.

    One instant normally; none or the first instant after the gap when `wall` falls
    in a spring-forward gap; the first or both occurrences in a fall-back fold.
    """
    before = wall.replace(tzinfo=zone, fold=0).utcoffset() or timedelta(0)
    after = wall.replace(tzinfo=zone, fold=1).utcoffset() or timedelta(0)
    first, second = wall - before, wall - after
    if first == second:
        return (first,)
    if first < second:  # the fold: wall happens twice
        return (first,) if repeated is DstRepeated.FIRST else (first, second)
    if skipped is DstSkipped.SKIP:  # the gap: wall never happens
        return ()
    return (_gap_end(second, first, zone, after),)


def _gap_end(low: datetime, high: datetime, zone: ZoneInfo, offset_after: timedelta) -> datetime:
    """The first naive-UTC second in (low, high] whose offset is the post-gap one."""
    while high - low > _SECOND:
        middle = low + (high - low) // 2
        middle = middle.replace(microsecond=0)
        if _offset(middle, zone) == offset_after:
            high = middle
        else:
            low = middle
    return high


def _offset(utc_naive: datetime, zone: ZoneInfo) -> timedelta | None:
    return zone.fromutc(utc_naive.replace(tzinfo=zone)).utcoffset()
