"""Journal entries and the projection rows they imply, shared by writes and replay.

A projection row is a function of one journal entry: its body plus the columns the
body does not carry (scope, writer key, owner). Writing both through these helpers is
what makes `replay()` rebuild the projections exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import apsw

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

__all__ = [
    "_JOURNAL_COLUMNS",
    "append_journal",
    "append_journal_many",
    "apply_entry",
    "delete_automation_row",
    "executed_slot",
    "insert_automation_rows",
    "journal_entries",
    "put_automation_row",
    "insert_run_row",
    "update_automation_row",
    "put_run_row",
]

_JOURNAL_COLUMNS = "seq, at, kind, entity_id, revision, project, directory, writer_key, owner, body"


def append_journal(
    connection: apsw.Connection,
    *,
    at: int,
    kind: str,
    entity_id: str,
    revision: int,
    scope: Scope,
    body: bytes,
    writer_key: str | None = None,
    owner: str | None = None,
) -> int:
    """Append one entry; its sequence number."""
    connection.execute(
        "INSERT INTO journal (at, kind, entity_id, revision, project, directory,"
        " writer_key, owner, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at, kind, entity_id, revision, scope.project, scope.directory, writer_key, owner, body),
    )
    return connection.last_insert_rowid()


def append_journal_many(
    connection: apsw.Connection,
    scope: Scope,
    kind: str,
    entries: Sequence[tuple[int, str, int, bytes, str | None, str | None]],
) -> int:
    """Append `(at, entity_id, revision, body, writer_key, owner)` entries of one kind;
    the last one's sequence number (they are consecutive: the transaction holds the
    write lock)."""
    project, directory = scope.project, scope.directory
    connection.executemany(
        "INSERT INTO journal (at, kind, entity_id, revision, project, directory,"
        " writer_key, owner, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (at, kind, entity_id, revision, project, directory, writer_key, owner, body)
            for at, entity_id, revision, body, writer_key, owner in entries
        ],
    )
    return connection.last_insert_rowid()


def journal_entries(
    connection: apsw.Connection, after: int = 0, limit: int | None = None
) -> Iterator[JournalEntry]:
    sql = f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE seq > ? ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    for row in connection.execute(sql, (after,)):
        yield JournalEntry(*row)


def put_automation_row(
    connection: apsw.Connection, scope: Scope, automation: Automation, body: bytes
) -> None:
    next_fire_at = None if automation.next_fire_at is None else to_ms(automation.next_fire_at)
    connection.execute(
        "INSERT INTO automations (id, project, directory, revision, updated_at, next_fire_at,"
        " body, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
        " revision = excluded.revision, updated_at = excluded.updated_at,"
        " next_fire_at = excluded.next_fire_at, body = excluded.body, key = excluded.key",
        (
            automation.id,
            scope.project,
            scope.directory,
            automation.revision,
            to_ms(automation.updated_at),
            next_fire_at,
            body,
            automation.key,
        ),
    )


def update_automation_row(
    connection: apsw.Connection,
    scope: Scope,
    automation: Automation,
    body: bytes,
    expected_revision: int,
) -> bool:
    """Compare-and-swap the row of `automation` in `scope`; False when no row of that
    scope is at `expected_revision` (one statement: the caller diagnoses a miss)."""
    next_fire_at = None if automation.next_fire_at is None else to_ms(automation.next_fire_at)
    connection.execute(
        "UPDATE automations SET revision = ?, updated_at = ?, next_fire_at = ?, body = ?"
        " WHERE id = ? AND project = ? AND directory = ? AND revision = ?",
        (
            automation.revision,
            to_ms(automation.updated_at),
            next_fire_at,
            body,
            automation.id,
            scope.project,
            scope.directory,
            expected_revision,
        ),
    )
    return connection.changes() > 0


def insert_automation_rows(
    connection: apsw.Connection,
    scope: Scope,
    automations: Sequence[Automation],
    bodies: Sequence[bytes],
) -> None:
    """New automations' rows; an id already taken is a constraint error (a conflict)."""
    project, directory = scope.project, scope.directory
    connection.executemany(
        "INSERT INTO automations (id, project, directory, revision, updated_at, next_fire_at,"
        " body, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                a.id,
                project,
                directory,
                a.revision,
                to_ms(a.updated_at),
                None if a.next_fire_at is None else to_ms(a.next_fire_at),
                body,
                a.key,
            )
            for a, body in zip(automations, bodies, strict=True)
        ],
    )


def delete_automation_row(connection: apsw.Connection, automation_id: str) -> None:
    connection.execute("DELETE FROM automations WHERE id = ?", (automation_id,))


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
_INSERT_RUN_OF_AUTOMATION = (
    f"{_INTO_RUNS} SELECT {_RUN_PARAMETERS} WHERE EXISTS (SELECT 1 FROM automations"
    " WHERE id = ? AND project = ? AND directory = ?)"
)


def insert_run_row(
    connection: apsw.Connection,
    scope: Scope,
    run: Run,
    body: bytes,
    *,
    writer_key: str | None,
    owner: str | None,
) -> bool:
    """A new run's row, if its automation exists in `scope` (False when it does not);
    an existing id is a constraint error (a conflict)."""
    connection.execute(
        _INSERT_RUN_OF_AUTOMATION,
        (
            *_run_values(scope, run, body, writer_key, owner),
            run.automation_id,
            scope.project,
            scope.directory,
        ),
    )
    return connection.changes() > 0


def put_run_row(
    connection: apsw.Connection,
    scope: Scope,
    run: Run,
    body: bytes,
    *,
    writer_key: str | None,
    owner: str | None,
) -> None:
    """The run's row as of `run`, inserted or replaced (used by replay)."""
    connection.execute(
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


def apply_entry(connection: apsw.Connection, entry: JournalEntry) -> None:
    """Make the projections reflect one journal entry (used by replay)."""
    scope = Scope(entry.project, entry.directory)
    if entry.kind == AUTOMATION_UPDATED:
        automation = from_msgpack(entry.body, Automation)
        put_automation_row(connection, scope, automation, entry.body)
    elif entry.kind == AUTOMATION_DELETED:
        tombstone = from_msgpack(entry.body, Tombstone)
        delete_automation_row(connection, tombstone.id)
    elif entry.kind == RUN_UPDATED:
        run = from_msgpack(entry.body, Run)
        put_run_row(
            connection, scope, run, entry.body, writer_key=entry.writer_key, owner=entry.owner
        )
    else:
        raise ValueError(f"journal entry {entry.seq} has unknown kind {entry.kind!r}")
