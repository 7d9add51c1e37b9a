"""How many scheduled runs may go on at once in this process.

Without a bound, one slot shared by many automations (every one of 100,000 on
`*/5 * * * *`, say) puts all of their runs in memory at once, about 13 KB each. The
scheduler takes a permit for each fire; the fire holds it until its run is finished
(or, when no run starts, until the fire is handled). While no permit is free, due
slots wait in the due-index, in slot order: nothing is dropped, and a slot that waits
past its catch-up window is recorded missed, as any late slot is (DESIGN 6.3).

Run-now runs and runs adopted from a dead process take no permit: a person asked for
them, and a run waiting days for an answer must not stop the schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["DEFAULT_MAX_SCHEDULED_RUNS", "FireLimit", "Permit"]

DEFAULT_MAX_SCHEDULED_RUNS = 1_000
"""About 13 MB of runs in flight; `open_runtime(max_scheduled_runs=...)` changes it."""


class FireLimit:
    """Permits for scheduled runs; `limit=None` is no bound."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.taken = 0
        self.round = 1 if limit is None else max(1, limit // 8)
        """How many free permits are worth a round of fires at once."""
        self._on_freed: list[Callable[[], None]] = []
        """The schedulers sharing the limit (one per lease held: a fleet's cells share
        the process's), each woken when a permit is released."""

    @property
    def available(self) -> float:
        """Permits free now (infinite without a bound)."""
        return math.inf if self.limit is None else self.limit - self.taken

    def take(self) -> Permit:
        """A permit; the caller checked `available` first (taking past the limit is a bug)."""
        if self.available < 1:
            raise RuntimeError("no permit is free: check `available` before taking one")
        self.taken += 1
        return Permit(self)

    def on_freed(self, callback: Callable[[], None]) -> None:
        """Call `callback()` whenever a permit is released (a scheduler's wake-up)."""
        self._on_freed.append(callback)

    def off_freed(self, callback: Callable[[], None]) -> None:
        """No longer call `callback` (its scheduler ended)."""
        self._on_freed.remove(callback)

    def _release(self) -> None:
        self.taken -= 1
        for callback in self._on_freed:
            callback()


class Permit:
    """One fire's share of the limit; releasing it twice releases it once."""

    __slots__ = ("_limit",)

    def __init__(self, limit: FireLimit) -> None:
        self._limit: FireLimit | None = limit

    def release(self) -> None:
        limit, self._limit = self._limit, None
        if limit is not None:
            limit._release()
