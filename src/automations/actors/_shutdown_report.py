"""What a clean close did with the runs going on: left for the next worker, or ended."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Protocol

import msgspec

from ..model import Run, RunState

__all__ = ["ShutdownReport"]


class _Going(Protocol):
    @property
    def run(self) -> Run: ...

    @property
    def left(self) -> bool: ...


class ShutdownReport(msgspec.Struct, frozen=True, kw_only=True):
    """`waiting`: runs left `awaiting_input` for the next worker to resume (their
    executors are resumable); `scheduled`: runs left recorded ahead of their slot for the
    next lease holder; `ended`: how the other runs going on ended, as `state` or
    `stopped/reason` (mostly `stopped/worker_stopped`), with their counts."""

    waiting: int = 0
    scheduled: int = 0
    ended: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, released: int, left: Iterable[_Going], stopped: Iterable[_Going]) -> ShutdownReport:
        waiting = 0
        ended: Counter[str] = Counter()
        for actor in [*left, *stopped]:
            if actor.left:
                waiting += 1
            else:
                ended[_end_of(actor.run)] += 1
        return cls(waiting=waiting, scheduled=released, ended=tuple(sorted(ended.items())))

    def describe(self) -> str:
        """One line for a person: "left 2 runs waiting for answers; 1 run stopped:
        worker_stopped"; "no runs were going on" when there were none."""
        parts = []
        if self.waiting:
            parts.append(f"left {_runs(self.waiting)} waiting for answers")
        if self.scheduled:
            parts.append(f"left {_runs(self.scheduled)} due at their slot to the next worker")
        for end, count in self.ended:
            state, _, reason = end.partition("/")
            parts.append(f"{_runs(count)} {state}" + (f": {reason}" if reason else ""))
        return "; ".join(parts) if parts else "no runs were going on"


def _end_of(run: Run) -> str:
    if run.state is RunState.STOPPED and run.stop_reason is not None:
        return f"stopped/{run.stop_reason}"
    return str(run.state)


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"
