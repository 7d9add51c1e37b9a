"""The readers' queries, each a function of one connection, scoped by project and
directory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from ...model import Automation, Run, Scope, from_ms, from_msgpack
from .._journal import JournalEntry, Page, is_retry
from ._connection import Sql, chunks
from ._projection import JOURNAL_COLUMNS

__all__ = [
    "active_owners",
    "active_owners_by_scope",
    "automation_by_key",
    "automation_scopes",
    "automations_by_ids",
    "count_executed",
    "due_automations",
    "due_in_shards",
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
    "shard_scopes",
    "stored_answer",
]

_IN_SCOPE = "project = ? AND directory = ?"


def _one(sql: Sql, statement: str, params: tuple[object, ...]) -> object | None:
    row = sql.execute(statement, params).fetchone()
    return None if row is None else row[0]


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"expected a stored body, got {type(value).__name__}")
    return value


def get_automation(sql: Sql, scope: Scope, id: str) -> Automation | None:
    return _automation_where(sql, scope, "id", id)


def automation_by_key(sql: Sql, scope: Scope, key: str) -> Automation | None:
    return _automation_where(sql, scope, "key", key)


def _automation_where(
    sql: Sql, scope: Scope, column: Literal["id", "key"], value: str
) -> Automation | None:
    """The automation of `scope` whose `column` (unique in a scope) is `value`."""
    body = _one(
        sql,
        f"SELECT body FROM automations WHERE {column} = ? AND {_IN_SCOPE}",
        (value, scope.project, scope.directory),
    )
    return None if body is None else from_msgpack(_blob(body), Automation)


def list_automations(sql: Sql, scope: Scope) -> list[Automation]:
    rows = sql.execute(
        f"SELECT body FROM automations WHERE {_IN_SCOPE} ORDER BY updated_at DESC, id DESC",
        (scope.project, scope.directory),
    )
    return [from_msgpack(body, Automation) for (body,) in rows]


def automations_by_ids(sql: Sql, scope: Scope, ids: list[str]) -> list[Automation]:
    """Those of `ids` that exist in `scope`, in no particular order."""
    found: list[Automation] = []
    for chunk in chunks(ids):
        marks = ", ".join("?" * len(chunk))
        rows = sql.execute(
            f"SELECT body FROM automations WHERE {_IN_SCOPE} AND id IN ({marks})",
            (scope.project, scope.directory, *chunk),
        )
        found += (from_msgpack(body, Automation) for (body,) in rows)
    return found


def get_run(sql: Sql, scope: Scope, id: str) -> Run | None:
    body = _one(
        sql,
        f"SELECT body FROM runs WHERE id = ? AND {_IN_SCOPE}",
        (id, scope.project, scope.directory),
    )
    return None if body is None else from_msgpack(_blob(body), Run)


def runs_page(sql: Sql, scope: Scope, automation_id: str, limit: int, cursor: str | None) -> Page:
    """Runs newest first (`triggeredAt` desc, `id` desc), keyset-paginated.

    The cursor is the id of the last run of the previous page; a cursor that names no
    run of this automation in this scope gives an empty page.
    """
    where = f"automation_id = ? AND {_IN_SCOPE}"
    params: tuple[object, ...] = (automation_id, scope.project, scope.directory)
    if cursor is not None:
        at = _one(
            sql,
            f"SELECT triggered_at FROM runs WHERE id = ? AND {where}",
            (cursor, *params),
        )
        if at is None:
            return Page([], None)
        where += " AND (triggered_at, id) < (?, ?)"
        params = (*params, at, cursor)
    rows = sql.execute(
        f"SELECT id, body FROM runs WHERE {where} ORDER BY triggered_at DESC, id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    items = [from_msgpack(_blob(body), Run) for _, body in rows[:limit]]
    next_cursor = str(rows[limit - 1][0]) if len(rows) > limit else None
    return Page(items, next_cursor)


def scoped_journal(sql: Sql, scope: Scope, after: int, limit: int) -> list[JournalEntry]:
    rows = sql.execute(
        f"SELECT {JOURNAL_COLUMNS} FROM journal WHERE {_IN_SCOPE} AND seq > ? ORDER BY seq LIMIT ?",
        (scope.project, scope.directory, after, limit),
    )
    return [JournalEntry(*row) for row in rows]


def run_history(sql: Sql, scope: Scope, run_id: str) -> list[tuple[datetime, Run]]:
    rows = sql.execute(
        f"SELECT at, body FROM journal WHERE entity_id = ? AND {_IN_SCOPE} ORDER BY seq",
        (run_id, scope.project, scope.directory),
    )
    return [(from_ms(at), from_msgpack(body, Run)) for at, body in rows]


def last_seq(sql: Sql) -> int:
    return _int(_one(sql, "SELECT coalesce(max(seq), 0) FROM journal", ()))


def last_scoped_seq(sql: Sql, scope: Scope) -> int:
    value = _one(
        sql,
        f"SELECT coalesce(max(seq), 0) FROM journal WHERE {_IN_SCOPE}",
        (scope.project, scope.directory),
    )
    return _int(value)


def automation_scopes(sql: Sql) -> list[tuple[Scope, int]]:
    rows = sql.execute(
        "SELECT project, directory, count(*) FROM automations"
        " GROUP BY project, directory ORDER BY project, directory"
    )
    return [(Scope(str(project), str(directory)), int(n)) for project, directory, n in rows]


def ids_with_prefix(
    sql: Sql,
    scope: Scope,
    kind: Literal["automation", "run"],
    prefix: str,
    limit: int,
) -> list[str]:
    table = "automations" if kind == "automation" else "runs"
    rows = sql.execute(  # a range of the id index (ids sort by code point on both)
        f"SELECT id FROM {table} WHERE id >= ? AND id < ? AND {_IN_SCOPE} ORDER BY id LIMIT ?",
        (prefix, prefix + "\U0010ffff", scope.project, scope.directory, limit),
    )
    return [str(id) for (id,) in rows]


def count_executed(sql: Sql, scope: Scope, automation_id: str) -> int:
    """Runs that executed (succeeded or failed), as a count stop counts them: a chain of
    retries once, by its first (a retry, slotless as a manual run, is told by its body)."""
    rows = sql.execute(
        "SELECT CASE WHEN slot IS NULL THEN body END FROM runs WHERE automation_id = ?"
        f" AND {_IN_SCOPE} AND state IN ('succeeded', 'failed')",
        (automation_id, scope.project, scope.directory),
    )
    return sum(1 for (body,) in rows if body is None or not is_retry(_blob(body)))


def due_in_shards(
    sql: Sql, shards: Sequence[int], until_ms: int, limit: int
) -> list[tuple[Scope, str, int]]:
    if not shards:
        return []
    marks = ", ".join("?" * len(shards))
    rows = sql.execute(
        "SELECT project, directory, id, next_fire_at FROM automations"
        f" WHERE shard IN ({marks}) AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?",
        (*shards, until_ms, limit),
    )
    return [(Scope(str(p), str(d)), str(id), int(at)) for p, d, id, at in rows]


def shard_scopes(sql: Sql, shards: Sequence[int]) -> list[Scope]:
    if not shards:
        return []
    marks = ", ".join("?" * len(shards))
    rows = sql.execute(
        f"SELECT DISTINCT project, directory FROM automations WHERE shard IN ({marks})"
        " ORDER BY project, directory",
        tuple(shards),
    )
    return [Scope(str(project), str(directory)) for project, directory in rows]


def due_automations(sql: Sql, scope: Scope, until_ms: int, limit: int) -> list[tuple[str, int]]:
    rows = sql.execute(
        f"SELECT id, next_fire_at FROM automations WHERE next_fire_at <= ? AND {_IN_SCOPE}"
        " ORDER BY next_fire_at LIMIT ?",
        (until_ms, scope.project, scope.directory, limit),
    )
    return [(str(id), int(at)) for id, at in rows]


def active_owners(sql: Sql, scope: Scope) -> list[str]:
    rows = sql.execute(
        f"SELECT DISTINCT owner FROM runs WHERE owner IS NOT NULL AND {_IN_SCOPE}",
        (scope.project, scope.directory),
    )
    return [str(owner) for (owner,) in rows]


def active_owners_by_scope(sql: Sql) -> dict[Scope, list[str]]:
    rows = sql.execute(
        "SELECT DISTINCT project, directory, owner FROM runs WHERE owner IS NOT NULL"
    )
    owners: dict[Scope, list[str]] = {}
    for project, directory, owner in rows:
        owners.setdefault(Scope(str(project), str(directory)), []).append(str(owner))
    return owners


def owner_of(sql: Sql, scope: Scope, run_id: str) -> str | None:
    owner = _one(
        sql,
        f"SELECT owner FROM runs WHERE id = ? AND {_IN_SCOPE}",
        (run_id, scope.project, scope.directory),
    )
    return None if owner is None else str(owner)


def latest_checkpoint(sql: Sql, run_id: str) -> bytes | None:
    data = _one(sql, "SELECT data FROM checkpoints WHERE run_id = ?", (run_id,))
    return None if data is None else _blob(data)


def stored_answer(sql: Sql, scope: Scope, run_id: str, blocker_id: str) -> bytes | None:
    reply = _one(
        sql,
        f"SELECT reply FROM answers WHERE run_id = ? AND blocker_id = ? AND {_IN_SCOPE}",
        (run_id, blocker_id, scope.project, scope.directory),
    )
    return None if reply is None else _blob(reply)
