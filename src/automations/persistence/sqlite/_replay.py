"""Rebuilding the projections from the journal, and reading them for comparison."""

from __future__ import annotations

from typing import Any

import apsw

from .._operations import Replay
from ._projection import apply_entry, journal_entries

__all__ = ["projection_rows", "replay"]

_PROJECTIONS = ("automations", "runs")


def replay(connection: apsw.Connection, op: Replay) -> int:
    """A row is a function of its entity's last entry, and the unique indexes hold for
    the rows as they are, not for every revision on the way: a run recorded with the
    transitions it went through at once (`CreateRun`) never had its first revision's
    row. So the unique indexes are dropped while the entries replay and made again
    after, which checks them against the rebuilt rows."""
    unique = _unique_indexes(connection)
    for name, _ in unique:
        connection.execute(f'DROP INDEX "{name}"')
    for table in _PROJECTIONS:
        connection.execute(f"DELETE FROM {table}")
    count = 0
    for entry in journal_entries(connection):
        apply_entry(connection, entry)
        count += 1
    for _, sql in unique:
        connection.execute(sql)
    return count


def _unique_indexes(connection: apsw.Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the projections' unique indexes."""
    tables = ", ".join(f"'{table}'" for table in _PROJECTIONS)
    rows = connection.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
        f" AND tbl_name IN ({tables}) AND sql LIKE 'CREATE UNIQUE INDEX%'"
    ).fetchall()
    return [(str(name), str(sql)) for name, sql in rows]


def projection_rows(connection: apsw.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row, in a stable order, to compare two states exactly."""
    return {
        table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        for table in _PROJECTIONS
    }
