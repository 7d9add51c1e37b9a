"""Rebuilding the projections from the journal, and reading them for comparison."""

from __future__ import annotations

from typing import Any

from .._operations import Replay
from ._connection import Sql
from ._projection import apply_entry, journal_entries

__all__ = ["PROJECTIONS", "projection_rows", "replay"]

PROJECTIONS = ("automations", "runs")
_PAGE = 5_000


def replay(sql: Sql, op: Replay) -> int:
    """A row is a function of its entity's last entry, and the unique indexes hold for
    the rows as they are, not for every revision on the way: a run recorded with the
    transitions it went through at once (`CreateRun`) never had its first revision's
    row. So the unique indexes are dropped while the entries replay and made again
    after, which checks them against the rebuilt rows (both databases change their
    schema in the transaction: a failure leaves the indexes as they were)."""
    unique = sql.unique_indexes(PROJECTIONS)
    for name, _ in unique:
        sql.execute(f'DROP INDEX "{name}"')
    for table in PROJECTIONS:
        sql.execute(f"DELETE FROM {table}")
    count = after = 0
    while entries := journal_entries(sql, after, _PAGE):
        for entry in entries:
            apply_entry(sql, entry)
        count += len(entries)
        after = entries[-1].seq
    for _, statement in unique:
        sql.execute(statement)
    return count


def projection_rows(sql: Sql) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row, in a stable order, to compare two states exactly."""
    return {
        table: [tuple(row) for row in sql.execute(f"SELECT * FROM {table} ORDER BY id")]
        for table in PROJECTIONS
    }
