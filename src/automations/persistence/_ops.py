"""Write operations, run by the writer thread in a transaction with others.

Each operation checks its invariant (compare-and-swap on `revision`, the run state
machine, the scope) with the rows it is about to change, appends its journal entry
and updates the projection, and returns the entry's sequence number. A failed check
raises, and the writer sees to it that the operation fails alone. Operations are
frozen Structs of values (`gc=False`, as the model's are): they are built for every
transition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

import apsw
import msgspec

from ..model import (
    Automation,
    Conflict,
    NotFound,
    Run,
    Scope,
    Tombstone,
    from_msgpack,
    to_ms,
    to_msgpack,
)
from ._commands import AnswerCommand, enqueue
from ._leases import check_epoch
from ._projection import (
    AUTOMATION_DELETED,
    AUTOMATION_UPDATED,
    append_journal,
    append_journal_many,
    delete_automation_row,
    insert_automation_rows,
    update_automation_row,
)

__all__ = [
    "CreateAutomations",
    "DeleteAutomation",
    "Operation",
    "SaveAutomation",
    "SaveCheckpoint",
    "StoreAnswer",
]


T_co = TypeVar("T_co", covariant=True)


class Operation(Protocol[T_co]):
    """A write as plain data; what `apply` returns is what its writer hears."""

    def apply(self, connection: apsw.Connection) -> T_co:
        """Do the write; raise to have it rolled back alone."""
        ...


def check_revision(kind: str, id: str, stored: int, expected: int) -> None:
    if stored != expected:
        raise Conflict(
            f"{kind} {id} is at revision {stored}, not {expected}; "
            "read it again and retry the change on the current revision"
        )


def _stored_automation_revision(connection: apsw.Connection, scope: Scope, id: str) -> int | None:
    row = connection.execute(
        "SELECT revision FROM automations WHERE id = ? AND project = ? AND directory = ?",
        (id, scope.project, scope.directory),
    ).fetchone()
    return None if row is None else int(row[0])


class SaveAutomation(msgspec.Struct, gc=False, frozen=True):
    """Create (`expected_revision=None`) or update an automation.

    A `derived` update changes only fields the runtime derives (next fires, failure
    streak, session): the revision stays, but the compare-and-swap still applies.
    """

    scope: Scope
    automation: Automation
    expected_revision: int | None
    derived: bool = False
    epoch: int | None = None
    """The scheduler lease's epoch when the write is made under it (fencing)."""

    def apply(self, connection: apsw.Connection) -> int:
        check_epoch(connection, self.scope, self.epoch)
        automation = self.automation
        if self.expected_revision is None:
            return _create_automations(connection, self.scope, (automation,))[0]
        expected = self.expected_revision
        step = 0 if self.derived else 1
        if automation.revision != expected + step:
            self._diagnose(connection)  # a missing or stale row is what the caller hears
            require(False, "an update adds 1 to the revision")
        body = to_msgpack(automation)
        if not update_automation_row(connection, self.scope, automation, body, expected):
            self._diagnose(connection)
            raise AssertionError("the revision matched but nothing changed")  # pragma: no cover
        return append_journal(
            connection,
            at=to_ms(automation.updated_at),
            kind=AUTOMATION_UPDATED,
            entity_id=automation.id,
            revision=automation.revision,
            scope=self.scope,
            body=body,
        )

    def _diagnose(self, connection: apsw.Connection) -> None:
        """Raise NotFound or Conflict, as the stored row says."""
        id = self.automation.id
        stored = _stored_automation_revision(connection, self.scope, id)
        if stored is None:
            raise NotFound(f"no automation {id} in this project and directory")
        assert self.expected_revision is not None
        check_revision("automation", id, stored, self.expected_revision)


class CreateAutomations(msgspec.Struct, gc=False, frozen=True):
    """Create many automations at once: all of them or none."""

    scope: Scope
    automations: Sequence[Automation]

    def apply(self, connection: apsw.Connection) -> list[int]:
        return _create_automations(connection, self.scope, self.automations)


def _create_automations(
    connection: apsw.Connection, scope: Scope, automations: Sequence[Automation]
) -> list[int]:
    """Two statements for the lot: no row is read, an id already taken is a constraint
    error, and the journal entries of one transaction are consecutive."""
    if not automations:
        return []
    bodies = []
    for automation in automations:
        require(automation.revision == 1, "a new automation starts at revision 1")
        bodies.append(to_msgpack(automation))
    try:
        insert_automation_rows(connection, scope, automations, bodies)
    except apsw.ConstraintError as exc:
        which = (
            f"automation {automations[0].id} already exists"
            if len(automations) == 1
            else "one of these automations' ids is already taken"
        )
        raise Conflict(f"{which}; nothing was created") from exc
    last = append_journal_many(
        connection,
        scope,
        AUTOMATION_UPDATED,
        [
            (to_ms(a.updated_at), a.id, a.revision, body, None, None)
            for a, body in zip(automations, bodies, strict=True)
        ],
    )
    return list(range(last - len(automations) + 1, last + 1))


class DeleteAutomation(msgspec.Struct, gc=False, frozen=True):
    """Delete an automation, leaving its tombstone in the journal and its runs in place."""

    scope: Scope
    tombstone: Tombstone
    expected_revision: int
    at: datetime

    def apply(self, connection: apsw.Connection) -> int:
        id = self.tombstone.id
        stored = _stored_automation_revision(connection, self.scope, id)
        if stored is None:
            raise NotFound(f"no automation {id} in this project and directory")
        check_revision("automation", id, stored, self.expected_revision)
        require(self.tombstone.revision == stored + 1, "a tombstone adds 1 to the revision")
        seq = append_journal(
            connection,
            at=to_ms(self.at),
            kind=AUTOMATION_DELETED,
            entity_id=id,
            revision=self.tombstone.revision,
            scope=self.scope,
            body=to_msgpack(self.tombstone),
        )
        delete_automation_row(connection, id)
        return seq


class StoreAnswer(msgspec.Struct, gc=False, frozen=True):
    """Record the answer to an open blocker before it is delivered.

    Answering again with the same reply changes nothing (it returns False); a different
    reply to an answered blocker is a conflict. When the run executes in another
    process than `sender`, a command to deliver the answer goes to that process in
    the same transaction.
    """

    scope: Scope
    run_id: str
    blocker_id: str
    reply: str | bool
    at: datetime
    sender: str | None = None

    def apply(self, connection: apsw.Connection) -> bool:
        encoded = msgspec.json.encode(self.reply)
        row = connection.execute(
            "SELECT reply FROM answers WHERE run_id = ? AND blocker_id = ?"
            " AND project = ? AND directory = ?",
            (self.run_id, self.blocker_id, self.scope.project, self.scope.directory),
        ).fetchone()
        if row is not None:
            if row[0] != encoded:
                raise Conflict(f"blocker {self.blocker_id} was already answered differently")
            return False
        owner = self._open_blocker_owner(connection)
        connection.execute(
            "INSERT INTO answers (run_id, blocker_id, project, directory, at, reply)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                self.run_id,
                self.blocker_id,
                self.scope.project,
                self.scope.directory,
                to_ms(self.at),
                encoded,
            ),
        )
        if owner is not None and owner != self.sender:
            command = AnswerCommand(self.run_id, self.blocker_id, self.reply)
            enqueue(connection, self.scope, command, owner, self.at)
        return True

    def _open_blocker_owner(self, connection: apsw.Connection) -> str | None:
        """The process executing the run, which must be waiting on this blocker."""
        row = connection.execute(
            "SELECT body, owner FROM runs WHERE id = ? AND project = ? AND directory = ?",
            (self.run_id, self.scope.project, self.scope.directory),
        ).fetchone()
        if row is None:
            raise NotFound(f"no run {self.run_id} in this project and directory")
        run = from_msgpack(row[0], Run)
        if run.blocker is None or run.blocker.id != self.blocker_id:
            raise NotFound(
                f"run {self.run_id} is {_state_of(run)}, not waiting on blocker "
                f"{self.blocker_id}; the answer was not stored"
            )
        return None if row[1] is None else str(row[1])


def _state_of(run: Run) -> str:
    """'stopped/cancelled', 'failed/needs_user_input', 'awaiting_input on blocker_...'."""
    if run.stop_reason is not None:
        return f"{run.state.value}/{run.stop_reason.value}"
    if run.error is not None:
        return f"{run.state.value}/{run.error.code.value}"
    if run.blocker is not None:
        return f"{run.state.value} on {run.blocker.id}"
    return run.state.value


class SaveCheckpoint(msgspec.Struct, gc=False, frozen=True):
    """Keep the latest checkpoint of a run."""

    run_id: str
    data: bytes
    at: datetime

    def apply(self, connection: apsw.Connection) -> None:
        connection.execute(
            "INSERT INTO checkpoints (run_id, at, data) VALUES (?, ?, ?)"
            " ON CONFLICT (run_id) DO UPDATE SET at = excluded.at, data = excluded.data",
            (self.run_id, to_ms(self.at), self.data),
        )


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
