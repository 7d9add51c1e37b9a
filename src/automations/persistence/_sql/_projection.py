"""Journal entries and the projection rows they imply, shared by writes and replay.

A projection row is a function of one journal entry: its body plus the columns the
body does not carry (scope, writer key, owner). Writing both through these helpers is
what makes `replay()` rebuild the projections exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...model import (
    Automation,
    Run,
    Scope,
    StopReason,
    Tombstone,
    from_msgpack,
    to_ms,
)
from .._journal import AUTOMATION_DELETED, AUTOMATION_UPDATED, RUN_UPDATED, JournalEntry
from .._shards import shard_of
from ._connection import JOURNAL_COLUMNS, Sql, chunks

__all__ = [
    "INSERT_RUN_OF_AUTOMATION",
    "JOURNAL_COLUMNS",
    "JournalValues",
    "append_journal",
    "append_journal_many",
    "apply_entry",
    "delete_automation_row",
    "executed_slot",
    "insert_automation_rows",
    "insert_run_row",
    "journal_entries",
    "put_automation_row",
    "put_run_row",
    "UPDATE_AUTOMATION",
    "UPDATE_AUTOMATION_WITH_RUN",
    "update_automation_row",
]

JournalValues = tuple[int, str, int, bytes, str | None, str | None]
"""(at, entity_id, revision, body, writer_key, owner) of one entry."""

_INTO_JOURNAL = (
    "INSERT INTO journal (at, kind, entity_id, revision, project, directory, writer_key,"
    " owner, body) VALUES "
)
_JOURNAL_MARKS = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
_APPEND_ONE = _INTO_JOURNAL + _JOURNAL_MARKS + " RETURNING seq"


def append_journal(sql: Sql, scope: Scope, kind: str, entry: JournalValues) -> int:
    """Append one entry; its sequence number."""
    at, entity_id, revision, body, writer_key, owner = entry
    values = (at, kind, entity_id, revision, scope.project, scope.directory, writer_key, owner)
    numbers = sql.next_seqs(1)
    if numbers is not None:
        sql.insert_journal([(numbers[0], *values, body)])
        return numbers[0]
    row = sql.execute(_APPEND_ONE, (*values, body)).fetchone()
    return int(row[0])


def append_journal_many(
    sql: Sql, scope: Scope, kind: str, entries: Sequence[JournalValues]
) -> list[int]:
    """Append entries of one kind, a few statements for the lot; their sequence
    numbers, in order (the writer's transaction is the only one drawing them)."""
    if len(entries) == 1:  # one created by hand: a cached statement, no list to sort
        return [append_journal(sql, scope, kind, entries[0])]
    seqs: list[int] = []
    for chunk in chunks(entries):
        numbers = sql.next_seqs(len(chunk))
        if numbers is not None:
            _append_numbered(sql, scope, kind, chunk, numbers)
            seqs += numbers
            continue
        values: list[object] = []
        for at, entity_id, revision, body, writer_key, owner in chunk:
            values += (at, kind, entity_id, revision, scope.project, scope.directory)
            values += (writer_key, owner, body)
        marks = ", ".join([_JOURNAL_MARKS] * len(chunk))
        rows = sql.execute(f"{_INTO_JOURNAL}{marks} RETURNING seq", values).fetchall()
        seqs += sorted(int(row[0]) for row in rows)  # RETURNING promises no order
    return seqs


def _append_numbered(
    sql: Sql, scope: Scope, kind: str, entries: Sequence[JournalValues], numbers: range
) -> None:
    project, directory = scope.project, scope.directory
    sql.insert_journal(
        [
            (seq, at, kind, entity_id, revision, project, directory, writer_key, owner, body)
            for seq, (at, entity_id, revision, body, writer_key, owner) in zip(
                numbers, entries, strict=True
            )
        ]
    )


def journal_entries(sql: Sql, after: int = 0, limit: int | None = None) -> list[JournalEntry]:
    statement = f"SELECT {JOURNAL_COLUMNS} FROM journal WHERE seq > ? ORDER BY seq"
    if limit is not None:
        statement += f" LIMIT {int(limit)}"
    return [JournalEntry(*row) for row in sql.execute(statement, (after,))]


def put_automation_row(sql: Sql, scope: Scope, automation: Automation, body: bytes) -> None:
    sql.execute(
        _INSERT_ONE + " ON CONFLICT (id) DO UPDATE SET"
        " revision = excluded.revision, updated_at = excluded.updated_at,"
        " next_fire_at = excluded.next_fire_at, body = excluded.body, key = excluded.key,"
        " shard = excluded.shard",
        _automation_values(scope, automation, body),
    )


def update_automation_row(
    sql: Sql,
    scope: Scope,
    automation: Automation,
    body: bytes,
    expected_revision: int,
    slot_with_run: int | None = None,
) -> bool:
    """Compare-and-swap the row of `automation` in `scope`; False when no row of that
    scope is at `expected_revision`, or `slot_with_run` has no run (one statement: the
    caller diagnoses a miss)."""
    next_fire_at = None if automation.next_fire_at is None else to_ms(automation.next_fire_at)
    parameters: tuple[object, ...] = (
        automation.revision,
        to_ms(automation.updated_at),
        next_fire_at,
        body,
        automation.id,
        scope.project,
        scope.directory,
        expected_revision,
    )
    statement = UPDATE_AUTOMATION
    if slot_with_run is not None:
        statement = UPDATE_AUTOMATION_WITH_RUN
        parameters += (automation.id, slot_with_run)
    sql.execute(statement, parameters)
    return sql.changes() > 0


UPDATE_AUTOMATION = (
    "UPDATE automations SET revision = ?, updated_at = ?, next_fire_at = ?, body = ?"
    " WHERE id = ? AND project = ? AND directory = ? AND revision = ?"
)
UPDATE_AUTOMATION_WITH_RUN = (
    UPDATE_AUTOMATION + " AND EXISTS (SELECT 1 FROM runs WHERE automation_id = ? AND slot = ?)"
)
"""The hot statements of a batch (these two, `INSERT_RUN_OF_AUTOMATION` and
`_run_writes.TRANSITION_SQL`) are named: a store may send many of one in a single
multi-row statement (PostgreSQL's writer does, see `postgresql/_batched.py`)."""


def insert_automation_rows(
    sql: Sql, scope: Scope, automations: Sequence[Automation], bodies: Sequence[bytes]
) -> None:
    """New automations' rows, a few statements for the lot; an id already taken is a
    unique violation (a conflict)."""
    if len(automations) == 1:  # one created by hand
        sql.execute(_INSERT_ONE, _automation_values(scope, automations[0], bodies[0]))
        return
    rows = list(zip(automations, bodies, strict=True))
    for chunk in chunks(rows):
        values: list[object] = []
        for automation, body in chunk:
            values += _automation_values(scope, automation, body)
        marks = ", ".join([_AUTOMATION_PARAMETERS] * len(chunk))
        sql.execute(_INTO_AUTOMATIONS + marks, values)


def _automation_values(scope: Scope, a: Automation, body: bytes) -> tuple[object, ...]:
    next_fire_at = None if a.next_fire_at is None else to_ms(a.next_fire_at)
    updated = to_ms(a.updated_at)
    return (
        a.id,
        scope.project,
        scope.directory,
        a.revision,
        updated,
        next_fire_at,
        body,
        a.key,
        shard_of(scope),
    )


_INTO_AUTOMATIONS = (
    "INSERT INTO automations (id, project, directory, revision, updated_at, next_fire_at,"
    " body, key, shard) VALUES "
)
_AUTOMATION_PARAMETERS = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"  # as `_automation_values` orders them
_INSERT_ONE = _INTO_AUTOMATIONS + _AUTOMATION_PARAMETERS


def delete_automation_row(sql: Sql, automation_id: str) -> None:
    sql.execute("DELETE FROM automations WHERE id = ?", (automation_id,))


def _run_values(
    scope: Scope, run: Run, body: bytes, writer_key: str | None, owner: str | None
) -> tuple[object, ...]:
    active = run.state.is_active
    return (
        run.id,
        run.automation_id,
        scope.project,
        scope.directory,
        run.revision,
        run.state.value,
        to_ms(run.triggered_at),
        executed_slot(run),
        None if run.missed is None else to_ms(run.missed.first),
        writer_key if active else None,
        owner if active else None,
        body,
    )


_INTO_RUNS = (
    "INSERT INTO runs (id, automation_id, project, directory, revision, state,"
    " triggered_at, slot, missed_first, writer_key, owner, body)"
)
_RUN_PARAMETERS = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"  # as `_run_values` orders them
_INSERT_RUN = f"{_INTO_RUNS} VALUES ({_RUN_PARAMETERS})"
INSERT_RUN_OF_AUTOMATION = (
    f"{_INTO_RUNS} SELECT {_RUN_PARAMETERS} WHERE EXISTS (SELECT 1 FROM automations"
    " WHERE id = ? AND project = ? AND directory = ?)"
)


def insert_run_row(
    sql: Sql,
    scope: Scope,
    run: Run,
    body: bytes,
    *,
    writer_key: str | None,
    owner: str | None,
) -> bool:
    """A new run's row, if its automation exists in `scope` (False when it does not);
    an existing id is a constraint error (a conflict)."""
    sql.execute(
        INSERT_RUN_OF_AUTOMATION,
        (
            *_run_values(scope, run, body, writer_key, owner),
            run.automation_id,
            scope.project,
            scope.directory,
        ),
    )
    return sql.changes() > 0


def put_run_row(
    sql: Sql,
    scope: Scope,
    run: Run,
    body: bytes,
    *,
    writer_key: str | None,
    owner: str | None,
) -> None:
    """The run's row as of `run`, inserted or replaced (used by replay)."""
    sql.execute(
        _INSERT_RUN + " ON CONFLICT (id) DO UPDATE SET revision = excluded.revision,"
        " state = excluded.state, slot = excluded.slot, missed_first = excluded.missed_first,"
        " writer_key = excluded.writer_key, owner = excluded.owner, body = excluded.body",
        _run_values(scope, run, body, writer_key, owner),
    )


def executed_slot(run: Run) -> int | None:
    """The slot a run takes in the once-per-slot index: none for a manual run, a retry or
    a missed record (which names its slots in `missed_first`)."""
    if run.slot is None or run.stop_reason is StopReason.MISSED_SCHEDULE:
        return None
    return to_ms(run.triggered_at)


def apply_entry(sql: Sql, entry: JournalEntry) -> None:
    """Make the projections reflect one journal entry (used by replay)."""
    scope = Scope(entry.project, entry.directory)
    if entry.kind == AUTOMATION_UPDATED:
        automation = from_msgpack(entry.body, Automation)
        put_automation_row(sql, scope, automation, entry.body)
    elif entry.kind == AUTOMATION_DELETED:
        tombstone = from_msgpack(entry.body, Tombstone)
        delete_automation_row(sql, tombstone.id)
    elif entry.kind == RUN_UPDATED:
        run = from_msgpack(entry.body, Run)
        put_run_row(sql, scope, run, entry.body, writer_key=entry.writer_key, owner=entry.owner)
    else:
        raise ValueError(f"journal entry {entry.seq} has unknown kind {entry.kind!r}")
