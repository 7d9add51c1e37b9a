"""The connection the stores' shared SQL is written against.

SQLite and PostgreSQL understand the same SQL for everything the store does, when it
is written in their common subset: `?` for a parameter, `ON CONFLICT`, `RETURNING`,
multi-row `VALUES`. What differs is how each driver is called, how it says that a
unique index refused a row, and where each keeps its catalogue: that much is `Sql`,
which each store implements in a few lines over its own connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

__all__ = ["HEADS_SQL", "JOURNAL_COLUMNS", "MAX_ROWS", "Rows", "Sql", "chunks", "journal_insert"]

MAX_ROWS = 1_000
"""Rows one multi-row statement writes at most: both databases cap the parameters of a
statement (SQLite at 32,766, PostgreSQL at 65,535), and a row takes up to 12."""

JOURNAL_COLUMNS = "seq, at, kind, entity_id, revision, project, directory, writer_key, owner, body"


class Rows(Protocol):
    """What a statement returns (a cursor of either driver)."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Sql(Protocol):
    """A connection, inside the transaction of a write or of a read."""

    def execute(self, sql: str, parameters: Sequence[object] = (), /) -> Rows:
        """Run `sql`, written with `?` for each of `parameters`."""
        ...

    def changes(self) -> int:
        """Rows the last INSERT, UPDATE or DELETE changed."""
        ...

    def unique_index(self, error: BaseException) -> str | None:
        """The unique index (`runs_slot`, `automations_key`, `<table>_pkey`, ...) that
        refused a row, when `error` says one did; None for any other error."""
        ...

    def unique_indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        """(name, CREATE statement) of the unique indexes of `tables` other than their
        primary keys."""
        ...

    def journal_head(self) -> int:
        """The last sequence number the journal ever gave (0: none), pruned or not."""
        ...

    def raise_journal_head(self, seq: int) -> None:
        """Make the journal's next sequence number come after `seq` (never lower it):
        a copy keeps the numbers of the store it comes from."""
        ...

    def lease_epoch(self, name: str) -> int | None:
        """The epoch of lease `name` (None: no such lease), as this transaction sees it."""
        ...

    def next_epoch(self) -> int:
        """A lease epoch no lease of the database ever had: an epoch names one term of
        one lease, so a write of a scope is fenced by whichever of its leases (its own,
        its shard's) it was made under (`check_epoch`)."""
        ...

    def next_seqs(self, count: int) -> range | None:
        """The next `count` journal sequence numbers, when the writer hands them out
        itself (no round trip for a `RETURNING seq`); None: the database draws them."""
        ...

    def insert_journal(self, rows: Sequence[Sequence[object]]) -> None:
        """Insert journal rows numbered by `next_seqs` (`JOURNAL_COLUMNS` each). A store
        may hold them back until its next statement that names the journal, or the
        batch's end, to send the batch's entries in a few statements."""
        ...


def chunks(items: Sequence[Any], size: int = MAX_ROWS) -> Iterator[Sequence[Any]]:
    """`items` in slices of at most `size`, for multi-row statements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def journal_insert(rows: Sequence[Sequence[object]], mark: str = "?") -> tuple[str, list[object]]:
    """One statement inserting `rows` (at most `MAX_ROWS`) into the journal, numbered;
    `mark` is the driver's placeholder."""
    values: list[object] = []
    for row in rows:
        values += row
    marks = ", ".join(["(" + ", ".join([mark] * 10) + ")"] * len(rows))
    return f"INSERT INTO journal ({JOURNAL_COLUMNS}) VALUES {marks}", values


HEADS_SQL = (
    "SELECT (SELECT coalesce(max(seq), 0) FROM journal),"
    " (SELECT coalesce(max(id), 0) FROM commands)"
)
"""The change watch's probe of both stores: (journal head, last command id), one row."""
