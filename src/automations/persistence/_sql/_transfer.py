"""The reads and writes of a copy (`persistence/_transfer.py`), in the shared SQL."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import msgspec

from ...model import StorageError
from .._transfer import COMPARED, SIDE_TABLES, Digest, ImportJournal, ImportRows, SideTable
from ._connection import Sql, chunks

__all__ = ["digest", "import_journal", "import_rows", "journal_head", "side_rows"]

_PAGE = 2_000


def import_journal(sql: Sql, op: ImportJournal) -> int:
    """Entries keep their sequence numbers; the journal goes on after the last of them
    and after `op.head` (the writer's transaction holds the journal: no other writer
    takes a number in between)."""
    if op.entries:
        row = sql.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()
        head = int(row[0]) if row else 0
        if op.entries[0].seq <= head:
            raise StorageError(
                f"cannot import journal entry {op.entries[0].seq}: the journal is already at {head}"
            )
        _insert(sql, "journal", [tuple(entry) for entry in op.entries])
    last = op.entries[-1].seq if op.entries else 0
    sql.raise_journal_head(max(op.head, last))
    return len(op.entries)


def journal_head(sql: Sql) -> int:
    """The last sequence number the journal ever gave, pruned or not."""
    return sql.journal_head()


def import_rows(sql: Sql, op: ImportRows) -> int:
    _insert(sql, op.table, op.rows)
    return len(op.rows)


def _insert(sql: Sql, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """`rows` of `table` as they are, in multi-row statements."""
    columns = COMPARED[table][1]
    row = "(" + ", ".join("?" for _ in columns) + ")"
    for chunk in chunks(rows):
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        sql.execute(statement + ", ".join(row for _ in chunk), [v for r in chunk for v in r])


def _after(key: tuple[str, ...]) -> str:
    columns = ", ".join(key)
    marks = ", ".join("?" for _ in key)
    return f"({columns}) > ({marks})" if len(key) > 1 else f"{key[0]} > ?"


def side_rows(
    sql: Sql, table: SideTable, after: tuple[Any, ...] | None, limit: int
) -> list[tuple[Any, ...]]:
    key, columns = SIDE_TABLES[table]
    return _page(sql, table, key, columns, after, limit)


def _page(
    sql: Sql,
    table: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    after: tuple[Any, ...] | None,
    limit: int,
) -> list[tuple[Any, ...]]:
    where = "" if after is None else f" WHERE {_after(key)}"
    statement = f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY {', '.join(key)} LIMIT ?"
    return [tuple(row) for row in sql.execute(statement, (*(after or ()), limit)).fetchall()]


def digest(sql: Sql) -> Digest:
    """Count and hash every copied table, a page at a time."""
    counts: dict[str, int] = {}
    hashes: dict[str, str] = {}
    for table, (key, columns) in COMPARED.items():
        hasher = hashlib.blake2b(digest_size=16)
        count = 0
        after: tuple[Any, ...] | None = None
        while rows := _page(sql, table, key, columns, after, _PAGE):
            for row in rows:
                hasher.update(msgspec.msgpack.encode([_plain(value) for value in row]))
            count += len(rows)
            last = rows[-1]
            after = tuple(last[columns.index(name)] for name in key)
        counts[table] = count
        hashes[table] = hasher.hexdigest()
    return Digest(counts, hashes)


def _plain(value: Any) -> Any:
    """One value as both databases hand it back (a `memoryview` as bytes)."""
    return bytes(value) if isinstance(value, memoryview) else value
