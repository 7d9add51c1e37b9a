"""Messages to an AutomationActor. Commands carry the `Reply` their sender awaits.

Unlike the model's values, messages stay tracked by the garbage collector: a failed
reply holds an exception whose traceback can reference the message, a cycle only the
collector can free.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from ..model import Automation, AutomationPatch, Overlap, Run, Tombstone
from ..persistence import Adopted
from ..runtime import Reply
from ._fire_limit import Permit
from ._retries import NextAttempt

if TYPE_CHECKING:
    from ._run_actor import RunActor

__all__ = [
    "Adopt",
    "AutomationMessage",
    "BackfillSlot",
    "Delete",
    "Fire",
    "Refresh",
    "Reload",
    "RunEnded",
    "RunNow",
    "Update",
]


class Update(msgspec.Struct, frozen=True):
    patch: AutomationPatch
    expected_revision: int | None
    reply: Reply[Automation]


class Delete(msgspec.Struct, frozen=True):
    reply: Reply[Tombstone]


class RunNow(msgspec.Struct, frozen=True):
    reply: Reply[Run]
    run_id: str | None = None
    """The id to give the run (a command from another process chose it), or a new one."""


class BackfillSlot(msgspec.Struct, frozen=True):
    """Run the past slot `slot` now, as a backfill (`Runtime.backfill`); the reply fails
    with `DuplicateSlot` when the slot has a run already."""

    slot: datetime
    reply: Reply[Run]
    overlap: Overlap | None = None
    """The overlap policy for this run; None: the automation's."""
    run_id: str | None = None
    """The id to give the run (a command from another process chose it), or a new one."""


class RunEnded(msgspec.Struct, frozen=True):
    """A run of this automation reached a terminal state (or never got recorded)."""

    run_id: str
    run: Run | None
    retry: NextAttempt | None = None
    """Its next attempt, recorded `scheduled` with its end (see `_retries`)."""
    epoch: int | None = None
    """The lease epoch it was fired under (None: not a fire)."""

    @classmethod
    def of(cls, actor: RunActor) -> RunEnded:
        nxt = actor.next_attempt
        run = actor.run if actor.recorded else None
        return cls(actor.id, run, nxt if nxt.run else None, actor.epoch)


class Fire(msgspec.Struct, frozen=True):
    """The scheduler says: the slot `slot` (the automation's next fire) is due.

    `at_startup` marks fires found by the scheduler's first look after the runtime
    opened: a one-shot whose time passed while nothing ran is recorded as missed.
    """

    slot: datetime
    at_startup: bool = False
    epoch: int | None = None
    """The lease epoch the scheduler fires under; the writes it causes carry it."""
    permit: Permit | None = None
    """The fire's share of the process's `FireLimit`, held by the run it starts."""


class Refresh(msgspec.Struct, frozen=True):
    """Another process changed the definition (`automation`) or deleted it (None)."""

    automation: Automation | None


class Reload(msgspec.Struct, frozen=True):
    """A write of the actor's failed: read the definition again from the database, and
    have the scheduler look at its next fire again (a slot whose fire was refused is
    still due)."""


class Adopt(msgspec.Struct, frozen=True):
    """Go on with a run whose process died (see `persistence.ReconcileRuns`)."""

    adopted: Adopted


AutomationMessage = (
    Update | Delete | RunNow | RunEnded | Fire | Refresh | Reload | Adopt | BackfillSlot
)
