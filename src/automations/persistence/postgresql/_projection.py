"""Journal entries and the projection rows they imply, shared by writes and replay
(as `sqlite/_projection.py`: a projection row is a function of one journal entry)."""

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
from ._connection import Connection

__all__ = [
    "JOURNAL_COLUMNS",
    "append_journal",
    "append_journal_many",
    "apply_entry",
    "executed_slot",
    "insert_automation_rows",
    "insert_run_row",
    "journal_entries",
    "put_automation_row",
    "update_automation_row",
]

JOURNAL_COLUMNS = "seq, at, kind, entity_id, revision, project, directory, writer_key, owner, body"
JournalValues = tuple[int, str, int, bytes, str | None, str | None]
"""(at, entity_id, revision, body, writer_key, owner) of one entry."""


def append_journal(connection: Connection, scope: Scope, kind: str, entry: JournalValues) -> int:
    """Append one entry; its sequence number."""
    return append_journal_many(connection, scope, kind, [entry])[-1]


def append_journal_many(
    connection: Connection, scope: Scope, kind: str, entries: Sequence[JournalValues]
) -> list[int]:
    """Append entries of one kind in one statement; their sequence numbers, in order."""
    marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(entries))
    values: list[object] = []
    for at, entity_id, revision, body, writer_key, owner in entries:
        values += [at, kind, entity_id, revision, scope.project, scope.directory]
        values += [writer_key, owner, body]
    rows = connection.execute(
        "INSERT INTO journal (at, kind, entity_id, revision, project, directory,"
        f" writer_key, owner, body) VALUES {marks} RETURNING seq",
        values,
    ).fetchall()
    return sorted(int(row[0]) for row in rows)  # one statement under the journal lock


def journal_entries(
    connection: Connection, after: int = 0, limit: int | None = None
) -> list[JournalEntry]:
    sql = f"SELECT {JOURNAL_COLUMNS} FROM journal WHERE seq > %s ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [JournalEntry(*row) for row in connection.execute(sql, (after,))]


def _automation_values(scope: Scope, a: Automation, body: bytes) -> tuple[object, ...]:
    next_fire_at = None if a.next_fire_at is None else to_ms(a.next_fire_at)
    updated = to_ms(a.updated_at)
    return (a.id, scope.project, scope.directory, a.revision, updated, next_fire_at, body, a.key)


_INTO_AUTOMATIONS = (
    "INSERT INTO automations (id, project, directory, revision, updated_at, next_fire_at,"
    " body, key) VALUES "
)
_AUTOMATION_MARKS = "(%s, %s, %s, %s, %s, %s, %s, %s)"


def put_automation_row(
    connection: Connection, scope: Scope, automation: Automation, body: bytes
) -> None:
    connection.execute(
        _INTO_AUTOMATIONS + _AUTOMATION_MARKS + " ON CONFLICT (id) DO UPDATE SET"
        " revision = excluded.revision, updated_at = excluded.updated_at,"
        " next_fire_at = excluded.next_fire_at, body = excluded.body, key = excluded.key",
        _automation_values(scope, automation, body),
    )


def update_automation_row(
    connection: Connection, scope: Scope, automation: Automation, body: bytes, expected: int
) -> bool:
    """Compare-and-swap the row; False when no row of `scope` is at `expected`."""
    next_fire_at = None if automation.next_fire_at is None else to_ms(automation.next_fire_at)
    cursor = connection.execute(
        "UPDATE automations SET revision = %s, updated_at = %s, next_fire_at = %s, body = %s"
        " WHERE id = %s AND project = %s AND directory = %s AND revision = %s",
        (
            automation.revision,
            to_ms(automation.updated_at),
            next_fire_at,
            body,
            automation.id,
            scope.project,
            scope.directory,
            expected,
        ),
    )
    return cursor.rowcount > 0


def insert_automation_rows(
    connection: Connection, scope: Scope, automations: Sequence[Automation], bodies: Sequence[bytes]
) -> None:
    """New automations' rows in one statement; a taken id is a unique violation."""
    values: list[object] = []
    for automation, body in zip(automations, bodies, strict=True):
        values += _automation_values(scope, automation, body)
    marks = ", ".join([_AUTOMATION_MARKS] * len(automations))
    connection.execute(_INTO_AUTOMATIONS + marks, values)


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
_RUN_MARKS = "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"


def insert_run_row(
    connection: Connection,
    scope: Scope,
    run: Run,
    body: bytes,
    *,
    writer_key: str | None,
    owner: str | None,
) -> bool:
    """A new run's row, if its automation exists in `scope` (False when it does not)."""
    cursor = connection.execute(
        f"{_INTO_RUNS} SELECT {_RUN_MARKS} WHERE EXISTS (SELECT 1 FROM automations"
        " WHERE id = %s AND project = %s AND directory = %s)",
        (
            *_run_values(scope, run, body, writer_key, owner),
            run.automation_id,
            scope.project,
            scope.directory,
        ),
    )
    return cursor.rowcount > 0


def put_run_row(
    connection: Connection,
    scope: Scope,
    run: Run,
    body: bytes,
    *,
    writer_key: str | None,
    owner: str | None,
) -> None:
    """The run's row as of `run`, inserted or replaced (used by replay)."""
    connection.execute(
        f"{_INTO_RUNS} VALUES ({_RUN_MARKS}) ON CONFLICT (id) DO UPDATE SET"
        " revision = excluded.revision, state = excluded.state, slot = excluded.slot,"
        " missed_first = excluded.missed_first, writer_key = excluded.writer_key,"
        " owner = excluded.owner, body = excluded.body",
        _run_values(scope, run, body, writer_key, owner),
    )


def executed_slot(run: Run) -> int | None:
    """The slot a run takes in the once-per-slot index (see `sqlite/_projection.py`)."""
    if run.slot is None or run.stop_reason is StopReason.MISSED_SCHEDULE:
        return None
    return to_ms(run.triggered_at)


def apply_entry(connection: Connection, entry: JournalEntry) -> None:
    """Make the projections reflect one journal entry (used by replay)."""
    scope = Scope(entry.project, entry.directory)
    if entry.kind == AUTOMATION_UPDATED:
        automation = from_msgpack(entry.body, Automation)
        put_automation_row(connection, scope, automation, entry.body)
    elif entry.kind == AUTOMATION_DELETED:
        tombstone = from_msgpack(entry.body, Tombstone)
        connection.execute("DELETE FROM automations WHERE id = %s", (tombstone.id,))
    elif entry.kind == RUN_UPDATED:
        run = from_msgpack(entry.body, Run)
        put_run_row(
            connection, scope, run, entry.body, writer_key=entry.writer_key, owner=entry.owner
        )
    else:
        raise ValueError(f"journal entry {entry.seq} has unknown kind {entry.kind!r}")
