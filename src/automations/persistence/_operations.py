"""Write operations as plain data: what a write means, not how a store does it.

Each store applies an operation in one transaction with others and checks its
invariant there (compare-and-swap on `revision`, the run state machine, the scope,
the fencing epoch); a failed check raises, and fails that operation alone. What a
store returns for an operation is its type parameter: `store.write(SaveAutomation(...))`
is an `int`, the journal sequence number. Operations are frozen Structs of values
(`gc=False`, as the model's are): they are built for every transition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Generic, TypeVar

import msgspec

from ..model import Automation, Conflict, NotFound, Run, Scope, Tombstone

__all__ = [
    "CreateAutomations",
    "DeleteAutomation",
    "Operation",
    "Replay",
    "SaveAutomation",
    "SaveCheckpoint",
    "SaveProgress",
    "StoreAnswer",
    "check_revision",
    "require",
    "state_of",
]

T_co = TypeVar("T_co", covariant=True)


class Operation(msgspec.Struct, Generic[T_co], frozen=True, gc=False):
    """A write as plain data; `T_co` is what its writer hears once it is durable."""


class SaveAutomation(Operation[int], frozen=True, gc=False):
    """Create (`expected_revision=None`) or update an automation; its journal seq.

    A `derived` update changes only fields the runtime derives (next fires, failure
    streak, session): the revision stays, but the compare-and-swap still applies.
    """

    scope: Scope
    automation: Automation
    expected_revision: int | None
    derived: bool = False
    epoch: int | None = None
    """The scheduler lease's epoch when the write is made under it (fencing)."""
    slot_with_run: datetime | None = None
    """A fire's derived write: made only if this slot of the automation has its run
    (`Conflict` otherwise), so the next fire passes a slot only with its run."""

    def revision_step_is_right(self) -> bool:
        """An update adds 1 to the revision; a derived one adds nothing."""
        assert self.expected_revision is not None
        step = 0 if self.derived else 1
        return self.automation.revision == self.expected_revision + step


class CreateAutomations(Operation[list[int]], frozen=True, gc=False):
    """Create many automations at once: all of them or none; their journal seqs."""

    scope: Scope
    automations: Sequence[Automation]

    def check(self) -> None:
        for automation in self.automations:
            require(automation.revision == 1, "a new automation starts at revision 1")

    def taken_message(self) -> str:
        which = (
            f"automation {self.automations[0].id} already exists"
            if len(self.automations) == 1
            else "one of these automations' ids is already taken"
        )
        return f"{which}; nothing was created"


class DeleteAutomation(Operation[int], frozen=True, gc=False):
    """Delete an automation, leaving its tombstone in the journal and its runs in place."""

    scope: Scope
    tombstone: Tombstone
    expected_revision: int
    at: datetime


class StoreAnswer(Operation[bool], frozen=True, gc=False):
    """Record the answer to an open blocker before it is delivered.

    Answering again with the same reply changes nothing (False); a different reply to
    an answered blocker is a conflict. When the run executes in another process than
    `sender`, a command to deliver the answer goes to that process in the same
    transaction.
    """

    scope: Scope
    run_id: str
    blocker_id: str
    reply: str | bool
    at: datetime
    sender: str | None = None

    def check_open(self, run: Run) -> None:
        """The run must be waiting on this blocker."""
        if run.blocker is None or run.blocker.id != self.blocker_id:
            raise NotFound(
                f"run {self.run_id} is {state_of(run)}, not waiting on blocker "
                f"{self.blocker_id}; the answer was not stored"
            )


class SaveCheckpoint(Operation[None], frozen=True, gc=False):
    """Keep the latest checkpoint of a run."""

    run_id: str
    data: bytes
    at: datetime


class SaveProgress(Operation[None], frozen=True, gc=False):
    """Keep how many steps a running run has taken, between its transitions: if its
    process dies, the run is ended (or resumed) with them, not with the steps of its
    last transition."""

    run_id: str
    steps: int
    at: datetime


class Replay(Operation[int], frozen=True, gc=False):
    """Throw the projections away and rebuild them from every journal entry, in order;
    how many entries were replayed. The journal is the truth, the projections a cache."""


def check_revision(kind: str, id: str, stored: int, expected: int) -> None:
    if stored != expected:
        raise Conflict(
            f"{kind} {id} is at revision {stored}, not {expected}; "
            "read it again and retry the change on the current revision"
        )


def require(condition: bool, message: str) -> None:
    """An operation built against the rules (a bug in its caller, not a race)."""
    if not condition:
        raise ValueError(message)


def state_of(run: Run) -> str:
    """'stopped/cancelled', 'failed/needs_user_input', 'awaiting_input on blocker_...'."""
    if run.stop_reason is not None:
        return f"{run.state.value}/{run.stop_reason.value}"
    if run.error is not None:
        return f"{run.state.value}/{run.error.code.value}"
    if run.blocker is not None:
        return f"{run.state.value} on {run.blocker.id}"
    return run.state.value
