"""Moving a store's contents to another store: what is read, what is written, and how
the two are compared.

The journal is copied as it is (its sequence numbers kept, so an `events(since=seq)`
consumer can carry on), the projections are rebuilt on the target by replaying it,
and the tables the journal does not hold (answers, checkpoints, progress) are copied
row by row. Leases and the command inbox belong to the processes of the old store
and are not copied. Everything is read and written in pages: no store is held in
memory. The statements are the same on both databases (`?` marks parameters).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from ._facts import Query
from ._journal import JournalEntry
from ._operations import Operation

__all__ = [
    "SIDE_TABLES",
    "Digest",
    "Exportable",
    "ImportJournal",
    "ImportRows",
    "Importable",
    "SideTable",
    "digest",
    "insert_sql",
    "side_rows",
]

SideTable = Literal["answers", "checkpoints", "progress"]

SIDE_TABLES: dict[SideTable, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "answers": (
        ("run_id", "blocker_id"),
        ("run_id", "blocker_id", "project", "directory", "at", "reply"),
    ),
    "checkpoints": (("run_id",), ("run_id", "at", "data")),
    "progress": (("run_id",), ("run_id", "at", "steps")),
}
"""Each table the journal does not hold: (its key, its columns)."""

_COMPARED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "journal": (
        ("seq",),
        (
            "seq",
            "at",
            "kind",
            "entity_id",
            "revision",
            "project",
            "directory",
            "writer_key",
            "owner",
            "body",
        ),
    ),
    "automations": (
        ("id",),
        ("id", "project", "directory", "revision", "updated_at", "next_fire_at", "body", "key"),
    ),
    "runs": (
        ("id",),
        (
            "id",
            "automation_id",
            "project",
            "directory",
            "revision",
            "state",
            "triggered_at",
            "slot",
            "missed_first",
            "writer_key",
            "owner",
            "body",
        ),
    ),
    **{str(table): spec for table, spec in SIDE_TABLES.items()},
}

_PAGE = 2_000


class Digest(msgspec.Struct, frozen=True):
    """The rows of each copied table, counted and hashed in key order."""

    counts: dict[str, int]
    hashes: dict[str, str]


class ImportJournal(Operation[int], frozen=True, gc=False):
    """Append entries with the sequence numbers they had in the store they come from
    (the target's journal must end before the first); how many."""

    entries: tuple[JournalEntry, ...]
    head: int = 0
    """The last number the source ever gave (its newest entries may have been
    pruned): the target's next entry comes after it, so no number is given twice."""


class ImportRows(Operation[int], frozen=True, gc=False):
    """Insert rows of a table the journal does not hold, as they were; how many."""

    table: SideTable
    rows: tuple[tuple[Any, ...], ...]


@runtime_checkable
class Exportable(Protocol):
    """What a store, even opened read-only, offers a copy of itself."""

    async def side_rows(
        self, table: SideTable, after: tuple[Any, ...] | None, limit: int
    ) -> list[tuple[Any, ...]]:
        """Rows of `table` after key `after` (None: from the start), in key order."""
        ...

    async def digest(self) -> Digest: ...

    async def journal_head(self) -> int:
        """The last sequence number the journal ever gave (0: none), pruned or not."""
        ...


@runtime_checkable
class Importable(Exportable, Protocol):
    """What a store offers to be copied into: the replay that rebuilds its projections."""

    async def replay(self) -> int: ...


def _after(key: tuple[str, ...]) -> str:
    columns = ", ".join(key)
    marks = ", ".join("?" for _ in key)
    return f"({columns}) > ({marks})" if len(key) > 1 else f"{key[0]} > ?"


def side_rows(
    query: Query, table: SideTable, after: tuple[Any, ...] | None, limit: int
) -> list[tuple[Any, ...]]:
    key, columns = SIDE_TABLES[table]
    return _page(query, table, key, columns, after, limit)


def _page(
    query: Query,
    table: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    after: tuple[Any, ...] | None,
    limit: int,
) -> list[tuple[Any, ...]]:
    where = "" if after is None else f" WHERE {_after(key)}"
    sql = f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY {', '.join(key)} LIMIT ?"
    return query(sql, (*(after or ()), limit))


def insert_sql(table: str) -> str:
    """The statement that inserts one row of a side table, or of the journal."""
    columns = _COMPARED[table][1]
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def digest(query: Query) -> Digest:
    """Count and hash every copied table, a page at a time."""
    counts: dict[str, int] = {}
    hashes: dict[str, str] = {}
    for table, (key, columns) in _COMPARED.items():
        hasher = hashlib.blake2b(digest_size=16)
        count = 0
        after: tuple[Any, ...] | None = None
        while rows := _page(query, table, key, columns, after, _PAGE):
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
