"""How the SQLite writer applies an operation: the shared SQL (`persistence._sql`),
plus SQLite's own `Pragma`, each in a SAVEPOINT when it must fail alone."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import apsw

from .._operations import Operation
from .._sql import KeyTaken
from .._sql import apply as apply_sql
from ._connection import storage_error
from ._pragma import Pragma, pragma
from ._sql import SqliteSql

__all__ = ["Apply", "apply", "apply_in_savepoint"]

Apply = Callable[[SqliteSql, Operation[Any]], Any]
"""How a writer applies one operation in its open transaction."""


def apply(sql: SqliteSql, operation: Operation[Any]) -> Any:
    """Do `operation`'s write; raise to have it rolled back alone."""
    if type(operation) is Pragma:
        return pragma(sql.connection, operation)
    return apply_sql(sql, operation)


def apply_in_savepoint(
    connection: apsw.Connection,
    operation: Operation[Any],
    path: str,
    *,
    how: Apply = apply,
    cursor: apsw.Cursor | None = None,
    sql: SqliteSql | None = None,
) -> Any:
    """Run `operation` in a SAVEPOINT of the open transaction; on failure undo it alone.

    `cursor`, when given, runs the savepoint statements (reusing one saves a cursor
    allocation per statement on the writer's hot path); `sql`, the writer's for the
    batch (see `SqliteSql`).
    """
    control = cursor if cursor is not None else connection.cursor()
    sql = SqliteSql(connection) if sql is None else sql
    try:
        control.execute("SAVEPOINT operation")
        result = how(sql, operation)
        control.execute("RELEASE operation")
    except Exception as exc:
        _undo(connection)
        sql.rolled_back()
        if isinstance(exc, KeyTaken):
            raise exc.named(sql) from None
        if isinstance(exc, apsw.Error):
            raise storage_error(exc, path) from exc
        raise
    return result


def _undo(connection: apsw.Connection) -> None:
    if connection.get_autocommit():  # SQLite already rolled the whole transaction back
        return
    try:
        connection.execute("ROLLBACK TO operation")
        connection.execute("RELEASE operation")
    except apsw.Error:
        with contextlib.suppress(apsw.Error):
            connection.execute("ROLLBACK")
