"""How the writes of runs are applied: one insert for a new run with the transitions
it went through at once, one compare-and-swap update for each next one (`WHERE
revision = ... AND state IN (...)`, and the lease epoch checked in the same
transaction)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ...model import (
    PREDECESSORS,
    BlockerAnswered,
    Conflict,
    KeyHolder,
    NotFound,
    RunState,
    Scope,
    WriterKeyBusy,
    check_transition,
    to_ms,
    to_msgpack,
)
from .._journal import RUN_UPDATED
from .._operations import check_revision, require
from .._run_operations import CreateRun, SaveRun
from ._connection import Sql
from ._lease_writes import check_epoch
from ._projection import append_journal, append_journal_many, executed_slot, insert_run_row

__all__ = ["TRANSITION_SQL", "KeyTaken", "create_run", "key_holder", "save_run"]


class KeyTaken(WriterKeyBusy):
    """The writer key is held: raised from the failed statement, after which
    PostgreSQL reads nothing more in the transaction; the writer names the holder once
    it rolled back to the operation's savepoint (`named`)."""

    def __init__(self, key: str) -> None:
        super().__init__("another active run holds this writer key")
        self.key = key

    def named(self, sql: Sql) -> WriterKeyBusy:
        holder = key_holder(sql, self.key)
        where = "" if holder is None else f" (run {holder.run_id}, {holder.state})"
        return WriterKeyBusy(f"another active run holds this writer key{where}", holder)


def create_run(sql: Sql, op: CreateRun) -> list[int]:
    check_epoch(sql, op.scope, op.epoch)
    op.check()
    if op.after is not None:
        _check_after(sql, op.scope, *op.after)
    bodies = [to_msgpack(run) for run in op.revisions]
    last = op.revisions[-1]
    key, owner = op.holders(last)
    with _naming_the_holder(sql, key):
        inserted = insert_run_row(sql, op.scope, last, bodies[-1], writer_key=key, owner=owner)
    if not inserted:
        raise NotFound(f"no automation {last.automation_id} in this project and directory")
    entries = []
    for run, at, body in zip(op.revisions, op.at, bodies, strict=True):
        key, owner = op.holders(run)
        entries.append((to_ms(at), run.id, run.revision, body, key, owner))
    return append_journal_many(sql, op.scope, RUN_UPDATED, entries)


def save_run(sql: Sql, op: SaveRun) -> int:
    if op.unanswered is not None:
        _check_unanswered(sql, op.scope, op.run.id, op.unanswered)
    if op.expected_revision is None:
        return create_run(sql, op.as_create())[0]
    check_epoch(sql, op.scope, op.epoch)
    run, expected = op.run, op.expected_revision
    require(run.revision == expected + 1, "a transition adds 1 to the revision")
    body = to_msgpack(run)
    writer_key, owner = op.holders()
    with _naming_the_holder(sql, writer_key):
        sql.execute(
            TRANSITION_SQL[run.state],
            (
                run.revision,
                run.state.value,
                executed_slot(run),
                None if run.missed is None else to_ms(run.missed.first),
                writer_key,
                owner,
                body,
                run.id,
                op.scope.project,
                op.scope.directory,
                expected,
            ),
        )
    if sql.changes() == 0:
        _diagnose(sql, op, expected)
    entry = (to_ms(op.at), run.id, run.revision, body, writer_key, owner)
    return append_journal(sql, op.scope, RUN_UPDATED, entry)


@contextlib.contextmanager
def _naming_the_holder(sql: Sql, key: str | None) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if key is None or sql.unique_index(exc) != "runs_writer_key":
            raise
        raise KeyTaken(key) from None


def _diagnose(sql: Sql, op: SaveRun, expected: int) -> None:
    run = op.run
    row = sql.execute(
        "SELECT revision, state FROM runs WHERE id = ? AND project = ? AND directory = ?",
        (run.id, op.scope.project, op.scope.directory),
    ).fetchone()
    if row is None:
        raise NotFound(f"no run {run.id} in this project and directory")
    check_revision("run", run.id, int(row[0]), expected)
    check_transition(RunState(row[1]), run.state)
    raise AssertionError("the transition matched but changed nothing")  # pragma: no cover


def _check_after(sql: Sql, scope: Scope, run_id: str, revision: int) -> None:
    row = sql.execute(
        "SELECT revision FROM runs WHERE id = ? AND project = ? AND directory = ?",
        (run_id, scope.project, scope.directory),
    ).fetchone()
    if row is None or int(row[0]) != revision:
        raise Conflict(
            f"run {run_id} is not at revision {revision}: its end was not recorded, so "
            "its next attempt is not either"
        )


def _check_unanswered(sql: Sql, scope: Scope, run_id: str, blocker: str) -> None:
    row = sql.execute(
        "SELECT 1 FROM answers WHERE run_id = ? AND blocker_id = ? AND project = ?"
        " AND directory = ?",
        (run_id, blocker, scope.project, scope.directory),
    ).fetchone()
    if row is not None:
        raise BlockerAnswered(
            f"blocker {blocker} of run {run_id} was answered before its timeout; "
            "the run goes on with the answer"
        )


def _transition_sql(state: RunState) -> str:
    allowed = ", ".join(f"'{s.value}'" for s in sorted(PREDECESSORS[state]))
    return (
        "UPDATE runs SET revision = ?, state = ?, slot = ?, missed_first = ?,"
        " writer_key = ?, owner = ?, body = ?"
        " WHERE id = ? AND project = ? AND directory = ? AND revision = ?"
        f" AND state IN ({allowed or 'NULL'})"
    )


TRANSITION_SQL = {state: _transition_sql(state) for state in RunState}


def key_holder(sql: Sql, key: str) -> KeyHolder | None:
    """The active run holding writer key `key`, if one does."""
    row = sql.execute(
        "SELECT id, automation_id, state FROM runs WHERE writer_key = ?", (key,)
    ).fetchone()
    if row is None:
        return None
    run_id, automation_id, state = row
    return KeyHolder(run_id=str(run_id), automation_id=str(automation_id), state=RunState(state))
