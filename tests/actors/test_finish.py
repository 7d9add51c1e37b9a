"""A run is finished once its job returned and its submitted end settled, in either order."""

from __future__ import annotations

import gc
import weakref

import anyio
import pytest

from automations.actors._finish import FinishLatch


def _latch(log: list[str]) -> FinishLatch:
    return FinishLatch(lambda: log.append("finished"))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("job_returned", "end_settled"),
        ("end_settled", "job_returned"),  # the grace watcher recorded it; the job still runs
    ],
)
def test_finished_once_the_job_returned_and_the_end_settled(first: str, second: str) -> None:
    log: list[str] = []
    latch = _latch(log)
    latch.end_submitted()
    getattr(latch, first)()
    assert not latch.is_open and log == []
    getattr(latch, second)()
    assert latch.is_open and log == ["finished"]


def test_a_job_that_submitted_no_end_finishes_as_it_returns() -> None:
    log: list[str] = []
    latch = _latch(log)
    latch.job_returned()
    assert latch.is_open and log == ["finished"]
    latch.end_settled()  # settling again opens nothing twice
    assert log == ["finished"]


@pytest.mark.anyio
async def test_waiters_wake_as_it_opens_and_later_ones_return_at_once() -> None:
    log: list[str] = []
    latch = _latch(log)
    woken: list[bool] = []

    async def waiter() -> None:
        await latch.wait()
        woken.append(latch.is_open)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert woken == []
        latch.end_submitted()
        latch.job_returned()
        latch.end_settled()
    assert woken == [True]
    assert log == ["finished"]
    await latch.wait()  # open: returns at once


class _Owner:
    """Holds its latch, as a RunActor does, and is told through a bound method."""

    def __init__(self) -> None:
        self.latch = FinishLatch(self.finished)
        self.calls = 0

    def finished(self) -> None:
        self.calls += 1


def test_an_open_latch_lets_go_of_its_owner_so_no_cycle_outlives_the_run() -> None:
    owner = _Owner()
    owner.latch.job_returned()
    assert owner.calls == 1
    gone = weakref.ref(owner)
    enabled = gc.isenabled()
    gc.disable()  # freed by its reference count alone, not by the collector
    try:
        del owner
        assert gone() is None
    finally:
        if enabled:
            gc.enable()
