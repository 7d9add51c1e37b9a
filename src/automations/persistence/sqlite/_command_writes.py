"""How SQLite keeps the cross-process command inbox: one row per command."""

from __future__ import annotations

from datetime import datetime

import apsw
import msgspec

from ...model import Scope, from_msgpack, to_ms, to_msgpack
from .._commands import (
    Command,
    CommandOutcome,
    CompleteCommand,
    DropCommand,
    EnqueueCommand,
    PendingCommand,
    PurgeCommands,
    command_subject,
)

__all__ = [
    "command_outcome",
    "complete_command",
    "drop_command",
    "enqueue",
    "enqueue_command",
    "pending_commands",
    "purge_commands",
]


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
            command_subject(command),
            to_msgpack(command),
            to_ms(at),
        ),
    )
    return connection.last_insert_rowid()


def enqueue_command(connection: apsw.Connection, op: EnqueueCommand) -> int:
    return enqueue(connection, op.scope, op.command, op.target, op.at)


def complete_command(connection: apsw.Connection, op: CompleteCommand) -> None:
    if op.outcome is None:
        connection.execute("DELETE FROM commands WHERE id = ?", (op.id,))
        return
    connection.execute(
        "UPDATE commands SET done_at = ?, outcome = ? WHERE id = ?",
        (to_ms(op.at), to_msgpack(op.outcome), op.id),
    )


def drop_command(connection: apsw.Connection, op: DropCommand) -> bool:
    condition = " AND done_at IS NULL" if op.pending_only else ""
    connection.execute(f"DELETE FROM commands WHERE id = ?{condition}", (op.id,))
    return connection.changes() > 0


def purge_commands(connection: apsw.Connection, op: PurgeCommands) -> int:
    connection.execute(
        "DELETE FROM commands WHERE done_at IS NOT NULL AND done_at < ?",
        (to_ms(op.done_before),),
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
