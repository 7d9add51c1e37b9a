"""Copying a store into this one, and reading this one for a copy (`_transfer.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...model import StorageError
from .._facts import Query
from .._transfer import ImportJournal, ImportRows, insert_sql
from ._connection import Connection

__all__ = ["import_journal", "import_rows", "journal_head", "query_of"]

_SEQUENCE = "pg_get_serial_sequence('journal', 'seq')"


def query_of(connection: Connection) -> Query:
    def query(sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        return list(connection.execute(sql.replace("?", "%s"), tuple(parameters)))

    return query


def journal_head(connection: Connection) -> int:
    row = connection.execute(f"SELECT pg_sequence_last_value({_SEQUENCE})").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def import_journal(connection: Connection, op: ImportJournal) -> int:
    """Entries keep their sequence numbers; the identity goes on after the last, and
    after `op.head` (the batch holds the journal lock: no writer takes one between)."""
    if op.head > journal_head(connection):
        connection.execute(f"SELECT setval({_SEQUENCE}, %s)", (op.head,))
    if not op.entries:
        return 0
    row = connection.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()
    head = int(row[0]) if row else 0
    if op.entries[0].seq <= head:
        raise StorageError(
            f"cannot import journal entry {op.entries[0].seq}: the journal is already at {head}"
        )
    with connection.cursor() as cursor:
        cursor.executemany(
            insert_sql("journal").replace("?", "%s"), [tuple(entry) for entry in op.entries]
        )
    if op.entries[-1].seq > journal_head(connection):
        connection.execute(f"SELECT setval({_SEQUENCE}, %s)", (op.entries[-1].seq,))
    return len(op.entries)


def import_rows(connection: Connection, op: ImportRows) -> int:
    with connection.cursor() as cursor:
        cursor.executemany(insert_sql(op.table).replace("?", "%s"), list(op.rows))
    return len(op.rows)
