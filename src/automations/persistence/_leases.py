"""The scheduler lease of each scope, and the fencing of the writes made under it.

Each scope (project, directory) has its own lease, so workers of different projects
on one database each fire their own schedules. The epoch grows on every acquisition;
a write carrying an older epoch is refused, so a holder that was frozen past its
take-over cannot fire anything twice. The holder renews the row; a standby may take
a lease whose renewals stopped (`TakeStaleLease`).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import apsw
import msgspec

from ..model import LeaseLost, Scope, to_ms

__all__ = [
    "AcquireLease",
    "LeaseRow",
    "RenewLease",
    "TakeStaleLease",
    "check_epoch",
    "lease_name",
    "lease_row",
]


def lease_name(scope: Scope) -> str:
    """The `leases` row of a scope's scheduler (JSON, so any project name is safe)."""
    return "scheduler:" + msgspec.json.encode([scope.project, scope.directory]).decode()


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


class LeaseRow(NamedTuple):
    epoch: int
    holder: str
    renewed_ms: int
    """Wall-clock epoch milliseconds of the holder's last renewal."""


def lease_row(connection: apsw.Connection, scope: Scope) -> LeaseRow | None:
    row = connection.execute(
        "SELECT epoch, holder, renewed_at FROM leases WHERE name = ?", (lease_name(scope),)
    ).fetchone()
    return None if row is None else LeaseRow(int(row[0]), str(row[1]), int(row[2]))


class AcquireLease(msgspec.Struct, gc=False, frozen=True):
    """Record a new holder of a scope's lease (whose file lock it already holds)."""

    scope: Scope
    holder: str
    at: datetime
    renewed_ms: int = 0

    def apply(self, connection: apsw.Connection) -> int:
        name = lease_name(self.scope)
        row = connection.execute("SELECT epoch FROM leases WHERE name = ?", (name,)).fetchone()
        epoch = 1 if row is None else int(row[0]) + 1
        connection.execute(
            "INSERT INTO leases (name, epoch, holder, acquired_at, renewed_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch,"
            " holder = excluded.holder, acquired_at = excluded.acquired_at,"
            " renewed_at = excluded.renewed_at",
            (name, epoch, self.holder, to_ms(self.at), self.renewed_ms),
        )
        return epoch


class RenewLease(msgspec.Struct, gc=False, frozen=True):
    """The holder's heartbeat; `LeaseLost` if another process took the lease."""

    scope: Scope
    epoch: int
    renewed_ms: int

    def apply(self, connection: apsw.Connection) -> None:
        connection.execute(
            "UPDATE leases SET renewed_at = ? WHERE name = ? AND epoch = ?",
            (self.renewed_ms, lease_name(self.scope), self.epoch),
        )
        if connection.changes() == 0:
            check_epoch(connection, self.scope, self.epoch)  # raises LeaseLost


class TakeStaleLease(msgspec.Struct, gc=False, frozen=True):
    """Take over a lease whose holder stopped renewing; the new epoch, or None when
    another standby took it first (the row is no longer at `seen_epoch`)."""

    scope: Scope
    holder: str
    at: datetime
    seen_epoch: int
    renewed_ms: int

    def apply(self, connection: apsw.Connection) -> int | None:
        connection.execute(
            "UPDATE leases SET epoch = epoch + 1, holder = ?, acquired_at = ?, renewed_at = ?"
            " WHERE name = ? AND epoch = ?",
            (
                self.holder,
                to_ms(self.at),
                self.renewed_ms,
                lease_name(self.scope),
                self.seen_epoch,
            ),
        )
        return self.seen_epoch + 1 if connection.changes() else None
