"""Retention as an operation: forget, a step at a time, what ended before a cutoff."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from ..model import Scope
from ._operations import Operation

__all__ = ["PruneProgress", "PruneStep"]


class PruneProgress(NamedTuple):
    runs: int
    """Runs forgotten by this step."""
    entries: int
    """Journal entries deleted by this step."""
    last_seq: int
    """The last entry this step looked at: the next step starts after it."""
    done: bool
    """True when the sweep reached entries not older than the cutoff, or the end."""


class PruneStep(Operation[PruneProgress], frozen=True, gc=False):
    """One step of a sweep of `scope`'s journal: entries after `after_seq` and before
    `before`, at most `limit` of them (DESIGN 7).

    A run that ended before the cutoff goes whole (its entries, its row, its answers
    and checkpoint); of an automation only the entries that no longer decide its row
    go. What remains still replays to exactly the projections, at every step, and
    sequence numbers are never reused, so followers see a gap, not another history.
    """

    scope: Scope
    before: datetime
    after_seq: int = 0
    limit: int = 1_000
