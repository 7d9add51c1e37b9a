"""Reads, on connections of their own, in worker threads so the event loop never blocks.

Every query is scoped by project and owner directory: a runtime sees only its own
automations, runs and journal entries, whatever ids or cursors it is handed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal, TypeVar

import anyio
import apsw

from ...model import Automation, Run, Scope, from_ms, from_msgpack
from .._commands import CommandOutcome, PendingCommand
from .._journal import JournalEntry, Page, is_retry
from .._leases import LeaseRow
from ._command_writes import command_outcome, pending_commands
from ._connection import Durability, connect, storage_error
from ._lease_writes import lease_row
from ._projection import _JOURNAL_COLUMNS, journal_entries

__all__ = ["ChangeWatch", "Reader"]

T = TypeVar("T")


class Reader:
    """A small pool of read connections; each query runs in a worker thread."""

    def __init__(self, path: str, durability: Durability, *, uri: str | None = None) -> None:
        self._path = path
        self._durability = durability
        self._uri = uri
        self._idle: list[apsw.Connection] = []
        self._all: list[apsw.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, query: Callable[[apsw.Connection], T]) -> T:
        """Run `query` with a pooled connection in a worker thread."""
        return await anyio.to_thread.run_sync(self.run_sync, query)

    def run_sync(self, query: Callable[[apsw.Connection], T]) -> T:
        """Run `query` in the calling thread (for tools and tests off the event loop)."""
        connection = self._take()
        try:
            return query(connection)
        except apsw.Error as exc:
            raise storage_error(exc, self._path) from exc
        finally:
            with self._lock:
                self._idle.append(connection)

    def _take(self) -> apsw.Connection:
        with self._lock:
            if self._closed:
                raise RuntimeError("the reader is closed")
            if self._idle:
                return self._idle.pop()
        connection = connect(self._path, durability=self._durability, uri=self._uri)
        with self._lock:
            self._all.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._all, self._idle = self._all, [], []
        for connection in connections:
            connection.close()

    # -- queries ------------------------------------------------------------------

    async def automation(self, scope: Scope, id: str) -> Automation | None:
        return await self.run(lambda c: get_automation(c, scope, id))

    async def automations(self, scope: Scope) -> list[Automation]:
        return await self.run(lambda c: list_automations(c, scope))

    async def automations_by_ids(self, scope: Scope, ids: Iterable[str]) -> list[Automation]:
        """Those of `ids` that exist in `scope`, in no particular order."""
        wanted = list(ids)
        return await self.run(lambda c: automations_by_ids(c, scope, wanted))

    async def automation_by_key(self, scope: Scope, key: str) -> Automation | None:
        return await self.run(lambda c: automation_by_key(c, scope, key))

    async def run_by_id(self, scope: Scope, id: str) -> Run | None:
        return await self.run(lambda c: get_run(c, scope, id))

    async def runs(
        self, scope: Scope, automation_id: str, *, limit: int, cursor: str | None
    ) -> Page:
        return await self.run(lambda c: runs_page(c, scope, automation_id, limit, cursor))

    async def journal(self, scope: Scope, after: int, limit: int) -> list[JournalEntry]:
        return await self.run(lambda c: scoped_journal(c, scope, after, limit))

    async def run_history(self, scope: Scope, run_id: str) -> list[tuple[datetime, Run]]:
        return await self.run(lambda c: run_history(c, scope, run_id))

    async def last_seq(self, scope: Scope | None = None) -> int:
        """The journal's last sequence number, of every scope or of one."""
        if scope is None:
            return await self.run(last_seq)
        return await self.run(lambda c: last_scoped_seq(c, scope))

    async def all_journal(self, after: int, limit: int) -> list[JournalEntry]:
        """Entries of every scope after `after` (the journal follower's view)."""
        return await self.run(lambda c: list(journal_entries(c, after, limit)))

    async def executed_runs(self, scope: Scope, automation_id: str) -> int:
        return await self.run(lambda c: count_executed(c, scope, automation_id))

    async def owners(self, scope: Scope) -> list[str]:
        """Processes that own active runs of `scope` (for reconciliation)."""
        return await self.run(lambda c: active_owners(c, scope))

    async def run_owner(self, scope: Scope, run_id: str) -> str | None:
        """The process executing an active run; None when it is not active."""
        return await self.run(lambda c: owner_of(c, scope, run_id))

    async def commands(
        self, scope: Scope, after: int, owner: str, *, leading: bool, limit: int
    ) -> list[PendingCommand]:
        return await self.run(lambda c: pending_commands(c, scope, after, owner, leading, limit))

    async def command_outcome(self, id: int) -> CommandOutcome | None:
        """None while pending; `LookupError` when the command is gone."""
        return await self.run(lambda c: command_outcome(c, id))

    async def scopes(self) -> list[tuple[Scope, int]]:
        return await self.run(automation_scopes)

    async def ids_with_prefix(
        self, scope: Scope, kind: Literal["automation", "run"], prefix: str, limit: int
    ) -> list[str]:
        return await self.run(lambda c: ids_with_prefix(c, scope, kind, prefix, limit))

    async def lease(self, scope: Scope) -> LeaseRow | None:
        """The scope's lease row: who holds it, at which epoch, last renewed when."""
        return await self.run(lambda c: lease_row(c, scope))

    async def checkpoint(self, run_id: str) -> bytes | None:
        """The latest checkpoint of a run (JSON), if it saved one."""
        return await self.run(lambda c: latest_checkpoint(c, run_id))

    async def answer(self, scope: Scope, run_id: str, blocker_id: str) -> bytes | None:
        """The stored answer to a blocker (JSON), if there is one."""
        return await self.run(lambda c: stored_answer(c, scope, run_id, blocker_id))

    async def due(self, scope: Scope, until_ms: int, limit: int) -> list[tuple[str, int]]:
        return await self.run(lambda c: due_automations(c, scope, until_ms, limit))


def get_automation(connection: apsw.Connection, scope: Scope, id: str) -> Automation | None:
    row = connection.execute(
        "SELECT body FROM automations WHERE id = ? AND project = ? AND directory = ?",
        (id, scope.project, scope.directory),
    ).fetchone()
    return None if row is None else from_msgpack(row[0], Automation)


def automation_by_key(connection: apsw.Connection, scope: Scope, key: str) -> Automation | None:
    row = connection.execute(
        "SELECT body FROM automations WHERE key = ? AND project = ? AND directory = ?",
        (key, scope.project, scope.directory),
    ).fetchone()
    return None if row is None else from_msgpack(row[0], Automation)


def list_automations(connection: apsw.Connection, scope: Scope) -> list[Automation]:
    rows = connection.execute(
        "SELECT body FROM automations WHERE project = ? AND directory = ?"
        " ORDER BY updated_at DESC, id DESC",
        (scope.project, scope.directory),
    )
    return [from_msgpack(body, Automation) for (body,) in rows]


def automations_by_ids(
    connection: apsw.Connection, scope: Scope, ids: list[str]
) -> list[Automation]:
    found: list[Automation] = []
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = connection.execute(
            f"SELECT body FROM automations WHERE project = ? AND directory = ? AND id IN ({marks})",
            (scope.project, scope.directory, *chunk),
        )
        found.extend(from_msgpack(body, Automation) for (body,) in rows)
    return found


_IN_CHUNK = 500


def get_run(connection: apsw.Connection, scope: Scope, id: str) -> Run | None:
    row = connection.execute(
        "SELECT body FROM runs WHERE id = ? AND project = ? AND directory = ?",
        (id, scope.project, scope.directory),
    ).fetchone()
    return None if row is None else from_msgpack(row[0], Run)


def runs_page(
    connection: apsw.Connection,
    scope: Scope,
    automation_id: str,
    limit: int,
    cursor: str | None,
) -> Page:
    """Runs newest first (`triggeredAt` desc, `id` desc), keyset-paginated.

    The cursor is the id of the last run of the previous page; a cursor that names no
    run of this automation in this scope gives an empty page.
    """
    where = "automation_id = ? AND project = ? AND directory = ?"
    params: tuple[object, ...] = (automation_id, scope.project, scope.directory)
    if cursor is not None:
        row = connection.execute(
            f"SELECT triggered_at FROM runs WHERE id = ? AND {where}", (cursor, *params)
        ).fetchone()
        if row is None:
            return Page([], None)
        where += " AND (triggered_at, id) < (?, ?)"
        params = (*params, row[0], cursor)
    rows = connection.execute(
        f"SELECT id, body FROM runs WHERE {where} ORDER BY triggered_at DESC, id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    items = [from_msgpack(_blob(body), Run) for _, body in rows[:limit]]
    next_cursor = str(rows[limit - 1][0]) if len(rows) > limit else None
    return Page(items, next_cursor)


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"expected a stored body, got {type(value).__name__}")
    return value


def scoped_journal(
    connection: apsw.Connection, scope: Scope, after: int, limit: int
) -> list[JournalEntry]:
    rows = connection.execute(
        f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE project = ? AND directory = ?"
        " AND seq > ? ORDER BY seq LIMIT ?",
        (scope.project, scope.directory, after, limit),
    )
    return [JournalEntry(*row) for row in rows]


def run_history(
    connection: apsw.Connection, scope: Scope, run_id: str
) -> list[tuple[datetime, Run]]:
    rows = connection.execute(
        "SELECT at, body FROM journal WHERE entity_id = ? AND project = ? AND directory = ?"
        " ORDER BY seq",
        (run_id, scope.project, scope.directory),
    )
    return [(from_ms(at), from_msgpack(body, Run)) for at, body in rows]


def last_seq(connection: apsw.Connection) -> int:
    row = connection.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()
    return int(row[0]) if row else 0


def last_scoped_seq(connection: apsw.Connection, scope: Scope) -> int:
    row = connection.execute(
        "SELECT coalesce(max(seq), 0) FROM journal WHERE project = ? AND directory = ?",
        (scope.project, scope.directory),
    ).fetchone()
    return int(row[0]) if row else 0


def automation_scopes(connection: apsw.Connection) -> list[tuple[Scope, int]]:
    rows = connection.execute(
        "SELECT project, directory, count(*) FROM automations"
        " GROUP BY project, directory ORDER BY project, directory"
    )
    return [(Scope(str(project), str(directory)), int(n)) for project, directory, n in rows]


def ids_with_prefix(
    connection: apsw.Connection,
    scope: Scope,
    kind: Literal["automation", "run"],
    prefix: str,
    limit: int,
) -> list[str]:
    table = "automations" if kind == "automation" else "runs"
    rows = connection.execute(
        f"SELECT id FROM {table} WHERE id >= ? AND id < ? AND project = ? AND directory = ?"
        " ORDER BY id LIMIT ?",
        (prefix, prefix + "\U0010ffff", scope.project, scope.directory, limit),
    )
    return [str(id) for (id,) in rows]


def count_executed(connection: apsw.Connection, scope: Scope, automation_id: str) -> int:
    """Runs that executed (succeeded or failed), as a count stop counts them: a chain of
    retries once, by its first (a retry, slotless as a manual run, is told by its body)."""
    rows = connection.execute(
        "SELECT CASE WHEN slot IS NULL THEN body END FROM runs WHERE automation_id = ?"
        " AND project = ? AND directory = ? AND state IN ('succeeded', 'failed')",
        (automation_id, scope.project, scope.directory),
    )
    return sum(1 for (body,) in rows if body is None or not is_retry(body))


def due_automations(
    connection: apsw.Connection, scope: Scope, until_ms: int, limit: int
) -> list[tuple[str, int]]:
    """(id, next fire) of automations due by `until_ms`, soonest first, from the index."""
    rows = connection.execute(
        "SELECT id, next_fire_at FROM automations WHERE next_fire_at <= ?"
        " AND project = ? AND directory = ? ORDER BY next_fire_at LIMIT ?",
        (until_ms, scope.project, scope.directory, limit),
    )
    return [(str(id), int(at)) for id, at in rows]


def active_owners(connection: apsw.Connection, scope: Scope) -> list[str]:
    rows = connection.execute(
        "SELECT DISTINCT owner FROM runs WHERE owner IS NOT NULL AND project = ? AND directory = ?",
        (scope.project, scope.directory),
    )
    return [str(owner) for (owner,) in rows]


def owner_of(connection: apsw.Connection, scope: Scope, run_id: str) -> str | None:
    row = connection.execute(
        "SELECT owner FROM runs WHERE id = ? AND project = ? AND directory = ?",
        (run_id, scope.project, scope.directory),
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def latest_checkpoint(connection: apsw.Connection, run_id: str) -> bytes | None:
    row = connection.execute("SELECT data FROM checkpoints WHERE run_id = ?", (run_id,)).fetchone()
    return None if row is None else _blob(row[0])


def stored_answer(
    connection: apsw.Connection, scope: Scope, run_id: str, blocker_id: str
) -> bytes | None:
    row = connection.execute(
        "SELECT reply FROM answers WHERE run_id = ? AND blocker_id = ?"
        " AND project = ? AND directory = ?",
        (run_id, blocker_id, scope.project, scope.directory),
    ).fetchone()
    return None if row is None else _blob(row[0])


class ChangeWatch:
    """Notices commits by other connections: `PRAGMA data_version` changes with each
    one, and costs microseconds. It is per connection, so the watch keeps its own."""

    def __init__(self, path: str, durability: Durability, *, uri: str | None = None) -> None:
        self._path = path
        self._connection = connect(path, durability=durability, uri=uri)
        self._version = -1

    def changed(self) -> bool:
        """Whether another connection committed since the last call. It reads a counter
        in shared memory and takes no lock, so it may run on the event loop."""
        try:
            row = self._connection.execute("PRAGMA data_version").fetchone()
        except apsw.Error as exc:
            raise storage_error(exc, self._path) from exc
        version = int(row[0]) if row else 0
        changed = version != self._version
        self._version = version
        return changed

    def heads(self) -> tuple[int, int]:
        """(journal head, last command id). Blocking: call it in a worker thread."""
        try:
            row = self._connection.execute(
                "SELECT (SELECT coalesce(max(seq), 0) FROM journal),"
                " (SELECT coalesce(max(id), 0) FROM commands)"
            ).fetchone()
        except apsw.Error as exc:
            raise storage_error(exc, self._path) from exc
        assert row is not None
        return int(row[0]), int(row[1])

    def close(self) -> None:
        self._connection.close()
