"""The alarm of runs recorded ahead of their slot: each slot's runs begin together."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import cast

import anyio
import pytest

from automations.actors._slot_starts import SlotStarts
from automations.model import to_ms
from automations.persistence.sqlite import SqliteStore
from automations.testing import ManualClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Together:
    """Stands for the store: notes which callbacks ran inside each `together()` block."""

    def __init__(self) -> None:
        self.blocks: list[list[str]] = []
        self.times: list[datetime] = []
        self._open: list[str] | None = None

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        self._open = []
        try:
            yield
        finally:
            self.blocks.append(self._open)
            self._open = None

    def came(self, name: str, now: datetime) -> None:
        assert self._open is not None, f"{name} began outside a together() block"
        self._open.append(name)
        self.times.append(now)


def _ms(seconds: float) -> int:
    return to_ms(T0 + timedelta(seconds=seconds))


async def test_the_runs_of_a_slot_begin_in_one_block_when_it_comes() -> None:
    clock, store = ManualClock(T0), Together()
    starts = SlotStarts(cast(SqliteStore, store), clock)
    later = anyio.Event()

    def came_later(now: datetime) -> None:
        store.came("later", now)
        later.set()

    starts.add(_ms(10), functools.partial(store.came, "b"))
    starts.add(_ms(10), functools.partial(store.came, "a"))
    starts.add(_ms(20), came_later)
    async with anyio.create_task_group() as tg:
        tg.start_soon(starts.run)
        await clock.wait_sleeper_until(T0 + timedelta(seconds=10))
        assert store.blocks == []
        clock.set(T0 + timedelta(seconds=10))
        await clock.wait_sleeper_until(T0 + timedelta(seconds=20))
        assert store.blocks == [["b", "a"]]  # in the order they were recorded
        assert store.times == [T0 + timedelta(seconds=10)] * 2  # the clock, read once
        clock.set(T0 + timedelta(seconds=25))
        await later.wait()
        assert store.blocks == [["b", "a"], ["later"]]
        assert store.times[-1] == T0 + timedelta(seconds=25)  # when the alarm rang
        assert clock.sleepers == 0  # nothing waits: the alarm is not on the clock
        tg.cancel_scope.cancel()


async def test_an_earlier_slot_added_while_the_alarm_sleeps_wakes_it_sooner() -> None:
    clock, store = ManualClock(T0), Together()
    starts = SlotStarts(cast(SqliteStore, store), clock)
    starts.add(_ms(60), lambda now: store.came("late", now))
    async with anyio.create_task_group() as tg:
        tg.start_soon(starts.run)
        await clock.wait_sleeper_until(T0 + timedelta(seconds=60))
        starts.add(_ms(5), lambda now: store.came("early", now))
        await clock.wait_sleeper_until(T0 + timedelta(seconds=5))
        clock.set(T0 + timedelta(seconds=5))
        await clock.wait_sleeper_until(T0 + timedelta(seconds=60))
        assert store.blocks == [["early"]]
        tg.cancel_scope.cancel()


def test_a_run_that_fails_to_begin_does_not_keep_the_others_of_its_slot_waiting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Together()
    starts = SlotStarts(cast(SqliteStore, store), ManualClock(T0))

    def broken(now: datetime) -> None:
        raise RuntimeError("broken")

    starts.add(_ms(1), lambda now: store.came("first", now))
    starts.add(_ms(1), broken)
    starts.add(_ms(1), lambda now: store.came("third", now))
    starts.start_due(_ms(1))
    assert store.blocks == [["first", "third"]]
    assert "could not start a run at its slot" in caplog.text
