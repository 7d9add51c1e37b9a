"""The shared SQL's connection (`persistence._sql.Sql`) over a psycopg connection,
and the writer's way of applying an operation in its own SAVEPOINT."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import errors

from .._operations import Operation
from .._sql import JOURNAL_COLUMNS, MAX_ROWS, KeyTaken, Rows, apply, chunks
from .._sql import projection_rows as shared_projection_rows
from ._batched import SHAPES, HeldRows
from ._connection import Connection, storage_error

__all__ = ["LOCK_AND_HEAD", "PostgresSql", "apply_in_savepoint", "projection_rows"]


@functools.lru_cache(maxsize=512)
def spelled(sql: str) -> str:
    """`sql` with psycopg's placeholders: `?` becomes `%s` (and a `%` is doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


_JOURNAL_SEQUENCE = "pg_get_serial_sequence('journal', 'seq')"


class PostgresSql:
    """psycopg, spoken the shared way: `?` placeholders, `changes()`, and the unique
    index that refused a row named by the server.

    The writer's instance hands out journal sequence numbers itself, from `head` (read
    under the journal lock, so no other writer draws one before this commit), and
    moves the sequence past them in `flush_head()`. In `deferring()` (the optimistic
    pass, in pipeline mode) rowcounts are not known yet: `changes()` answers 1 and
    remembers the statement, and `expectations_met()`, after the pipeline's sync, says
    whether each really changed exactly one row; if one did not, the pass is void and
    the writer applies the batch again one operation at a time, with real answers.
    The rows of the hot statements are held meanwhile and sent multi-row
    (`_batched.HeldRows`), each such statement expected to change all its rows.
    """

    __slots__ = (
        "_deferred",
        "_epochs",
        "_expected",
        "_flushed",
        "_held",
        "_held_last",
        "_last",
        "_next_seq",
        "_unsent",
        "connection",
    )

    def __init__(self, connection: Connection, head: int | None = None) -> None:
        self.connection = connection
        self._last: psycopg.Cursor[Any] | None = None
        self._next_seq = None if head is None else head + 1
        self._flushed = head
        self._deferred = False
        self._expected: list[psycopg.Cursor[Any]] = []
        self._held = HeldRows()
        self._held_last = False
        """The last write was held (`changes()` answers 1, checked when it is sent)."""
        self._unsent: list[Sequence[object]] = []
        """Journal rows held back while deferring, sent in few statements."""
        self._epochs: dict[str, int | None] | None = None if head is None else {}
        """The writer's lease epochs read in this batch: under the journal lock only
        this transaction can move one, and its writes to `leases` forget them all."""

    def execute(self, sql: str, parameters: Sequence[object] = (), /) -> Rows:
        if self._deferred:
            shape = SHAPES.get(sql)
            if shape is not None:
                self._held.hold(shape, parameters, self.connection)
                self._held_last = True
                return _NO_ROWS
            if self._held:  # whatever comes next goes after the rows held
                self._held.send(self.connection)
        if self._unsent and "journal" in sql:
            self._send_journal()
        cursor = self.connection.execute(spelled(sql), parameters)
        if not sql.lstrip()[:6].upper().startswith("SELECT"):  # as SQLite: a query
            self._last = cursor  # leaves changes() as it was
            self._held_last = False
            if self._epochs and "leases" in sql:
                self._epochs.clear()
        return cursor

    def next_epoch(self) -> int:
        # Writers of several hosts commit at once: a sequence, not the largest epoch.
        row = self.execute("SELECT nextval('lease_epochs')").fetchone()
        return int(row[0])

    def lease_epoch(self, name: str) -> int | None:
        epochs = self._epochs
        if epochs is not None and name in epochs:
            return epochs[name]
        row = self.execute("SELECT epoch FROM leases WHERE name = ?", (name,)).fetchone()
        epoch = None if row is None else int(row[0])
        if epochs is not None:
            epochs[name] = epoch
        return epoch

    def changes(self) -> int:
        if self._held_last:
            return 1
        last = self._last
        if last is None:
            return 0
        if self._deferred:
            self._expected.append(last)
            return 1
        return max(last.rowcount, 0)

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        """Statements' results arrive later (pipeline mode); see the class."""
        self._deferred, self._expected, self._held = True, [], HeldRows()
        try:
            yield
        finally:
            self._deferred = self._held_last = False

    def rolled_back(self) -> None:
        """An operation's savepoint was rolled back: what it read of the leases may be
        of its own undone writes."""
        if self._epochs:
            self._epochs.clear()

    def expectations_met(self) -> bool:
        """Whether every `changes()` answered while deferring was true (after a sync)."""
        return self._held.all_changed() and all(cursor.rowcount == 1 for cursor in self._expected)

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
        if self._next_seq is not None:
            return self._next_seq - 1
        row = self.execute(f"SELECT pg_sequence_last_value({_JOURNAL_SEQUENCE})").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def raise_journal_head(self, seq: int) -> None:
        if self._next_seq is not None:
            self._next_seq = max(self._next_seq, seq + 1)  # `flush_head` moves the sequence
        elif seq > self.journal_head():
            # An identity goes on from its sequence, which rows given a number never move.
            self.execute(f"SELECT setval({_JOURNAL_SEQUENCE}, ?)", (seq,))

    def next_seqs(self, count: int) -> range | None:
        start = self._next_seq
        if start is None:
            return None
        self._next_seq = start + count
        return range(start, start + count)

    def insert_journal(self, rows: Sequence[Sequence[object]]) -> None:
        if not self._deferred:
            self._insert_journal(rows)
            return
        self._unsent += rows
        if len(self._unsent) >= MAX_ROWS:
            self._send_journal()

    def _send_journal(self) -> None:
        unsent, self._unsent = self._unsent, []
        for chunk in chunks(unsent):
            self._insert_journal(chunk)

    def _insert_journal(self, rows: Sequence[Sequence[object]]) -> None:
        """One statement of fixed text (parsed and prepared once): a column per array."""
        columns = [list(column) for column in zip(*rows, strict=True)]
        self.connection.execute(_INSERT_JOURNAL, columns)

    def flush_head(self) -> None:
        """Send the journal rows held back, and move the journal's sequence past every
        number handed out (before COMMIT; a sequence ignores rollbacks, so a batch
        undone leaves a gap, as a pruned one does). The held rows of other tables go
        first."""
        if self._held:
            self._held.send(self.connection)
        if self._unsent:
            self._send_journal()
        if self._next_seq is None or self._flushed is None:
            return
        last = self._next_seq - 1
        if last > self._flushed:
            self.connection.execute(f"SELECT setval({_JOURNAL_SEQUENCE}, %s)", (last,))
            self._flushed = last


class _HeldWrite:
    """What `execute` returns for a write it held: no rows, as the write had none."""

    def fetchone(self) -> Any:
        raise TypeError("a held write returns no rows")

    def fetchall(self) -> Sequence[Any]:
        raise TypeError("a held write returns no rows")

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a held write returns no rows")


_NO_ROWS = _HeldWrite()

_INSERT_JOURNAL = (
    f"INSERT INTO journal ({JOURNAL_COLUMNS}) SELECT * FROM unnest(%b::bigint[],"
    " %b::bigint[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::bytea[])"
)
"""The journal's rows as ten arrays (`JOURNAL_COLUMNS`' order), sent in binary: a
multi-row VALUES of as many placeholders would be parsed again by psycopg for every
size, and text arrays are escaped element by element (ten times the CPU)."""

LOCK_AND_HEAD = (
    f"SELECT pg_sequence_last_value({_JOURNAL_SEQUENCE})"
    " FROM (SELECT pg_advisory_xact_lock(%s) OFFSET 0) AS locked"
)
"""Take the journal lock, then read the journal's last number: one round trip (the
subquery, kept apart by `OFFSET 0`, is run before the outer row is made)."""


def apply_in_savepoint(sql: PostgresSql, operation: Operation[Any], dsn: str) -> Any:
    """Run `operation` in a SAVEPOINT of the open transaction; on failure undo it alone
    and raise its error (named once the transaction is usable again)."""
    connection = sql.connection
    connection.execute("SAVEPOINT operation")
    try:
        result = apply(sql, operation)
    except Exception as exc:
        connection.execute("ROLLBACK TO SAVEPOINT operation")  # raises if the link broke
        sql.rolled_back()
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
