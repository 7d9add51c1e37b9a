"""What a store says about itself when a person asks (`automations doctor`).

Each store looks at its own database without opening it for work (nothing is created,
migrated or locked, so a damaged or foreign database can be examined): it judges
what only it understands (its schema, its files, its server) as `Check`s, and reports
the facts every store shares (leases, active runs, overdue automations) for the
doctor to judge against the time and its thresholds.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

from ..model import Scope

__all__ = [
    "ActiveRunFact",
    "Check",
    "Diagnose",
    "LeaseFact",
    "OverdueFact",
    "ScopeFact",
    "Severity",
    "StoreHealth",
]

Severity = Literal["ok", "warning", "error"]
"""`ok`: as it should be; `warning`: works, but needs a person soon; `error`: broken."""

ACTIVE_STATES = ("scheduled", "running", "awaiting_input")


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """One thing a store examined: what was found and, unless ok, what to do."""

    name: str
    severity: Severity
    detail: str
    advice: str = ""


class ScopeFact(msgspec.Struct, frozen=True, kw_only=True):
    scope: Scope
    automations: int
    scheduled: int
    """Automations with a next fire (not paused, not finished): they need a worker."""


class LeaseFact(msgspec.Struct, frozen=True, kw_only=True):
    scope: Scope
    epoch: int
    holder: str
    acquired_ms: int
    renewed_ms: int
    holder_alive: bool | None
    """Whether the holder's lock is held now; None when it cannot be told."""


class ActiveRunFact(msgspec.Struct, frozen=True, kw_only=True):
    scope: Scope
    run_id: str
    automation_id: str
    state: str
    since_ms: int
    """When the run entered its state (its last journal entry), epoch ms; for a run
    scheduled to start later (a retry's backoff, a jittered slot), when it may start."""
    owner: str | None
    owner_alive: bool | None
    max_duration_ms: int | None


class OverdueFact(msgspec.Struct, frozen=True, kw_only=True):
    scope: Scope
    automation_id: str
    next_fire_ms: int


class StoreHealth(msgspec.Struct, frozen=True, kw_only=True):
    """A store's report on itself. `readable` is false when its tables could not be
    read (the facts are then empty and a `Check` says why)."""

    store: Literal["sqlite", "postgresql"]
    location: str
    checks: tuple[Check, ...]
    readable: bool
    scopes: tuple[ScopeFact, ...] = ()
    leases: tuple[LeaseFact, ...] = ()
    active_runs: tuple[ActiveRunFact, ...] = ()
    overdue: tuple[OverdueFact, ...] = ()
    overdue_total: int = 0
    """How many automations are overdue; `overdue` lists the earliest of them."""


class Diagnose(Protocol):
    """What each store implements: examine the database at `location` (blocking: call
    it in a thread), taking automations whose next fire is before `overdue_before_ms`
    as overdue and listing at most `limit` of each kind of fact."""

    def __call__(self, location: str, *, overdue_before_ms: int, limit: int) -> StoreHealth: ...
