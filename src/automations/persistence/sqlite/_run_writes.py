"""How SQLite applies the writes of runs: one insert for a new run with the
transitions it went through at once, one compare-and-swap update for each next one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import apsw

from ...model import (
    PREDECESSORS,
    BlockerAnswered,
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
from ._lease_writes import check_epoch
from ._projection import append_journal, append_journal_many, executed_slot, insert_run_row

__all__ = ["create_run", "key_holder", "save_run"]


def create_run(connection: apsw.Connection, op: CreateRun) -> list[int]:
    check_epoch(connection, op.scope, op.epoch)
    op.check()
    bodies = [to_msgpack(run) for run in op.revisions]
    last = op.revisions[-1]
    key, owner = op.holders(last)
    with _naming_the_holder(connection, key):
        inserted = insert_run_row(
            connection, op.scope, last, bodies[-1], writer_key=key, owner=owner
        )
    if not inserted:
        raise NotFound(f"no automation {last.automation_id} in this project and directory")
    entries = []
    for run, at, body in zip(op.revisions, op.at, bodies, strict=True):
        key, owner = op.holders(run)
        entries.append((to_ms(at), run.id, run.revision, body, key, owner))
    seq = append_journal_many(connection, op.scope, RUN_UPDATED, entries)
    return list(range(seq - len(entries) + 1, seq + 1))


def save_run(connection: apsw.Connection, op: SaveRun) -> int:
    if op.unanswered is not None:
        _check_unanswered(connection, op.scope, op.run.id, op.unanswered)
    if op.expected_revision is None:  # a new run: one way to create one
        return create_run(connection, op.as_create())[0]
    check_epoch(connection, op.scope, op.epoch)
    run = op.run
    body = to_msgpack(run)
    writer_key, owner = op.holders()
    _update(connection, op, op.expected_revision, body, writer_key, owner)
    return append_journal(
        connection,
        at=to_ms(op.at),
        kind=RUN_UPDATED,
        entity_id=run.id,
        revision=run.revision,
        scope=op.scope,
        body=body,
        writer_key=writer_key,
        owner=owner,
    )


def _update(
    connection: apsw.Connection,
    op: SaveRun,
    expected: int,
    body: bytes,
    writer_key: str | None,
    owner: str | None,
) -> None:
    """Compare-and-swap in one statement; diagnose only when it changed nothing."""
    run = op.run
    require(run.revision == expected + 1, "a transition adds 1 to the revision")
    with _naming_the_holder(connection, writer_key):
        _execute_transition(connection, op, expected, body, writer_key, owner)
    if connection.changes() == 0:
        _diagnose(connection, op, expected)


def _execute_transition(
    connection: apsw.Connection,
    op: SaveRun,
    expected: int,
    body: bytes,
    writer_key: str | None,
    owner: str | None,
) -> None:
    run = op.run
    connection.execute(
        _TRANSITION_SQL[run.state],
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


@contextlib.contextmanager
def _naming_the_holder(connection: apsw.Connection, key: str | None) -> Iterator[None]:
    """A write refused for its writer key says which run holds the key, and its state
    (read only then: the common case costs nothing)."""
    try:
        yield
    except apsw.ConstraintError as exc:
        if key is None or "runs.writer_key" not in str(exc):
            raise
        holder = key_holder(connection, key)
        where = "" if holder is None else f" (run {holder.run_id}, {holder.state})"
        raise WriterKeyBusy(f"another active run holds this writer key{where}", holder) from None


def _diagnose(connection: apsw.Connection, op: SaveRun, expected: int) -> None:
    run = op.run
    row = connection.execute(
        "SELECT revision, state FROM runs WHERE id = ? AND project = ? AND directory = ?",
        (run.id, op.scope.project, op.scope.directory),
    ).fetchone()
    if row is None:
        raise NotFound(f"no run {run.id} in this project and directory")
    check_revision("run", run.id, int(row[0]), expected)
    check_transition(RunState(row[1]), run.state)
    raise AssertionError("the transition matched but changed nothing")  # pragma: no cover


def _check_unanswered(connection: apsw.Connection, scope: Scope, run_id: str, blocker: str) -> None:
    row = connection.execute(
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
        "UPDATE runs SET revision = ?, state = ?, slot = ?, missed_first = ?, writer_key = ?,"
        " owner = ?, body = ?"
        " WHERE id = ? AND project = ? AND directory = ? AND revision = ?"
        f" AND state IN ({allowed or 'NULL'})"
    )


_TRANSITION_SQL = {state: _transition_sql(state) for state in RunState}


def key_holder(connection: apsw.Connection, key: str) -> KeyHolder | None:
    """The active run holding writer key `key`, if one does."""
    row = connection.execute(
        "SELECT id, automation_id, state FROM runs WHERE writer_key = ?", (key,)
    ).fetchone()
    if row is None:
        return None
    run_id, automation_id, state = row
    return KeyHolder(run_id=str(run_id), automation_id=str(automation_id), state=RunState(state))
