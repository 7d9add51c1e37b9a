"""How PostgreSQL keeps the cross-process command inbox: one row per command.

Ids come from an identity column and are assigned under the writer's journal lock,
so they become visible in the order they grow: a reader that follows ids (`after`)
never skips a command that committed late."""

from __future__ import annotations

from datetime import datetime

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
from ._connection import Connection

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
    connection: Connection, scope: Scope, command: Command, target: str | None, at: datetime
) -> int:
    """Insert a command; its id."""
    row = connection.execute(
        "INSERT INTO commands (kind, project, directory, target, subject, body, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            type(command).__struct_config__.tag,
            scope.project,
            scope.directory,
            target,
            command_subject(command),
            to_msgpack(command),
            to_ms(at),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def enqueue_command(connection: Connection, op: EnqueueCommand) -> int:
    return enqueue(connection, op.scope, op.command, op.target, op.at)


def complete_command(connection: Connection, op: CompleteCommand) -> None:
    if op.outcome is None:
        connection.execute("DELETE FROM commands WHERE id = %s", (op.id,))
        return
    connection.execute(
        "UPDATE commands SET done_at = %s, outcome = %s WHERE id = %s",
        (to_ms(op.at), to_msgpack(op.outcome), op.id),
    )


def drop_command(connection: Connection, op: DropCommand) -> bool:
    condition = " AND done_at IS NULL" if op.pending_only else ""
    cursor = connection.execute(f"DELETE FROM commands WHERE id = %s{condition}", (op.id,))
    return cursor.rowcount > 0


def purge_commands(connection: Connection, op: PurgeCommands) -> int:
    cursor = connection.execute(
        "DELETE FROM commands WHERE done_at IS NOT NULL AND done_at < %s",
        (to_ms(op.done_before),),
    )
    return cursor.rowcount


_command_decoder = msgspec.msgpack.Decoder(Command)


def pending_commands(
    connection: Connection, scope: Scope, after: int, owner: str, leading: bool, limit: int
) -> list[PendingCommand]:
    """Commands after id `after` for `owner`: those targeted at it, and the untargeted
    ones too when it holds the scope's lease (`leading`)."""
    rows = connection.execute(
        "SELECT id, target, body FROM commands WHERE project = %s AND directory = %s"
        " AND id > %s AND done_at IS NULL AND (target = %s OR (%s AND target IS NULL))"
        " ORDER BY id LIMIT %s",
        (scope.project, scope.directory, after, owner, leading, limit),
    ).fetchall()
    return [
        PendingCommand(int(id), None if target is None else str(target), _decode(body))
        for id, target, body in rows
    ]


def _decode(body: object) -> Command:
    if not isinstance(body, bytes):
        raise TypeError(f"expected a stored command, got {type(body).__name__}")
    command: Command = _command_decoder.decode(body)
    return command


def command_outcome(connection: Connection, id: int) -> CommandOutcome | None:
    """The outcome of a done command; None while pending; `LookupError` when gone."""
    row = connection.execute("SELECT outcome FROM commands WHERE id = %s", (id,)).fetchone()
    if row is None:
        raise LookupError(f"command {id} is gone")
    outcome = row[0]
    if outcome is None:
        return None
    assert isinstance(outcome, bytes)
    return from_msgpack(outcome, CommandOutcome)
