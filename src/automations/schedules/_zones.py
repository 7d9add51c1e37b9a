"""IANA timezones, checked against the known names so no string reaches the filesystem."""

from __future__ import annotations

import functools
import zoneinfo

__all__ = ["load_zone", "timezone_problem"]


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone called `name`; KeyError when it is not an IANA name."""
    if name not in _known():
        raise KeyError(name)
    return zoneinfo.ZoneInfo(name)


def timezone_problem(name: str) -> str | None:
    """`invalid_timezone` unless `name` is an IANA timezone name."""
    try:
        load_zone(name)
    except KeyError:
        return "invalid_timezone"
    return None
