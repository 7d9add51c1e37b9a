"""How many scheduled runs may go on at once in this process.

Without a bound, one slot shared by many automations (every one of 100,000 on
`*/5 * * * *`, say) puts all of their runs in memory at once, about 13 KB each. The
scheduler takes a permit for each fire; the fire holds it until its run is finished
(or, when no run starts, until the fire is handled). While no permit is free, due
slots wait here, in slot order across every scheduler of the process (a fleet
worker's cells share one limit): a freed permit goes to the earliest slot waiting,
whichever scope it is in. Nothing is dropped, and a slot that waits past its catch-up
window is recorded missed, as any late slot is (DESIGN 6.3).

Run-now runs and runs adopted from a dead process take no permit: a person asked for
them, and a run waiting days for an answer must not stop the schedule.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Protocol

__all__ = ["DEFAULT_MAX_SCHEDULED_RUNS", "FireLimit", "Grantee", "Permit"]

DEFAULT_MAX_SCHEDULED_RUNS = 1_000
"""About 13 MB of runs in flight; `open_runtime(max_scheduled_runs=...)` changes it."""


class Grantee(Protocol):
    """A scheduler whose due slots wait for permits."""

    def granted(self, slot_ms: int, automation_id: str, permit: Permit) -> None:
        """A waiting slot has its permit: fire it soon (never blocks)."""

    def wake(self) -> None:
        """Look at what was granted now."""

    def gather(self) -> None:
        """A permit came back, fewer than a round: call `grant()` a moment from now,
        so that the permits freed meanwhile go out together."""


class FireLimit:
    """Permits for scheduled runs; `limit=None` is no bound."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.taken = 0
        self.round = 1 if limit is None else max(1, limit // 8)
        """How many free permits are worth a round of fires at once."""
        self._waiting: list[tuple[int, int, str, Grantee]] = []
        """(slot, order, automation id, scheduler) of the due slots without a permit."""
        self._order = itertools.count()
        self._grantees: list[Grantee] = []
        self.gathering = False
        """Permits came back while slots wait; they go out at the next `grant()`."""

    @property
    def available(self) -> float:
        """Permits free now (infinite without a bound)."""
        return math.inf if self.limit is None else self.limit - self.taken

    @property
    def shared(self) -> bool:
        """Whether more than one scheduler takes from this limit (a fleet's cells)."""
        return len(self._grantees) > 1

    @property
    def waiting(self) -> int:
        """Due slots waiting for a permit."""
        return len(self._waiting)

    def join(self, grantee: Grantee) -> None:
        self._grantees.append(grantee)

    def leave(self, grantee: Grantee) -> None:
        """`grantee` ended: its waiting slots are dropped (the scope's next lease
        holder finds them due), and a gathering it was to end goes on without it."""
        self._grantees.remove(grantee)
        self._waiting = [entry for entry in self._waiting if entry[3] is not grantee]
        heapq.heapify(self._waiting)
        if self.gathering:
            self.grant()

    def take(self) -> Permit:
        """A permit; the caller checked `available` first (taking past the limit is a bug)."""
        if self.available < 1:
            raise RuntimeError("no permit is free: check `available` before taking one")
        self.taken += 1
        return Permit(self)

    def wait(self, grantee: Grantee, slot_ms: int, automation_id: str) -> None:
        """Queue a due slot for a permit; `grant()` hands them out."""
        heapq.heappush(self._waiting, (slot_ms, next(self._order), automation_id, grantee))

    def grant(self) -> None:
        """Hand the free permits to the earliest waiting slots; wake their schedulers."""
        self.gathering = False
        woken: dict[int, Grantee] = {}
        waiting = self._waiting
        while waiting and self.available >= 1:
            slot_ms, _, automation_id, grantee = heapq.heappop(waiting)
            grantee.granted(slot_ms, automation_id, self.take())
            woken[id(grantee)] = grantee
        for grantee in woken.values():
            grantee.wake()

    def _release(self) -> None:
        self.taken -= 1
        if not self._waiting:
            return
        if self.available >= self.round:
            self.grant()
        elif not self.gathering:
            self.gathering = True
            self._waiting[0][3].gather()


class Permit:
    """One fire's share of the limit; releasing it twice releases it once."""

    __slots__ = ("_limit",)

    def __init__(self, limit: FireLimit) -> None:
        self._limit: FireLimit | None = limit

    def release(self) -> None:
        limit, self._limit = self._limit, None
        if limit is not None:
            limit._release()
