from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import anyio.lowlevel
import pytest

from automations.runtime import Clock, SystemClock, sleep_until_or
from automations.testing import ManualClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)


async def test_sleepers_wake_in_deadline_order_when_the_clock_moves() -> None:
    clock = ManualClock(T0)
    woke: list[int] = []

    async def sleeper(seconds: int) -> None:
        await clock.sleep(seconds)
        woke.append(seconds)

    async with anyio.create_task_group() as tg:
        for seconds in (30, 10, 20):
            tg.start_soon(sleeper, seconds)
        await clock.wait_sleepers(3)
        assert clock.next_deadline() == T0 + timedelta(seconds=10)
        clock.advance(15)  # releases the 10 s sleeper only
        assert clock.sleepers == 2
        assert clock.next_deadline() == T0 + timedelta(seconds=20)
        clock.advance(5)
        assert clock.sleepers == 1
        clock.set(T0 + timedelta(minutes=1))
    assert sorted(woke) == [10, 20, 30]
    assert clock.now() == T0 + timedelta(minutes=1) and clock.sleepers == 0


async def test_a_past_deadline_returns_at_once() -> None:
    clock = ManualClock(T0)
    with anyio.fail_after(1):
        await clock.sleep_until(T0 - timedelta(hours=1))
        await clock.sleep(0)


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    clock = ManualClock(T0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(clock.sleep, 60)
        await clock.wait_sleepers(1)
        tg.cancel_scope.cancel()
    assert clock.sleepers == 0 and clock.next_deadline() is None


async def test_manual_time_is_not_real_time() -> None:
    clock = ManualClock(T0)
    with anyio.fail_after(1):  # an hour of clock time passes at once
        async with anyio.create_task_group() as tg:
            tg.start_soon(clock.sleep, 3600)
            await clock.wait_sleepers(1)
            clock.advance(3600)


def test_manual_clock_refuses_naive_and_backward_advance() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))
    clock = ManualClock(T0)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 1, 1))
    clock.set(T0 - timedelta(days=1))  # set may go back
    assert clock.now() == T0 - timedelta(days=1)


async def test_system_clock_is_a_clock_and_sleeps_briefly() -> None:
    clock = SystemClock()
    assert isinstance(clock, Clock) and isinstance(ManualClock(T0), Clock)
    before = clock.now()
    assert before.tzinfo is UTC
    await clock.sleep(0.01)
    assert clock.now() - before >= timedelta(seconds=0.01)
    await clock.sleep_until(before)


@pytest.mark.parametrize("system", [True, False], ids=["system", "manual"])
async def test_sleep_until_or_returns_when_its_event_is_set(system: bool) -> None:
    clock: Clock = SystemClock() if system else ManualClock(T0)
    event = anyio.Event()
    returned = anyio.Event()

    async def sleeper() -> None:
        await sleep_until_or(clock, clock.now() + timedelta(hours=1), event)
        returned.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await anyio.lowlevel.checkpoint()
        assert not returned.is_set()
        event.set()
        with anyio.fail_after(5):
            await returned.wait()


@pytest.mark.parametrize("system", [True, False], ids=["system", "manual"])
async def test_sleep_until_or_returns_at_its_deadline(system: bool) -> None:
    clock: Clock = SystemClock() if system else ManualClock(T0)
    deadline = clock.now() + timedelta(milliseconds=20)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sleep_until_or, clock, deadline, anyio.Event())
            if isinstance(clock, ManualClock):
                await clock.wait_sleepers()
                clock.advance(0.02)
    assert clock.now() >= deadline
    with anyio.fail_after(5):  # a deadline past returns at once
        await sleep_until_or(clock, deadline, anyio.Event())
