"""The SQLite group-commit writer (see `persistence/_group_commit.py` for how a batch
is taken, applied and handed back): `BEGIN IMMEDIATE` takes the file's write lock for
the batch, and a COMMIT is one fsync of the WAL."""

from __future__ import annotations

import contextlib
from typing import Any

import apsw

from .._group_commit import GroupCommit
from .._operations import Operation
from .._pending import PendingWrite
from ._apply import Apply, apply, apply_in_savepoint
from ._connection import storage_error
from ._sql import SqliteSql

__all__ = ["GroupCommitWriter"]


class GroupCommitWriter(GroupCommit[SqliteSql]):
    """Owns `connection` in a thread of its own from `start()` until `close()`."""

    def __init__(self, connection: apsw.Connection, path: str, *, how: Apply = apply) -> None:
        super().__init__(path)
        self._connection = connection
        self._path = path
        self._how = how
        """How an operation is applied: the SQL of `_apply` (tests give their own)."""
        self._control = connection.cursor()
        """Runs the savepoint statements: one cursor for all of them saves an allocation
        per statement on the hot path."""

    def _begin(self, batch: list[PendingWrite[Any]]) -> SqliteSql | None:
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except apsw.Error as exc:
            self._fail_all(batch, exc)
            return None
        return SqliteSql(self._connection, epochs={})  # the batch's: epochs read once

    def _apply(self, sql: SqliteSql, operation: Operation[Any]) -> Any:
        return self._how(sql, operation)

    def _apply_alone(self, sql: SqliteSql, operation: Operation[Any]) -> Any:
        return apply_in_savepoint(
            self._connection, operation, self._path, how=self._how, cursor=self._control, sql=sql
        )

    def _in_transaction(self) -> bool:
        return not self._connection.get_autocommit()  # SQLite may roll it all back itself

    def _commit_transaction(self) -> None:
        self._connection.execute("COMMIT")

    def _rollback(self) -> None:
        if not self._connection.get_autocommit():
            # SQLite may already have rolled back (for example on SQLITE_FULL).
            with contextlib.suppress(apsw.Error):
                self._connection.execute("ROLLBACK")

    def _storage_error(self, exc: BaseException) -> BaseException:
        return storage_error(exc, self._path) if isinstance(exc, apsw.Error) else exc
