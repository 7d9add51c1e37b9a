"""A run is finished once its job returned and its submitted end settled, in either order."""

from __future__ import annotations

import anyio
import pytest

from automations.actors._finish import FinishLatch

pytestmark = pytest.mark.anyio


def _latch(log: list[str]) -> FinishLatch:
    latch = FinishLatch(lambda: log.append("finished"))
    latch.add_callback(lambda: log.append("callback"))
    return latch


async def test_job_first_then_end() -> None:
    log: list[str] = []
    latch = _latch(log)
    latch.end_submitted()
    latch.job_returned()
    assert not latch.is_open and log == []
    latch.end_settled()
    assert latch.is_open and log == ["finished", "callback"]


async def test_end_settled_before_the_job_returns() -> None:
    log: list[str] = []
    latch = _latch(log)
    latch.end_submitted()
    latch.end_settled()  # the grace watcher recorded it; the executor still runs
    assert not latch.is_open and log == []
    latch.job_returned()
    assert latch.is_open and log == ["finished", "callback"]


async def test_a_job_that_submitted_no_end_finishes_as_it_returns() -> None:
    log: list[str] = []
    latch = _latch(log)
    latch.job_returned()
    assert latch.is_open and log == ["finished", "callback"]
    latch.end_settled()  # settling again opens nothing twice
    assert log == ["finished", "callback"]


async def test_late_callbacks_run_at_once_and_waiters_wake() -> None:
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
    latch.add_callback(lambda: log.append("late"))
    assert log == ["finished", "callback", "late"]
    await latch.wait()  # open: returns at once
