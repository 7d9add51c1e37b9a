"""The scheduler lease of each scope, and the fencing of the writes made under it.

Each scope (project, directory) has its own lease, so workers of different projects
on one database each fire their own schedules. The epoch grows on every acquisition;
a write carrying an older epoch is refused, so a holder that was frozen past its
take-over cannot fire anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import apsw
import msgspec

from ..model import LeaseLost, Scope, to_ms

__all__ = ["AcquireLease", "check_epoch", "lease_name"]


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


@dataclass(frozen=True, slots=True)
class AcquireLease:
    """Record a new holder of a scope's lease (whose file lock it already holds)."""

    scope: Scope
    holder: str
    at: datetime

    def apply(self, connection: apsw.Connection) -> int:
        name = lease_name(self.scope)
        row = connection.execute("SELECT epoch FROM leases WHERE name = ?", (name,)).fetchone()
        epoch = 1 if row is None else int(row[0]) + 1
        connection.execute(
            "INSERT INTO leases (name, epoch, holder, acquired_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch,"
            " holder = excluded.holder, acquired_at = excluded.acquired_at",
            (name, epoch, self.holder, to_ms(self.at)),
        )
        return epoch
