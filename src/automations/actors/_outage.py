"""Riding out a database outage: the background reads that keep a runtime going are
tried again, with a growing pause, when the database does not answer.

A server that restarts, or a link that is cut for a while, is not a reason for a
worker to die: once the database answers again, the lease and its epoch decide who
may fire, and every write made meanwhile failed to its caller. So the follower, the
inbox, the scheduler's due index and the lease poll wait it out, saying so once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from ..model import StorageError

__all__ = ["FIRST_PAUSE", "LONGEST_PAUSE", "REMIND_SECONDS", "Outage", "patiently"]

log = logging.getLogger("automations.actors")

FIRST_PAUSE = 0.1
LONGEST_PAUSE = 2.0
"""Seconds between tries while the database does not answer (real time: this is
about a server, not about schedules)."""
REMIND_SECONDS = 60.0

T = TypeVar("T")


class Outage:
    """One loop's view of an outage: a warning when it begins, again every
    `REMIND_SECONDS` while it lasts (an error that is not an outage, a dropped table
    say, must not hide behind one line), one when it ends; the pause before each try."""

    def __init__(self, doing: str) -> None:
        self._doing = doing
        self._pause: float | None = None
        self._began = 0.0
        self._reminded = 0.0

    async def failed(self, error: StorageError) -> None:
        """Note `error` and wait before the next try."""
        now = time.monotonic()
        if self._pause is None:
            log.warning(
                "could not %s (%s); trying again until the database answers", self._doing, error
            )
            self._pause, self._began, self._reminded = FIRST_PAUSE, now, now
        elif now - self._reminded >= REMIND_SECONDS:
            log.warning("still cannot %s after %.0f s: %s", self._doing, now - self._began, error)
            self._reminded = now
        await anyio.sleep(self._pause)
        self._pause = min(self._pause * 2, LONGEST_PAUSE)

    def succeeded(self) -> None:
        if self._pause is not None:
            log.warning("the database answers again: %s goes on", self._doing)
            self._pause = None


async def patiently(read: Callable[[], Awaitable[T]], doing: str) -> T:
    """`await read()`, tried again until the database answers."""
    outage = Outage(doing)
    while True:
        try:
            result = await read()
        except StorageError as error:
            await outage.failed(error)
            continue
        outage.succeeded()
        return result
