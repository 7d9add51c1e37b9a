"""The cross-process command inbox (DESIGN 7 and 8).

What one process asks of another (run now, answer, cancel) is a row in `commands`,
committed before anyone acts on it, so a request survives the death of either side.
A command names its `target`, the process that must act (the owner of a run), or
none, for the lease holder of its scope. Commands are deleted once done, except a
run-now, whose outcome waits for its sender to read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import apsw
import msgspec

from ..model import Run, Scope, from_msgpack, to_ms, to_msgpack

__all__ = [
    "AnswerCommand",
    "CancelCommand",
    "Command",
    "CommandOutcome",
    "CompleteCommand",
    "DropCommand",
    "EnqueueCommand",
    "PendingCommand",
    "PurgeCommands",
    "RunNowCommand",
    "command_outcome",
    "enqueue",
    "pending_commands",
]


class RunNowCommand(msgspec.Struct, gc=False, frozen=True, tag="run_now", tag_field="kind"):
    """Start a run of `automation_id` with the id its sender chose (so it is idempotent)."""

    automation_id: str
    run_id: str


class AnswerCommand(msgspec.Struct, gc=False, frozen=True, tag="answer", tag_field="kind"):
    """Deliver an answer that is already stored in `answers`."""

    run_id: str
    blocker_id: str
    reply: str | bool


class CancelCommand(msgspec.Struct, gc=False, frozen=True, tag="cancel", tag_field="kind"):
    run_id: str


Command = RunNowCommand | AnswerCommand | CancelCommand


class CommandOutcome(msgspec.Struct, gc=False, frozen=True, kw_only=True):
    """What a run-now command came to: the run, or the error it raised (by class name)."""

    run: Run | None = None
    error: str | None = None
    message: str | None = None


class PendingCommand(NamedTuple):
    id: int
    target: str | None
    command: Command


def _subject(command: Command) -> str:
    return command.automation_id if isinstance(command, RunNowCommand) else command.run_id


def enqueue(
    connection: apsw.Connection, scope: Scope, command: Command, target: str | None, at: datetime
) -> int:
    """Insert a command; its id (ids grow, so a reader can follow them)."""
    connection.execute(
        "INSERT INTO commands (kind, project, directory, target, subject, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            type(command).__struct_config__.tag,
            scope.project,
            scope.directory,
            target,
            _subject(command),
            to_msgpack(command),
            to_ms(at),
        ),
    )
    return connection.last_insert_rowid()


class EnqueueCommand(msgspec.Struct, gc=False, frozen=True):
    scope: Scope
    command: Command
    target: str | None
    at: datetime

    def apply(self, connection: apsw.Connection) -> int:
        return enqueue(connection, self.scope, self.command, self.target, self.at)


class CompleteCommand(msgspec.Struct, gc=False, frozen=True):
    """Mark a command done: keep the outcome for its sender, or drop it (no outcome)."""

    id: int
    outcome: CommandOutcome | None
    at: datetime

    def apply(self, connection: apsw.Connection) -> None:
        if self.outcome is None:
            connection.execute("DELETE FROM commands WHERE id = ?", (self.id,))
            return
        connection.execute(
            "UPDATE commands SET done_at = ?, outcome = ? WHERE id = ?",
            (to_ms(self.at), to_msgpack(self.outcome), self.id),
        )


class DropCommand(msgspec.Struct, gc=False, frozen=True):
    """Delete a command: a sender that read its outcome, or withdraws it while pending.

    Returns False when `pending_only` and the command was done (or gone) already.
    """

    id: int
    pending_only: bool = False

    def apply(self, connection: apsw.Connection) -> bool:
        condition = " AND done_at IS NULL" if self.pending_only else ""
        connection.execute(f"DELETE FROM commands WHERE id = ?{condition}", (self.id,))
        return connection.changes() > 0


class PurgeCommands(msgspec.Struct, gc=False, frozen=True):
    """Delete done commands nobody came back for (their sender died); how many."""

    done_before: datetime

    def apply(self, connection: apsw.Connection) -> int:
        connection.execute(
            "DELETE FROM commands WHERE done_at IS NOT NULL AND done_at < ?",
            (to_ms(self.done_before),),
        )
        return connection.changes()


_command_decoder = msgspec.msgpack.Decoder(Command)


def pending_commands(
    connection: apsw.Connection,
    scope: Scope,
    after: int,
    owner: str,
    leading: bool,
    limit: int,
) -> list[PendingCommand]:
    """Commands after id `after` for `owner`: those targeted at it, and the untargeted
    ones too when it holds the scope's lease (`leading`)."""
    rows = connection.execute(
        "SELECT id, target, body FROM commands WHERE project = ? AND directory = ?"
        " AND id > ? AND done_at IS NULL AND (target = ? OR (? AND target IS NULL))"
        " ORDER BY id LIMIT ?",
        (scope.project, scope.directory, after, owner, leading, limit),
    )
    return [
        PendingCommand(int(id), None if target is None else str(target), _decode(body))
        for id, target, body in rows
    ]


def _decode(body: object) -> Command:
    if not isinstance(body, bytes):
        raise TypeError(f"expected a stored command, got {type(body).__name__}")
    command: Command = _command_decoder.decode(body)
    return command


def command_outcome(connection: apsw.Connection, id: int) -> CommandOutcome | None:
    """The outcome of a done command; None while it is pending.

    Raises `LookupError` when the command is gone (withdrawn, or its target died).
    """
    row = connection.execute("SELECT outcome FROM commands WHERE id = ?", (id,)).fetchone()
    if row is None:
        raise LookupError(f"command {id} is gone")
    outcome = row[0]
    if outcome is None:
        return None
    assert isinstance(outcome, bytes)
    return from_msgpack(outcome, CommandOutcome)
