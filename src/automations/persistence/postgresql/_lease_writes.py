"""How PostgreSQL keeps the scheduler leases: one row per scope, with its epoch.

Every fencing check is in the SQL of the write it guards, or reads the row in the
writer's transaction (which holds the journal lock, so no other writer moves the
epoch between the check and the commit)."""

from __future__ import annotations

import msgspec

from ...model import LeaseLost, Scope, to_ms
from .._leases import AcquireLease, LeaseRow, RenewLease, TakeStaleLease, lease_name
from ._connection import Connection

__all__ = ["acquire_lease", "check_epoch", "lease_row", "renew_lease", "take_stale_lease"]


def check_epoch(connection: Connection, scope: Scope, epoch: int | None) -> None:
    """Refuse a write made under a lease epoch that is no longer the current one."""
    if epoch is None:
        return
    row = connection.execute(
        "SELECT epoch FROM leases WHERE name = %s", (lease_name(scope),)
    ).fetchone()
    if row is None or int(row[0]) != epoch:
        current = None if row is None else int(row[0])
        raise LeaseLost(
            f"this process wrote under lease epoch {epoch}, but the lease is at epoch "
            f"{current}: another process took it over; this one steps down"
        )


def lease_row(connection: Connection, scope: Scope) -> LeaseRow | None:
    row = connection.execute(
        "SELECT epoch, holder, renewed_at, executors FROM leases WHERE name = %s",
        (lease_name(scope),),
    ).fetchone()
    if row is None:
        return None
    executors = tuple(msgspec.json.decode(row[3], type=list[str])) if row[3] else ()
    return LeaseRow(int(row[0]), str(row[1]), int(row[2]), executors)


def _names(executors: tuple[str, ...]) -> str:
    return msgspec.json.encode(sorted(executors)).decode()


def acquire_lease(connection: Connection, op: AcquireLease) -> int:
    row = connection.execute(
        "INSERT INTO leases (name, epoch, holder, acquired_at, renewed_at, executors)"
        " VALUES (%s, 1, %s, %s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET epoch = leases.epoch + 1,"
        " holder = excluded.holder, acquired_at = excluded.acquired_at,"
        " renewed_at = excluded.renewed_at, executors = excluded.executors"
        " RETURNING epoch",
        (lease_name(op.scope), op.holder, to_ms(op.at), op.renewed_ms, _names(op.executors)),
    ).fetchone()
    assert row is not None
    return int(row[0])


def renew_lease(connection: Connection, op: RenewLease) -> None:
    cursor = connection.execute(
        "UPDATE leases SET renewed_at = %s WHERE name = %s AND epoch = %s",
        (op.renewed_ms, lease_name(op.scope), op.epoch),
    )
    if cursor.rowcount == 0:
        check_epoch(connection, op.scope, op.epoch)  # raises LeaseLost


def take_stale_lease(connection: Connection, op: TakeStaleLease) -> int | None:
    row = connection.execute(
        "UPDATE leases SET epoch = epoch + 1, holder = %s, acquired_at = %s, renewed_at = %s,"
        " executors = %s WHERE name = %s AND epoch = %s RETURNING epoch",
        (
            op.holder,
            to_ms(op.at),
            op.renewed_ms,
            _names(op.executors),
            lease_name(op.scope),
            op.seen_epoch,
        ),
    ).fetchone()
    return None if row is None else int(row[0])
