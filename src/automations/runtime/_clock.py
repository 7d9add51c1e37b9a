"""Time as the runtime sees it: injected, so tests can drive it by hand.

Every schedule, timeout and sleep of the runtime goes through a `Clock`. The system
clock sleeps in bounded chunks and re-reads the wall clock, so a wall-clock jump
(NTP, a suspended laptop) delays or hastens a wake-up by at most one chunk.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import anyio
import anyio.lowlevel

__all__ = ["Clock", "ManualClock", "SystemClock", "sleep_until_or"]

_CHUNK = 30.0


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, an aware UTC datetime."""
        ...

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once `now() >= deadline` (at once, after a checkpoint, if it already is)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of this clock's time."""
        ...


class SystemClock:
    """The wall clock of the machine."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, deadline: datetime) -> None:
        # Polling in chunks is the point: the wall clock may jump while we sleep.
        while (remaining := (deadline - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await anyio.sleep(min(remaining, _CHUNK))
        await anyio.lowlevel.checkpoint()

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + timedelta(seconds=seconds))


class ManualClock:
    """A clock that moves only when a test says so, on asyncio and on trio.

    `advance()` and `set()` wake every sleeper whose deadline has come; `wait_sleepers()`
    lets a test wait until the code under test is asleep on the clock, instead of
    sleeping for real and hoping.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(
                "ManualClock needs an aware start time, e.g. datetime(..., tzinfo=UTC)"
            )
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, int, anyio.Event]] = []
        self._order = itertools.count()
        self._changed: anyio.Event | None = None

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds` and wake the sleepers that are due."""
        if seconds < 0:
            raise ValueError("a clock advances forward; use set() to go back in time")
        self.set(self._now + timedelta(seconds=seconds))

    def set(self, when: datetime) -> None:
        """Set the clock to `when` (forward or back) and wake the sleepers that are due."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("ManualClock.set needs an aware datetime")
        self._now = when.astimezone(UTC)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, event = heapq.heappop(self._sleepers)
            event.set()

    @property
    def sleepers(self) -> int:
        """How many tasks are asleep on this clock now."""
        return sum(1 for _, _, event in self._sleepers if not event.is_set())

    def next_deadline(self) -> datetime | None:
        """The earliest deadline anyone sleeps until, if anyone sleeps."""
        live = [deadline for deadline, _, event in self._sleepers if not event.is_set()]
        return min(live, default=None)

    async def wait_sleepers(self, count: int = 1) -> None:
        """Wait until at least `count` tasks are asleep on this clock."""
        while self.sleepers < count:
            self._changed = self._changed or anyio.Event()
            await self._changed.wait()

    async def wait_sleeper_until(self, deadline: datetime) -> None:
        """Wait until a task is asleep on this clock until exactly `deadline`."""
        while not any(d == deadline and not e.is_set() for d, _, e in self._sleepers):
            self._changed = self._changed or anyio.Event()
            await self._changed.wait()

    async def sleep_until(self, deadline: datetime) -> None:
        if deadline <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        entry = (deadline, next(self._order), event)
        heapq.heappush(self._sleepers, entry)
        self._notify()
        try:
            await event.wait()
        finally:
            if not event.is_set():  # cancelled: forget the sleeper
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=seconds))

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


async def sleep_until_or(clock: Clock, deadline: datetime | None, event: anyio.Event) -> None:
    """Sleep on `clock` until `deadline` (None: no deadline) or until `event` is set,
    whichever comes first: an alarm that news of an earlier deadline cuts short."""
    if deadline is None:  # no sleeper on the clock: a test waiting for one is not misled
        await event.wait()
        return
    if type(clock) is SystemClock:  # a cancel scope's deadline, not a task of its own
        slept = False
        while not event.is_set() and (remaining := (deadline - clock.now()).total_seconds()) > 0:
            slept = True
            with anyio.move_on_after(min(remaining, _CHUNK)):
                await event.wait()
        if not slept:
            await anyio.lowlevel.checkpoint()
        return
    async with anyio.create_task_group() as tg:

        async def alarm() -> None:
            await clock.sleep_until(deadline)
            tg.cancel_scope.cancel()

        tg.start_soon(alarm)
        await event.wait()
        tg.cancel_scope.cancel()
