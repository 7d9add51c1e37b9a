"""When a run is finished: its job has returned and the end it submitted is settled.

The two happen in either order. The job returns at once after submitting the end
(nobody wakes its task again for the commit), or the end is recorded by the grace
watcher while an executor that ignores cancellation is still running. Only when both
are done may the owner forget the run, so `on_end` and the waiters see a run that is
over in memory and in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

__all__ = ["FinishLatch"]


class FinishLatch:
    """Opens once the job has returned and any submitted end is settled (durable, or
    given up on); then calls `on_finished` and wakes the waiters."""

    __slots__ = ("_event", "_job_returned", "_on_finished", "end", "is_open")

    def __init__(self, on_finished: Callable[[], None]) -> None:
        self._on_finished = on_finished
        self._event: anyio.Event | None = None
        self._job_returned = False
        self.end: bool | None = None
        """None until an end is submitted; False while it is written; True once settled."""
        self.is_open = False

    def job_returned(self) -> None:
        self._job_returned = True
        self._open_if_done()

    def end_submitted(self) -> None:
        self.end = False

    def end_settled(self) -> None:
        self.end = True
        self._open_if_done()

    async def wait(self) -> None:
        if not self.is_open:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()

    def _open_if_done(self) -> None:
        if self.is_open or not self._job_returned or self.end is False:
            return
        self.is_open = True
        if self._event is not None:
            self._event.set()
        # Let go of the owner (it holds this latch): a finished run is freed at once
        # by its reference count, instead of waiting as a cycle for the collector.
        on_finished, self._on_finished = self._on_finished, _nothing
        on_finished()


def _nothing() -> None:
    pass
