"""Reconciliation: the active runs of a process that died get an end, or a new owner.

Run by the lease holder of a scope for each process whose liveness lock it could
take (so the process is gone). A run waiting on a blocker whose executor this process
can resume is adopted: it goes back to `running` under the new owner, which calls the
executor again with its last checkpoint. Every other run ends with the reason it was
lost (DESIGN 3, Restart).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import apsw
import msgspec

from ..model import Automation, Blocker, Run, RunState, Scope, StopReason, advance, from_msgpack
from ._run_ops import SaveRun

__all__ = ["Adopted", "ReconcileRuns", "Reconciled"]


class Adopted(NamedTuple):
    seq: int
    run: Run
    """Now `running`, owned by the adopter."""
    blocker: Blocker
    """The blocker it waited on when its process died; asking it again reopens it."""
    writer_key: str | None


class Reconciled(NamedTuple):
    changed: list[tuple[int, Run]]
    """Every run written, ended or adopted, in journal order."""
    adopted: list[Adopted]


class ReconcileRuns(msgspec.Struct, gc=False, frozen=True):
    """End or adopt the active runs, in `scope`, of the dead process `owner`.

    `scheduled` and `running` runs become `stopped/expired`; `awaiting_input` ones
    become `stopped/blocker_lost`, unless their executor is in `resumable`, in which
    case `adopter` takes them over. Commands sent to the dead process are dropped.
    """

    owner: str
    scope: Scope
    adopter: str
    at: datetime
    resumable: frozenset[str] = msgspec.field(default_factory=frozenset)

    def apply(self, connection: apsw.Connection) -> Reconciled:
        scope = self.scope
        rows = connection.execute(
            "SELECT r.revision, r.writer_key, r.body, a.body FROM runs AS r"
            " LEFT JOIN automations AS a ON a.id = r.automation_id"
            " AND a.project = r.project AND a.directory = r.directory"
            " WHERE r.owner = ? AND r.project = ? AND r.directory = ?",
            (self.owner, scope.project, scope.directory),
        ).fetchall()
        result = Reconciled([], [])
        for revision, writer_key, body, automation_body in rows:
            assert isinstance(body, bytes)
            assert isinstance(revision, int)
            key = writer_key if isinstance(writer_key, str) else None
            run = from_msgpack(body, Run)
            if run.blocker is not None and self._resumes(automation_body):
                resumed = advance(run, RunState.RUNNING, at=self.at)
                save = SaveRun(scope, resumed, revision, self.at, key, self.adopter)
                seq = save.apply(connection)
                result.changed.append((seq, resumed))
                result.adopted.append(Adopted(seq, resumed, run.blocker, key))
                continue
            reason = (
                StopReason.BLOCKER_LOST
                if run.state is RunState.AWAITING_INPUT
                else StopReason.EXPIRED
            )
            stopped = advance(run, RunState.STOPPED, at=self.at, stop_reason=reason)
            save = SaveRun(scope, stopped, revision, self.at, key, self.owner)
            result.changed.append((save.apply(connection), stopped))
        connection.execute(
            "DELETE FROM commands WHERE target = ? AND project = ? AND directory = ?",
            (self.owner, scope.project, scope.directory),
        )
        return result

    def _resumes(self, automation_body: object) -> bool:
        if not self.resumable or not isinstance(automation_body, bytes):
            return False  # deleted automations are not resumed
        return from_msgpack(automation_body, Automation).executor in self.resumable
