"""How the scheduler leases are kept: one row per lease (a scope's, or a shard's), with
its epoch. An epoch is given once in the whole database (`Sql.next_epoch`), so it
names one term of one lease: a write of a scope is fenced by whichever of the scope's
two leases it was made under.

Every fencing check is in the SQL of the write it guards, or reads the row in the
writer's transaction (which holds the write lock: no other writer moves the epoch
between the check and the commit)."""

from __future__ import annotations

import msgspec

from ...model import LeaseLost, Scope, to_ms
from .._leases import (
    HANDED_OVER,
    AcquireLease,
    LeaseRow,
    ReleaseLease,
    RenewLeases,
    TakeStaleLease,
    lease_name,
)
from .._shards import shard_lease_name, shard_of
from ._connection import Sql, chunks

__all__ = [
    "acquire_lease",
    "check_epoch",
    "lease_row",
    "lease_rows",
    "release_lease",
    "renew_leases",
    "take_stale_lease",
]


def check_epoch(sql: Sql, scope: Scope, epoch: int | None) -> None:
    """Refuse a write made under a lease epoch that is no longer the current one of the
    scope's lease or of its shard's."""
    if epoch is None:
        return
    own = sql.lease_epoch(lease_name(scope))
    if own == epoch or sql.lease_epoch(shard_lease_name(shard_of(scope))) == epoch:
        return
    raise LeaseLost(
        f"this process wrote under lease epoch {epoch}, which its lease has moved on "
        "from: another process took it over; this one steps down"
    )


def lease_row(sql: Sql, lease: str) -> LeaseRow | None:
    row = sql.execute(
        "SELECT epoch, holder, renewed_at, executors FROM leases WHERE name = ?",
        (lease,),
    ).fetchone()
    if row is None:
        return None
    executors = tuple(msgspec.json.decode(row[3], type=list[str])) if row[3] else ()
    return LeaseRow(int(row[0]), str(row[1]), int(row[2]), executors)


def lease_rows(sql: Sql) -> dict[str, LeaseRow]:
    """Every lease row (the scopes' and the shards'), by lease name."""
    rows = sql.execute(
        "SELECT name, epoch, holder, renewed_at, executors FROM leases ORDER BY name"
    ).fetchall()
    return {
        str(name): LeaseRow(
            int(epoch),
            str(holder),
            int(renewed),
            tuple(msgspec.json.decode(executors, type=list[str])) if executors else (),
        )
        for name, epoch, holder, renewed, executors in rows
    }


def _names(executors: tuple[str, ...]) -> str:
    return msgspec.json.encode(sorted(executors)).decode()


def acquire_lease(sql: Sql, op: AcquireLease) -> int:
    row = sql.execute(
        "INSERT INTO leases (name, epoch, holder, acquired_at, renewed_at, executors)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch,"
        " holder = excluded.holder, acquired_at = excluded.acquired_at,"
        " renewed_at = excluded.renewed_at, executors = excluded.executors"
        " RETURNING epoch",
        (
            op.lease,
            sql.next_epoch(),
            op.holder,
            to_ms(op.at),
            op.renewed_ms,
            _names(op.executors),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def renew_leases(sql: Sql, op: RenewLeases) -> tuple[tuple[str, int], ...]:
    """One statement per `_RENEWED_AT_ONCE` leases: those still at their epoch are
    renewed and named back; the others are lost. (Read back, not counted, so that a
    lost lease is known at once, also where results arrive late.)"""
    held = dict.fromkeys(op.held)
    pairs = list(held)
    for start in range(0, len(pairs), _RENEWED_AT_ONCE):
        chunk = pairs[start : start + _RENEWED_AT_ONCE]
        values = ", ".join("(?, ?)" for _ in chunk)
        rows = sql.execute(
            f"UPDATE leases SET renewed_at = ? WHERE (name, epoch) IN (VALUES {values})"
            " RETURNING name, epoch",
            (op.renewed_ms, *(value for pair in chunk for value in pair)),
        ).fetchall()
        for name, epoch in rows:
            held.pop((str(name), int(epoch)), None)
    return tuple(held)


_RENEWED_AT_ONCE = 400
"""Leases per statement: two parameters each, well below SQLite's limit."""


def take_stale_lease(sql: Sql, op: TakeStaleLease) -> int | None:
    row = sql.execute(
        "UPDATE leases SET epoch = ?, holder = ?, acquired_at = ?, renewed_at = ?,"
        " executors = ? WHERE name = ? AND epoch = ? RETURNING epoch",
        (
            sql.next_epoch(),
            op.holder,
            to_ms(op.at),
            op.renewed_ms,
            _names(op.executors),
            op.lease,
            op.seen_epoch,
        ),
    ).fetchone()
    return None if row is None else int(row[0])


def release_lease(sql: Sql, op: ReleaseLease) -> bool:
    sql.execute(
        "UPDATE leases SET holder = '', epoch = ? WHERE name = ? AND epoch = ?",
        (sql.next_epoch(), op.lease, op.epoch),
    )
    released = sql.changes() > 0
    for runs in chunks(op.runs):
        marks = ", ".join("?" * len(runs))
        sql.execute(
            f"UPDATE runs SET owner = ? WHERE id IN ({marks}) AND owner = ? AND state = ?",
            (HANDED_OVER, *runs, op.owner, "scheduled"),
        )
    return released
