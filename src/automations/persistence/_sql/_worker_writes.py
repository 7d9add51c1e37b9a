"""The `workers` table: one heartbeat row per worker process (see `_workers.py`)."""

from __future__ import annotations

from ...model import Worker, from_msgpack, to_ms, to_msgpack
from .._workers import Depart, Heartbeat
from ._connection import Sql

__all__ = ["depart", "heartbeat", "live_workers"]


FORGET_MS = 60 * 60 * 1000
"""How long past its expiry, by the clock of the worker beating, another worker's row
is dropped: far beyond any skew between hosts' clocks, which would otherwise have one
host drop the live rows of another whose clock is behind."""


def heartbeat(sql: Sql, op: Heartbeat) -> None:
    worker = op.worker
    beat = to_ms(worker.heartbeat_at)
    sql.execute(
        "DELETE FROM workers WHERE expires_at < ? AND id <> ?", (beat - FORGET_MS, worker.id)
    )
    sql.execute(
        "INSERT INTO workers (id, heartbeat_at, expires_at, body) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,"
        " expires_at = excluded.expires_at, body = excluded.body",
        (worker.id, beat, to_ms(worker.expires_at), to_msgpack(worker)),
    )


def depart(sql: Sql, op: Depart) -> None:
    sql.execute("DELETE FROM workers WHERE id = ?", (op.worker_id,))


def live_workers(sql: Sql, now_ms: int) -> list[Worker]:
    """The workers whose heartbeat has not expired at `now_ms`, by id."""
    rows = sql.execute(
        "SELECT body FROM workers WHERE expires_at >= ? ORDER BY id", (now_ms,)
    ).fetchall()
    return [from_msgpack(bytes(body), Worker) for (body,) in rows]
