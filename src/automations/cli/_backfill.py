"""`automations backfill`: run the past slots of a range, with progress as it goes.

The slots run one after another on the worker serving the scope (`automations serve`);
this command follows them, and Ctrl-C stops it between two slots (the run going on
goes on).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ..api import Runtime
from ..model import BackfillReport, Overlap, RunState
from ._options import parse_when
from ._render import Output, outcome_text, runs_table, when

__all__ = ["backfill"]


def _summary(report: BackfillReport) -> str:
    ran = sum(1 for run in report.runs if run.started_at is not None)
    skipped = len(report.runs) - ran
    text = f"{report.done} of {report.slots} slots: {ran} ran"
    if skipped:
        text += f", {skipped} skipped by the overlap policy"
    if report.existing:
        text += f", {len(report.existing)} had a run already"
    return text


async def backfill(rt: Runtime, args: argparse.Namespace, out: Output) -> int:
    """Exit 1 when a backfilled run failed; a slot skipped or found run is no failure."""
    automation = await rt.get(args.id)
    now = datetime.now(UTC)
    start = parse_when(args.start, automation.timezone, "--from")
    end = now if args.end is None else parse_when(args.end, automation.timezone, "--to")
    overlap = None if args.overlap is None else Overlap(args.overlap)
    zone = automation.timezone
    if out.json:
        report = await rt.backfill(automation.id, start, end, overlap=overlap)
    elif not out.console.is_terminal:  # a log: one line per slot as it is handled
        lines = _SlotLines(out, zone)
        report = await rt.backfill(automation.id, start, end, overlap=overlap, progress=lines)
    else:
        with out.console.status(f"backfilling {automation.id}") as status:

            def show(so_far: BackfillReport) -> None:
                status.update(f"backfilling {automation.id}: {_summary(so_far)}")

            report = await rt.backfill(automation.id, start, end, overlap=overlap, progress=show)
    if not out.json and report.runs and out.console.is_terminal:
        out.console.print(runs_table(report.runs, now))
    out.result(report, f"backfilled {automation.id}: {_summary(report)}")
    return 1 if any(run.state is RunState.FAILED for run in report.runs) else 0


class _SlotLines:
    """Progress as lines: the slot just handled and what became of it."""

    def __init__(self, out: Output, zone: str) -> None:
        self._out = out
        self._zone = zone
        self._runs = 0

    def __call__(self, so_far: BackfillReport) -> None:
        prefix = f"[{so_far.done}/{so_far.slots}]"
        if len(so_far.runs) > self._runs:
            self._runs = len(so_far.runs)
            run = so_far.runs[-1]
            slot = when(run.triggered_at, self._zone)
            detail = outcome_text(run)
            self._out.say(f"{prefix} {slot}: {run.id} {run.state.value} {detail}".rstrip())
        else:
            slot = when(so_far.existing[-1], self._zone)
            self._out.say(f"{prefix} {slot}: had a run already")
