"""Jitter: when a slot's run starts, spread over `[slot, slot + jitter)`.

The offset is a pure function of the automation id and the slot, a keyed hash and
nothing else (no random state, no clock, no process): every process computes the same
planned start for a slot, so the once-per-slot guarantee is untouched, and a restart
plans the same instant again. blake2b is in the standard library, stable across
Python versions and platforms, and spreads sequential ids evenly.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from ..model import Automation, as_instant, ms_of, to_ms

__all__ = ["jitter_offset", "planned_start"]

_PERSON = b"am-jitter-v1"
"""The hash's personalization: a new way of spreading would take a new one."""


def jitter_offset(automation_id: str, slot: datetime, jitter: timedelta) -> timedelta:
    """The offset of `slot` in `[0, jitter)`, to the millisecond; zero without jitter."""
    span = ms_of(jitter)
    if span <= 0:
        return timedelta(0)
    key = f"{automation_id}\x00{to_ms(slot)}".encode()
    digest = hashlib.blake2b(key, digest_size=8, person=_PERSON).digest()
    # A 64-bit hash scaled to the span: each millisecond equally likely, to span / 2**64.
    return timedelta(milliseconds=int.from_bytes(digest, "big") * span >> 64)


def planned_start(automation: Automation, slot: datetime) -> datetime | None:
    """When the run of `slot` is to start, for an automation with a jitter; None
    without one (the run starts at its slot)."""
    if automation.jitter <= timedelta(0):
        return None
    return as_instant(slot + jitter_offset(automation.id, slot, automation.jitter))
