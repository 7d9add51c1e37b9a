"""Reconciliation: the active runs of a process that died get an end, or a new owner.

Run by the lease holder of a scope for each process whose liveness lock it could
take (so the process is gone). A run waiting on a blocker whose executor this process
can resume is adopted: it goes back to `running` under the new owner, which calls the
executor again with its last checkpoint. So is a run recorded ahead of its slot that
its process never started (an executor starts only once `running` is durable), once
its slot has come and while its catch-up window is open: the slot is fired by the new
owner, late, instead of lost (one whose slot is still to come is left for a later
look). Every other run ends with the reason it was lost (DESIGN 3, Restart).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import msgspec

from ..model import (
    Automation,
    Blocker,
    KeyHolder,
    Run,
    RunState,
    Scope,
    StopReason,
    Trigger,
    advance,
)
from ._operations import Operation

__all__ = ["Adopted", "ReconcileRuns", "Reconciled"]


class Adopted(NamedTuple):
    seq: int
    run: Run
    """Now `running`, owned by the adopter."""
    blocker: Blocker | None
    """The blocker it waited on when its process died; asking it again reopens it.
    None for a scheduled run its process never started."""
    writer_key: str | None


class Reconciled(NamedTuple):
    changed: list[tuple[int, Run]]
    """Every run written, ended or adopted, in journal order."""
    adopted: list[Adopted]
    next_slot: datetime | None = None
    """The earliest slot of a run left alone because its slot is still to come."""
    released: int = 0
    """Commands the dead process had claimed, for nobody in particular again: the
    leader's inbox takes them (their ids are behind its cursor)."""


class ReconcileRuns(Operation[Reconciled], frozen=True, gc=False):
    """End or adopt the active runs, in `scope`, of the dead process `owner`.

    `scheduled` and `running` runs become `stopped/expired`; `awaiting_input` ones
    become `stopped/blocker_lost`, unless their executor is in `resumable`, in which
    case `adopter` takes them over. So it does a `scheduled` run whose slot has come
    and whose catch-up window is still open at `at` (the overlap policy's writer key
    busy, it is recorded skipped); one whose slot is to come is left alone.
    Commands sent to the dead process are dropped, but a run-now or backfill it
    claimed (the inbox of PostgreSQL) goes back to nobody in particular.
    """

    owner: str
    scope: Scope
    adopter: str
    at: datetime
    resumable: frozenset[str] = msgspec.field(default_factory=frozenset)
    epoch: int | None = None
    """The lease epoch the reconciler holds: a deposed holder adopts and ends nothing."""

    @staticmethod
    def unstarted(run: Run) -> bool:
        """A run of a slot its process never started."""
        return run.state is RunState.SCHEDULED and run.trigger is not Trigger.MANUAL

    def needs_automation(self, run: Run) -> bool:
        """Whether deciding `run`'s fate needs its automation's definition."""
        return run.state is RunState.SCHEDULED or (run.blocker is not None and bool(self.resumable))

    def resumes(self, automation: Automation | None) -> bool:
        """Deleted automations are not resumed."""
        return automation is not None and automation.executor in self.resumable

    def adopted(self, run: Run) -> Run:
        return advance(run, RunState.RUNNING, at=self.at)

    def ended(
        self, run: Run, reason: StopReason | None = None, held_by: KeyHolder | None = None
    ) -> Run:
        if reason is None:
            lost = run.state is RunState.AWAITING_INPUT
            reason = StopReason.BLOCKER_LOST if lost else StopReason.EXPIRED
        return advance(run, RunState.STOPPED, at=self.at, stop_reason=reason, held_by=held_by)
