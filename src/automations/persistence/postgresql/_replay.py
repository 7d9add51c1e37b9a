"""Rebuilding the projections from the journal, and reading them for comparison."""

from __future__ import annotations

from typing import Any

from .._operations import Replay
from ._connection import Connection
from ._projection import apply_entry, journal_entries

__all__ = ["projection_rows", "replay"]

_PROJECTIONS = ("automations", "runs")
_PAGE = 5_000


def replay(connection: Connection, op: Replay) -> int:
    """As on SQLite: the unique indexes hold for the rows as they are, not for every
    revision on the way, so they are dropped while the entries replay and made again
    after (DDL is transactional in PostgreSQL: a failure leaves them as they were)."""
    unique = connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = ANY(%s) AND indexdef LIKE 'CREATE UNIQUE INDEX%%'"
        " AND indexname NOT LIKE '%%\\_pkey'",
        (list(_PROJECTIONS),),
    ).fetchall()
    for name, _ in unique:
        connection.execute(f'DROP INDEX "{name}"')
    for table in _PROJECTIONS:
        connection.execute(f"DELETE FROM {table}")
    count = after = 0
    while entries := journal_entries(connection, after, _PAGE):
        with connection.pipeline():  # a page's statements in one round trip, not one each
            for entry in entries:
                apply_entry(connection, entry)
        count += len(entries)
        after = entries[-1].seq
    for _, sql in unique:
        connection.execute(sql)
    return count


def projection_rows(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row, in a stable order, to compare two states exactly."""
    return {
        table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        for table in _PROJECTIONS
    }
