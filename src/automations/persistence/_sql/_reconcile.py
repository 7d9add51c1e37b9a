"""How the store reconciles a dead process's runs (see `ReconcileRuns` for what)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from ...model import Automation, Blocker, KeyHolder, Overlap, Run, StopReason, from_msgpack
from .._reconcile import Adopted, Reconciled, ReconcileRuns
from .._run_operations import SaveRun
from ._command_writes import release_claims
from ._connection import Sql
from ._lease_writes import check_epoch
from ._run_writes import key_holder, save_run

__all__ = ["reconcile_runs"]


def reconcile_runs(sql: Sql, op: ReconcileRuns) -> Reconciled:
    scope = op.scope
    check_epoch(sql, scope, op.epoch)
    rows = sql.execute(
        "SELECT r.revision, r.writer_key, r.body, a.body FROM runs AS r"
        " LEFT JOIN automations AS a ON a.id = r.automation_id"
        " AND a.project = r.project AND a.directory = r.directory"
        " WHERE r.owner = ? AND r.project = ? AND r.directory = ? ORDER BY r.id",
        (op.owner, scope.project, scope.directory),
    ).fetchall()
    result = Reconciled([], [])
    unstarted: list[tuple[int, Run, Automation]] = []
    to_come: list[datetime] = []
    for revision, writer_key, body, automation_body in rows:
        key = writer_key if isinstance(writer_key, str) else None
        run = _with_progress(sql, from_msgpack(body, Run))
        automation = _automation(automation_body) if op.needs_automation(run) else None
        if automation is not None and op.unstarted(run):
            if run.starts_at > op.at:
                to_come.append(run.starts_at)
                continue
            if op.at <= run.starts_at + automation.catchup_window:
                unstarted.append((int(revision), run, automation))
                continue
        if run.blocker is not None and op.resumes(automation):
            _adopt(sql, op, result, int(revision), run, run.blocker, key)
        else:
            _end(sql, op, result, int(revision), run, key)
    if to_come:
        result = result._replace(next_slot=min(to_come))
    # After the others ended: a writer key the dead process held is free again.
    for revision, run, automation in unstarted:
        key = None if automation.overlap is Overlap.ALLOW else automation.writer_key
        holder = None if key is None else key_holder(sql, key)
        if holder is not None:
            reason = StopReason.PREVIOUS_RUN_AWAITING_INPUT
            _end(sql, op, result, revision, run, None, reason, holder)
        else:
            _adopt(sql, op, result, revision, run, None, key)
    result = result._replace(released=release_claims(sql, scope, op.owner))
    sql.execute(
        "DELETE FROM commands WHERE target = ? AND project = ? AND directory = ?",
        (op.owner, scope.project, scope.directory),
    )
    return result


def _adopt(
    sql: Sql,
    op: ReconcileRuns,
    result: Reconciled,
    revision: int,
    run: Run,
    blocker: Blocker | None,
    key: str | None,
) -> None:
    adopted = op.adopted(run)
    seq = save_run(sql, SaveRun(op.scope, adopted, revision, op.at, key, op.adopter))
    result.changed.append((seq, adopted))
    result.adopted.append(Adopted(seq, adopted, blocker, key))


def _end(
    sql: Sql,
    op: ReconcileRuns,
    result: Reconciled,
    revision: int,
    run: Run,
    key: str | None,
    reason: StopReason | None = None,
    held_by: KeyHolder | None = None,
) -> None:
    stopped = op.ended(run, reason, held_by)
    seq = save_run(sql, SaveRun(op.scope, stopped, revision, op.at, key, op.owner))
    result.changed.append((seq, stopped))


def _with_progress(sql: Sql, run: Run) -> Run:
    """`run` with the steps its process noted after its last transition, if more."""
    row = sql.execute("SELECT steps FROM progress WHERE run_id = ?", (run.id,)).fetchone()
    if row is None or int(row[0]) <= run.steps:
        return run
    return msgspec.structs.replace(run, steps=int(row[0]))


def _automation(body: object) -> Automation | None:
    return from_msgpack(body, Automation) if isinstance(body, bytes) else None
