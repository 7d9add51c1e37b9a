"""The scheduler leases, and the fencing of the writes made under them.

Each scope (project, directory) has its own lease, so workers of different projects
on one database each fire their own schedules; each shard of scopes has one too
(`_shards.py`), for a fleet. Every acquisition gives the lease an epoch no lease had
before; a write carrying an epoch its lease has moved on from is refused
(`LeaseLost`), so a holder that was frozen past its take-over cannot fire anything
twice. The holder renews its leases; a standby may take one whose renewals stopped
(`TakeStaleLease`). Leases are named (`lease_name`): the operations take the name.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import msgspec

from ..model import Scope
from ._operations import Operation

__all__ = [
    "HANDED_OVER",
    "AcquireLease",
    "LeaseRow",
    "ReleaseLease",
    "RenewLeases",
    "TakeStaleLease",
    "lease_name",
]


def lease_name(scope: Scope) -> str:
    """The name of a scope's scheduler lease (JSON, so any project name is safe)."""
    return "scheduler:" + msgspec.json.encode([scope.project, scope.directory]).decode()


class LeaseRow(NamedTuple):
    epoch: int
    holder: str
    renewed_ms: int
    """Wall-clock epoch milliseconds of the holder's last renewal."""
    executors: tuple[str, ...] = ()
    """The executors the holder registered (empty for a row written before v7)."""


class AcquireLease(Operation[int], frozen=True, gc=False):
    """Record a new holder of the lease named `lease` (whose process lock it already
    holds); the new epoch."""

    lease: str
    holder: str
    at: datetime
    renewed_ms: int = 0
    executors: tuple[str, ...] = ()
    """The executors the holder registered: clients can tell which it runs."""


class RenewLeases(Operation[tuple[tuple[str, int], ...]], frozen=True, gc=False):
    """The holder's heartbeat for every lease it holds, in one write whatever their
    number (a fleet worker may lead thousands of scopes); the `(lease, epoch)` pairs it
    lost (another process took them over: those terms end)."""

    held: tuple[tuple[str, int], ...]
    renewed_ms: int


class TakeStaleLease(Operation[int | None], frozen=True, gc=False):
    """Take over a lease whose holder stopped renewing; the new epoch, or None when
    another standby took it first (the lease is no longer at `seen_epoch`)."""

    lease: str
    holder: str
    at: datetime
    seen_epoch: int
    renewed_ms: int
    executors: tuple[str, ...] = ()


HANDED_OVER = "(handed over)"
"""The owner of runs a holder handed over with its lease: no process, so the scope's
next holder reconciles them as a dead process's (it starts each at its slot)."""


class ReleaseLease(Operation[bool], frozen=True, gc=False):
    """The holder lets the lease go while it lives on (a fleet hands a scope to another
    worker): the row is left with no holder and a new epoch, so the next to take the
    lock leads at once and nothing written under the old epoch lands after this. The
    holder's `runs` (`owner`'s, still `scheduled`: recorded ahead of their slot, or
    waiting for a retry) go with it: their owner becomes `HANDED_OVER`. Whether the
    lease was still at `epoch` (else another holder has it: the lease is left as it
    is, the runs are handed over all the same)."""

    lease: str
    epoch: int
    owner: str = ""
    runs: tuple[str, ...] = ()
