"""The shared SQL's connection (`persistence._sql.Sql`) over an apsw connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import apsw

from .._sql import journal_insert
from .._sql import projection_rows as shared_projection_rows

__all__ = ["SqliteSql", "projection_rows"]

_UNIQUE = {
    "runs.writer_key": "runs_writer_key",
    "runs.automation_id, runs.slot": "runs_slot",
    "runs.automation_id, runs.missed_first": "runs_missed",
    "automations.project, automations.directory, automations.key": "automations_key",
}
"""SQLite names the columns a unique index refused, not the index: the columns of
each named index. Every other unique constraint of the schema is a primary key."""
_FAILED = "UNIQUE constraint failed: "


class SqliteSql:
    """SQLite speaks the shared SQL as it is; only its errors and catalogue differ.

    The writer's instance for a batch keeps the lease epochs it read (`epochs`): the
    batch holds the file's write lock, so only its own writes to `leases` move one,
    and they forget them all. A slot's thousand fenced writes check the epoch once.
    """

    __slots__ = ("_epochs", "connection")

    def __init__(
        self, connection: apsw.Connection, epochs: dict[str, int | None] | None = None
    ) -> None:
        self.connection = connection
        self._epochs = epochs

    def execute(self, sql: str, parameters: Sequence[object] = (), /) -> apsw.Cursor:
        if self._epochs and "leases" in sql:
            self._epochs.clear()
        return self.connection.execute(sql, parameters)

    def changes(self) -> int:
        return self.connection.changes()

    def rolled_back(self) -> None:
        """An operation was undone: what it read of the leases may be of its own
        undone writes."""
        if self._epochs:
            self._epochs.clear()

    def unique_index(self, error: BaseException) -> str | None:
        if not isinstance(error, apsw.ConstraintError):
            return None
        message = str(error)
        at = message.find(_FAILED)
        if at < 0:
            return None
        columns = message[at + len(_FAILED) :].strip()
        return _UNIQUE.get(columns) or f"{columns.partition('.')[0]}_pkey"

    def unique_indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        names = ", ".join(f"'{table}'" for table in tables)
        rows = self.connection.execute(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({names}) AND sql LIKE 'CREATE UNIQUE INDEX%'"
        ).fetchall()
        return [(str(name), str(sql)) for name, sql in rows]

    def journal_head(self) -> int:
        row = self.connection.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'journal'"
        ).fetchone()
        return int(row[0]) if row else 0

    def raise_journal_head(self, seq: int) -> None:
        # AUTOINCREMENT goes on after the largest number sqlite_sequence holds.
        if seq > self.journal_head():
            self.connection.execute("DELETE FROM sqlite_sequence WHERE name = 'journal'")
            self.connection.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('journal', ?)", (seq,)
            )

    def lease_epoch(self, name: str) -> int | None:
        epochs = self._epochs
        if epochs is not None and name in epochs:
            return epochs[name]
        row = self.connection.execute("SELECT epoch FROM leases WHERE name = ?", (name,)).fetchone()
        epoch = None if row is None else int(row[0])
        if epochs is not None:
            epochs[name] = epoch
        return epoch

    def next_epoch(self) -> int:
        # One writer at a time (the file's write lock), and lease rows are never
        # deleted: the largest epoch is the last one given.
        row = self.connection.execute("SELECT COALESCE(MAX(epoch), 0) + 1 FROM leases").fetchone()
        assert row is not None  # an aggregate always has its row
        return int(row[0])

    def next_seqs(self, count: int) -> range | None:
        return None  # AUTOINCREMENT in-process costs no round trip

    def insert_journal(self, rows: Sequence[Sequence[object]]) -> None:
        self.connection.execute(*journal_insert(rows))


def projection_rows(connection: apsw.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row, in a stable order, to compare two states exactly."""
    return shared_projection_rows(SqliteSql(connection))
