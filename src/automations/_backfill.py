"""Backfill: the past slots of a range run one after another (`Runtime.backfill`).

The caller's process drives it: each slot is handed to the automation's actor (in a
worker) or to the worker through the command inbox (in a client), as a run-now is,
and the next slot waits until that run has ended. So a backfill has one run going at
a time, whatever the range: its rate is bounded by its runs, it never competes with
itself under the overlap policy, and stopping the caller stops it between two slots.
The once-per-slot index decides which slots had a run already, in the store, so two
backfills of one range, or a backfill and the scheduler, never run a slot twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import msgspec

from .model import BackfillReport, DuplicateSlot, Run, as_instant

__all__ = ["Progress", "run_backfill"]

Progress = Callable[[BackfillReport], None]
"""Told what a backfill did so far after each slot it handled."""


async def run_backfill(
    slots: Sequence[datetime],
    launch: Callable[[datetime], Awaitable[Run]],
    wait_end: Callable[[str], Awaitable[Run]],
    progress: Progress | None = None,
) -> BackfillReport:
    """Launch each slot in turn and wait for its run to end before the next."""
    report = BackfillReport(slots=len(slots))
    for slot in slots:
        try:
            run = await launch(slot)
        except DuplicateSlot:
            existing = (*report.existing, as_instant(slot))
            report = msgspec.structs.replace(report, done=report.done + 1, existing=existing)
        else:
            if not run.state.is_terminal:
                run = await wait_end(run.id)
            runs = (*report.runs, run)
            report = msgspec.structs.replace(report, done=report.done + 1, runs=runs)
        if progress is not None:
            progress(report)
    return report
