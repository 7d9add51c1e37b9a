"""Copying a store into this one, and reading this one for a copy (`_transfer.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import apsw

from ...model import StorageError
from .._facts import Query
from .._transfer import ImportJournal, ImportRows, insert_sql

__all__ = ["import_journal", "import_rows", "journal_head", "query_of"]


def query_of(connection: apsw.Connection) -> Query:
    def query(sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in connection.execute(sql, tuple(parameters))]

    return query


def journal_head(connection: apsw.Connection) -> int:
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
    return int(row[0]) if row else 0


def import_journal(connection: apsw.Connection, op: ImportJournal) -> int:
    """Entries keep their sequence numbers; AUTOINCREMENT goes on after the last (and
    after `op.head`)."""
    if op.head > journal_head(connection):
        connection.execute("DELETE FROM sqlite_sequence WHERE name = 'journal'")
        connection.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('journal', ?)", (op.head,)
        )
    if not op.entries:
        return 0
    row = connection.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()
    head = int(row[0]) if row else 0
    if op.entries[0].seq <= head:
        raise StorageError(
            f"cannot import journal entry {op.entries[0].seq}: the journal is already at {head}"
        )
    connection.executemany(insert_sql("journal"), [tuple(entry) for entry in op.entries])
    return len(op.entries)


def import_rows(connection: apsw.Connection, op: ImportRows) -> int:
    connection.executemany(insert_sql(op.table), op.rows)
    return len(op.rows)
