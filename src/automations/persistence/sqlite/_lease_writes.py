"""How SQLite keeps the scheduler leases: one row per scope, with its epoch."""

from __future__ import annotations

import apsw
import msgspec

from ...model import LeaseLost, Scope, to_ms
from .._leases import AcquireLease, LeaseRow, RenewLease, TakeStaleLease, lease_name

__all__ = ["acquire_lease", "check_epoch", "lease_row", "renew_lease", "take_stale_lease"]


def check_epoch(connection: apsw.Connection, scope: Scope, epoch: int | None) -> None:
    """Refuse a write made under a lease epoch that is no longer the current one."""
    if epoch is None:
        return
    row = connection.execute(
        "SELECT epoch FROM leases WHERE name = ?", (lease_name(scope),)
    ).fetchone()
    if row is None or int(row[0]) != epoch:
        current = None if row is None else int(row[0])
        raise LeaseLost(
            f"this process wrote under lease epoch {epoch}, but the lease is at epoch "
            f"{current}: another process took it over; this one steps down"
        )


def lease_row(connection: apsw.Connection, scope: Scope) -> LeaseRow | None:
    row = connection.execute(
        "SELECT epoch, holder, renewed_at, executors FROM leases WHERE name = ?",
        (lease_name(scope),),
    ).fetchone()
    if row is None:
        return None
    executors = tuple(msgspec.json.decode(row[3], type=list[str])) if row[3] else ()
    return LeaseRow(int(row[0]), str(row[1]), int(row[2]), executors)


def _names(executors: tuple[str, ...]) -> str:
    return msgspec.json.encode(sorted(executors)).decode()


def acquire_lease(connection: apsw.Connection, op: AcquireLease) -> int:
    name = lease_name(op.scope)
    row = connection.execute("SELECT epoch FROM leases WHERE name = ?", (name,)).fetchone()
    epoch = 1 if row is None else int(row[0]) + 1
    connection.execute(
        "INSERT INTO leases (name, epoch, holder, acquired_at, renewed_at, executors)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch,"
        " holder = excluded.holder, acquired_at = excluded.acquired_at,"
        " renewed_at = excluded.renewed_at, executors = excluded.executors",
        (name, epoch, op.holder, to_ms(op.at), op.renewed_ms, _names(op.executors)),
    )
    return epoch


def renew_lease(connection: apsw.Connection, op: RenewLease) -> None:
    connection.execute(
        "UPDATE leases SET renewed_at = ? WHERE name = ? AND epoch = ?",
        (op.renewed_ms, lease_name(op.scope), op.epoch),
    )
    if connection.changes() == 0:
        check_epoch(connection, op.scope, op.epoch)  # raises LeaseLost


def take_stale_lease(connection: apsw.Connection, op: TakeStaleLease) -> int | None:
    connection.execute(
        "UPDATE leases SET epoch = epoch + 1, holder = ?, acquired_at = ?, renewed_at = ?,"
        " executors = ? WHERE name = ? AND epoch = ?",
        (
            op.holder,
            to_ms(op.at),
            op.renewed_ms,
            _names(op.executors),
            lease_name(op.scope),
            op.seen_epoch,
        ),
    )
    return op.seen_epoch + 1 if connection.changes() else None
