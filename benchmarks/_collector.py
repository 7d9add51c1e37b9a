"""The cycle collector's share of a measured stretch, from `gc.callbacks`.

On a shared machine the wall clock says little, and a full collection is a pause of
tens of milliseconds that lands on whichever run is in the way: a latency's p99 moves
with how many of them fell in the stretch. These figures tell the collector's part
from the rest (its CPU time per run, its longest pause, its full passes per 1,000
runs) and how many objects a run left for it to track.
"""

from __future__ import annotations

import gc
import time
from types import TracebackType
from typing import Any

__all__ = ["CollectorWatch"]


class CollectorWatch:
    """`with CollectorWatch() as watch:` around the measured stretch, then
    `watch.fields(runs)`; only the collections inside it are counted."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.cpu_s = 0.0
        self.pause_s_max = 0.0
        self.pause_cpu_s_max = 0.0
        self._tracked_before = 0
        self._tracked_after = 0
        self._started: tuple[float, float] | None = None

    def __enter__(self) -> CollectorWatch:
        self._tracked_before = len(gc.get_objects())
        gc.callbacks.append(self._callback)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        gc.callbacks.remove(self._callback)
        self._tracked_after = len(gc.get_objects())

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        # The collector runs in the thread that triggered it, holding the GIL.
        if phase == "start":
            self._started = time.thread_time(), time.perf_counter()
        elif self._started is not None:
            cpu, wall = self._started
            self._started = None
            self.collections[info["generation"]] += 1
            took = time.thread_time() - cpu
            self.cpu_s += took
            self.pause_cpu_s_max = max(self.pause_cpu_s_max, took)
            self.pause_s_max = max(self.pause_s_max, time.perf_counter() - wall)

    def fields(self, runs: int) -> dict[str, Any]:
        runs = max(1, runs)
        return {
            "collections": self.collections,
            "gen2_per_1000_runs": round(self.collections[2] * 1000 / runs, 2),
            "cpu_us_per_run": round(self.cpu_s / runs * 1e6, 1),
            "pause_ms_max": round(self.pause_s_max * 1000, 1),
            # The same pass's CPU time: the wall clock also counts other processes' turns.
            "pause_cpu_ms_max": round(self.pause_cpu_s_max * 1000, 1),
            "tracked_per_run": round((self._tracked_after - self._tracked_before) / runs, 1),
        }
