"""The fleet benchmark's firing part (`--interval`): schedules spread over the interval,
and what the store holds of their runs once the workers are gone.

Automation k of N first fires at T0 + k/N of the interval, so the fleet fires N/interval
slots a second, evenly. Each run's result is the time its executor started
(`_fleet_worker.stamp`): its fire lag is that minus its slot. Lag and fires per second
count the slots of the measured window; a slot fired twice is counted over every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import automations as am
from automations.model import Scope
from automations.persistence import StorePort

from ._common import latency

__all__ = ["Firing"]

_PAGE = 500


@dataclass(frozen=True)
class Firing:
    """N automations every `interval` seconds, their first slots from `t0` on."""

    interval: float
    t0: float
    total: int

    def schedule(self, index: int) -> am.Interval:
        start = self.t0 + round(index * self.interval / self.total, 3)
        return am.Interval(
            every=timedelta(seconds=self.interval), start=datetime.fromtimestamp(start, UTC)
        )

    def expected(self, start: float, end: float) -> int:
        """Slots of all N in [start, end)."""
        return sum(self._slots_of(index, start, end) for index in range(self.total))

    def _slots_of(self, index: int, start: float, end: float) -> int:
        first = self.t0 + round(index * self.interval / self.total, 3)
        count, slot = 0, first
        while slot < end:
            count += slot >= start
            slot += self.interval
        return count

    async def figures(
        self, store: StorePort, automations: dict[Scope, list[str]], window: tuple[float, float]
    ) -> dict[str, Any]:
        """Fire lag, fires per second and runs of the window; slots fired twice over all."""
        start, end = window
        lags: list[float] = []
        per_slot: Counter[tuple[str, float]] = Counter()
        outcomes: Counter[str] = Counter()
        for run in await _runs(store, automations):
            slot = run.slot
            if slot is None:
                continue
            at = slot.timestamp()
            per_slot[(run.automation_id, at)] += 1
            if not start <= at < end:
                continue
            outcomes[_outcome(run)] += 1
            if run.state is am.RunState.SUCCEEDED and run.result is not None:
                lags.append((float(run.result) - at) * 1000)
        expected = self.expected(start, end)
        return {
            "interval_s": self.interval,
            "window_s": round(end - start, 3),
            "fire_lag_ms": latency(lags),
            "fires_per_s": round(len(lags) / (end - start), 1),
            "fired": len(lags),
            "expected": expected,
            "outcomes": dict(sorted(outcomes.items())),
            "fired_twice": sum(1 for count in per_slot.values() if count > 1),
        }


def _outcome(run: am.Run) -> str:
    """The run's state, and why it stopped."""
    reason = run.stop_reason
    return run.state.value if reason is None else f"{run.state.value}/{reason.value}"


async def _runs(store: StorePort, automations: dict[Scope, list[str]]) -> Iterable[am.Run]:
    found: list[am.Run] = []
    for scope, ids in automations.items():
        for automation_id in ids:
            cursor: str | None = None
            while True:
                page = await store.reader.runs(scope, automation_id, limit=_PAGE, cursor=cursor)
                found.extend(page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
    return found
