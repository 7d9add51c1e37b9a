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

import apsw
import msgspec

from ..model import (
    Automation,
    Blocker,
    Overlap,
    Run,
    RunState,
    Scope,
    StopReason,
    Trigger,
    advance,
    from_msgpack,
)
from ._leases import check_epoch
from ._run_ops import SaveRun

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


class ReconcileRuns(msgspec.Struct, gc=False, frozen=True):
    """End or adopt the active runs, in `scope`, of the dead process `owner`.

    `scheduled` and `running` runs become `stopped/expired`; `awaiting_input` ones
    become `stopped/blocker_lost`, unless their executor is in `resumable`, in which
    case `adopter` takes them over. So it does a `scheduled` run whose slot has come
    and whose catch-up window is still open at `at` (the overlap policy's writer key
    busy, it is recorded skipped); one whose slot is to come is left alone.
    Commands sent to the dead process are dropped.
    """

    owner: str
    scope: Scope
    adopter: str
    at: datetime
    resumable: frozenset[str] = msgspec.field(default_factory=frozenset)
    epoch: int | None = None
    """The lease epoch the reconciler holds: a deposed holder adopts and ends nothing."""

    def apply(self, connection: apsw.Connection) -> Reconciled:
        scope = self.scope
        check_epoch(connection, scope, self.epoch)
        rows = connection.execute(
            "SELECT r.revision, r.writer_key, r.body, a.body FROM runs AS r"
            " LEFT JOIN automations AS a ON a.id = r.automation_id"
            " AND a.project = r.project AND a.directory = r.directory"
            " WHERE r.owner = ? AND r.project = ? AND r.directory = ?",
            (self.owner, scope.project, scope.directory),
        ).fetchall()
        result = Reconciled([], [])
        unstarted: list[tuple[int, Run, Automation]] = []
        to_come: list[datetime] = []
        for revision, writer_key, body, automation_body in rows:
            assert isinstance(body, bytes)
            assert isinstance(revision, int)
            key = writer_key if isinstance(writer_key, str) else None
            run = from_msgpack(body, Run)
            automation = None
            if run.state is RunState.SCHEDULED or (run.blocker is not None and self.resumable):
                automation = _automation(automation_body)
            if automation is not None and self._unstarted(run):
                if run.triggered_at > self.at:
                    to_come.append(run.triggered_at)
                    continue
                if self.at <= run.triggered_at + automation.catchup_window:
                    unstarted.append((revision, run, automation))
                    continue
            if run.blocker is not None and self._resumes(automation):
                self._adopt(connection, result, revision, run, run.blocker, key)
            else:
                self._end(connection, result, revision, run, key)
        if to_come:
            result = result._replace(next_slot=min(to_come))
        # After the others ended: a writer key the dead process held is free again.
        for revision, run, automation in unstarted:
            key = None if automation.overlap is Overlap.ALLOW else automation.where.writer_key
            if key is not None and _key_held(connection, key):
                reason = StopReason.PREVIOUS_RUN_AWAITING_INPUT
                self._end(connection, result, revision, run, None, reason)
            else:
                self._adopt(connection, result, revision, run, None, key)
        connection.execute(
            "DELETE FROM commands WHERE target = ? AND project = ? AND directory = ?",
            (self.owner, scope.project, scope.directory),
        )
        return result

    @staticmethod
    def _unstarted(run: Run) -> bool:
        """A run of a slot its process never started."""
        return run.state is RunState.SCHEDULED and run.trigger is not Trigger.MANUAL

    def _resumes(self, automation: Automation | None) -> bool:
        # Deleted automations are not resumed.
        return automation is not None and automation.executor in self.resumable

    def _adopt(
        self,
        connection: apsw.Connection,
        result: Reconciled,
        revision: int,
        run: Run,
        blocker: Blocker | None,
        key: str | None,
    ) -> None:
        adopted = advance(run, RunState.RUNNING, at=self.at)
        seq = SaveRun(self.scope, adopted, revision, self.at, key, self.adopter).apply(connection)
        result.changed.append((seq, adopted))
        result.adopted.append(Adopted(seq, adopted, blocker, key))

    def _end(
        self,
        connection: apsw.Connection,
        result: Reconciled,
        revision: int,
        run: Run,
        key: str | None,
        reason: StopReason | None = None,
    ) -> None:
        if reason is None:
            lost = run.state is RunState.AWAITING_INPUT
            reason = StopReason.BLOCKER_LOST if lost else StopReason.EXPIRED
        stopped = advance(run, RunState.STOPPED, at=self.at, stop_reason=reason)
        seq = SaveRun(self.scope, stopped, revision, self.at, key, self.owner).apply(connection)
        result.changed.append((seq, stopped))


def _automation(body: object) -> Automation | None:
    return from_msgpack(body, Automation) if isinstance(body, bytes) else None


def _key_held(connection: apsw.Connection, key: str) -> bool:
    row = connection.execute("SELECT 1 FROM runs WHERE writer_key = ?", (key,)).fetchone()
    return row is not None
