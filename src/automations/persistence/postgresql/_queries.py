"""The reader's queries, each a function of one connection (scoped by project and
directory, as `sqlite/_reader.py`'s)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ...model import Automation, Run, Scope, from_ms, from_msgpack
from .._journal import JournalEntry, Page, is_retry
from ._connection import Connection
from ._projection import JOURNAL_COLUMNS

__all__ = [
    "active_owners",
    "automation_by_key",
    "automation_scopes",
    "automations_by_ids",
    "count_executed",
    "due_automations",
    "get_automation",
    "get_run",
    "ids_with_prefix",
    "last_scoped_seq",
    "last_seq",
    "latest_checkpoint",
    "list_automations",
    "owner_of",
    "run_history",
    "runs_page",
    "scoped_journal",
    "stored_answer",
]

_IN_SCOPE = "project = %s AND directory = %s"


def _one(connection: Connection, sql: str, params: tuple[object, ...]) -> object | None:
    row = connection.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"expected a stored body, got {type(value).__name__}")
    return value


def get_automation(connection: Connection, scope: Scope, id: str) -> Automation | None:
    body = _one(
        connection,
        f"SELECT body FROM automations WHERE id = %s AND {_IN_SCOPE}",
        (id, scope.project, scope.directory),
    )
    return None if body is None else from_msgpack(_blob(body), Automation)


def automation_by_key(connection: Connection, scope: Scope, key: str) -> Automation | None:
    body = _one(
        connection,
        f"SELECT body FROM automations WHERE key = %s AND {_IN_SCOPE}",
        (key, scope.project, scope.directory),
    )
    return None if body is None else from_msgpack(_blob(body), Automation)


def list_automations(connection: Connection, scope: Scope) -> list[Automation]:
    rows = connection.execute(
        f"SELECT body FROM automations WHERE {_IN_SCOPE} ORDER BY updated_at DESC, id DESC",
        (scope.project, scope.directory),
    )
    return [from_msgpack(body, Automation) for (body,) in rows]


def automations_by_ids(connection: Connection, scope: Scope, ids: list[str]) -> list[Automation]:
    rows = connection.execute(
        f"SELECT body FROM automations WHERE {_IN_SCOPE} AND id = ANY(%s)",
        (scope.project, scope.directory, ids),
    )
    return [from_msgpack(body, Automation) for (body,) in rows]


def get_run(connection: Connection, scope: Scope, id: str) -> Run | None:
    body = _one(
        connection,
        f"SELECT body FROM runs WHERE id = %s AND {_IN_SCOPE}",
        (id, scope.project, scope.directory),
    )
    return None if body is None else from_msgpack(_blob(body), Run)


def runs_page(
    connection: Connection, scope: Scope, automation_id: str, limit: int, cursor: str | None
) -> Page:
    """Runs newest first (`triggeredAt` desc, `id` desc), keyset-paginated by run id."""
    where = f"automation_id = %s AND {_IN_SCOPE}"
    params: tuple[object, ...] = (automation_id, scope.project, scope.directory)
    if cursor is not None:
        at = _one(
            connection,
            f"SELECT triggered_at FROM runs WHERE id = %s AND {where}",
            (cursor, *params),
        )
        if at is None:
            return Page([], None)
        where += " AND (triggered_at, id) < (%s, %s)"
        params = (*params, at, cursor)
    rows = connection.execute(
        f"SELECT id, body FROM runs WHERE {where} ORDER BY triggered_at DESC, id DESC LIMIT %s",
        (*params, limit + 1),
    ).fetchall()
    items = [from_msgpack(_blob(body), Run) for _, body in rows[:limit]]
    next_cursor = str(rows[limit - 1][0]) if len(rows) > limit else None
    return Page(items, next_cursor)


def scoped_journal(
    connection: Connection, scope: Scope, after: int, limit: int
) -> list[JournalEntry]:
    rows = connection.execute(
        f"SELECT {JOURNAL_COLUMNS} FROM journal WHERE {_IN_SCOPE} AND seq > %s"
        " ORDER BY seq LIMIT %s",
        (scope.project, scope.directory, after, limit),
    )
    return [JournalEntry(*row) for row in rows]


def run_history(connection: Connection, scope: Scope, run_id: str) -> list[tuple[datetime, Run]]:
    rows = connection.execute(
        f"SELECT at, body FROM journal WHERE entity_id = %s AND {_IN_SCOPE} ORDER BY seq",
        (run_id, scope.project, scope.directory),
    )
    return [(from_ms(at), from_msgpack(body, Run)) for at, body in rows]


def last_seq(connection: Connection) -> int:
    return _int(_one(connection, "SELECT coalesce(max(seq), 0) FROM journal", ()))


def last_scoped_seq(connection: Connection, scope: Scope) -> int:
    value = _one(
        connection,
        f"SELECT coalesce(max(seq), 0) FROM journal WHERE {_IN_SCOPE}",
        (scope.project, scope.directory),
    )
    return _int(value)


def automation_scopes(connection: Connection) -> list[tuple[Scope, int]]:
    rows = connection.execute(
        "SELECT project, directory, count(*) FROM automations"
        " GROUP BY project, directory ORDER BY project, directory"
    )
    return [(Scope(str(project), str(directory)), int(n)) for project, directory, n in rows]


def ids_with_prefix(
    connection: Connection,
    scope: Scope,
    kind: Literal["automation", "run"],
    prefix: str,
    limit: int,
) -> list[str]:
    table = "automations" if kind == "automation" else "runs"
    rows = connection.execute(
        f"SELECT id FROM {table} WHERE starts_with(id, %s) AND {_IN_SCOPE} ORDER BY id LIMIT %s",
        (prefix, scope.project, scope.directory, limit),
    )
    return [str(id) for (id,) in rows]


def count_executed(connection: Connection, scope: Scope, automation_id: str) -> int:
    """Runs that executed, a chain of retries once (see `sqlite/_reader.py`)."""
    rows = connection.execute(
        "SELECT CASE WHEN slot IS NULL THEN body END FROM runs WHERE automation_id = %s"
        f" AND {_IN_SCOPE} AND state IN ('succeeded', 'failed')",
        (automation_id, scope.project, scope.directory),
    )
    return sum(1 for (body,) in rows if body is None or not is_retry(_blob(body)))


def due_automations(
    connection: Connection, scope: Scope, until_ms: int, limit: int
) -> list[tuple[str, int]]:
    rows = connection.execute(
        f"SELECT id, next_fire_at FROM automations WHERE next_fire_at <= %s AND {_IN_SCOPE}"
        " ORDER BY next_fire_at LIMIT %s",
        (until_ms, scope.project, scope.directory, limit),
    )
    return [(str(id), int(at)) for id, at in rows]


def active_owners(connection: Connection, scope: Scope) -> list[str]:
    rows = connection.execute(
        f"SELECT DISTINCT owner FROM runs WHERE owner IS NOT NULL AND {_IN_SCOPE}",
        (scope.project, scope.directory),
    )
    return [str(owner) for (owner,) in rows]


def owner_of(connection: Connection, scope: Scope, run_id: str) -> str | None:
    owner = _one(
        connection,
        f"SELECT owner FROM runs WHERE id = %s AND {_IN_SCOPE}",
        (run_id, scope.project, scope.directory),
    )
    return None if owner is None else str(owner)


def latest_checkpoint(connection: Connection, run_id: str) -> bytes | None:
    data = _one(connection, "SELECT data FROM checkpoints WHERE run_id = %s", (run_id,))
    return None if data is None else _blob(data)


def stored_answer(
    connection: Connection, scope: Scope, run_id: str, blocker_id: str
) -> bytes | None:
    reply = _one(
        connection,
        f"SELECT reply FROM answers WHERE run_id = %s AND blocker_id = %s AND {_IN_SCOPE}",
        (run_id, blocker_id, scope.project, scope.directory),
    )
    return None if reply is None else _blob(reply)
