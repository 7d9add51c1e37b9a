"""The shared SQL's connection (`persistence._sql.Sql`) over a psycopg connection,
and the writer's way of applying an operation in its own SAVEPOINT."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors

from .._operations import Operation
from .._sql import KeyTaken, apply
from .._sql import projection_rows as shared_projection_rows
from ._connection import Connection, storage_error

__all__ = ["PostgresSql", "apply_in_savepoint", "projection_rows"]


@functools.lru_cache(maxsize=512)
def spelled(sql: str) -> str:
    """`sql` with psycopg's placeholders: `?` becomes `%s` (and a `%` is doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


_JOURNAL_SEQUENCE = "pg_get_serial_sequence('journal', 'seq')"


class PostgresSql:
    """psycopg, spoken the shared way: `?` placeholders, `changes()`, and the unique
    index that refused a row named by the server."""

    __slots__ = ("_changes", "connection")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._changes = 0

    def execute(self, sql: str, parameters: Sequence[object] = (), /) -> psycopg.Cursor[Any]:
        cursor = self.connection.execute(spelled(sql), parameters)
        if not sql.lstrip()[:6].upper().startswith("SELECT"):  # as SQLite: a query
            self._changes = max(cursor.rowcount, 0)  # leaves changes() as it was
        return cursor

    def changes(self) -> int:
        return self._changes

    def unique_index(self, error: BaseException) -> str | None:
        if not isinstance(error, errors.UniqueViolation):
            return None
        return error.diag.constraint_name or None

    def unique_indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        rows = self.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = ANY(?) AND indexdef LIKE 'CREATE UNIQUE INDEX%'"
            " AND indexname NOT LIKE '%\\_pkey'",
            (list(tables),),
        ).fetchall()
        return [(str(name), str(statement)) for name, statement in rows]

    def journal_head(self) -> int:
        row = self.execute(f"SELECT pg_sequence_last_value({_JOURNAL_SEQUENCE})").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def raise_journal_head(self, seq: int) -> None:
        # An identity goes on from its sequence, which rows given a number never move.
        if seq > self.journal_head():
            self.execute(f"SELECT setval({_JOURNAL_SEQUENCE}, ?)", (seq,))


def apply_in_savepoint(sql: PostgresSql, operation: Operation[Any], dsn: str) -> Any:
    """Run `operation` in a SAVEPOINT of the open transaction; on failure undo it alone
    and raise its error (named once the transaction is usable again)."""
    connection = sql.connection
    connection.execute("SAVEPOINT operation")
    try:
        result = apply(sql, operation)
    except Exception as exc:
        connection.execute("ROLLBACK TO SAVEPOINT operation")  # raises if the link broke
        if isinstance(exc, KeyTaken):
            raise exc.named(sql) from None
        if isinstance(exc, psycopg.Error):
            raise storage_error(exc, dsn) from exc
        raise
    connection.execute("RELEASE SAVEPOINT operation")
    return result


def projection_rows(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row, in a stable order, to compare two states exactly."""
    return shared_projection_rows(PostgresSql(connection))
