"""How the cross-process command inbox is kept: one row per command.

Ids grow and are drawn under the writer's lock, so they become visible in the order
they grow: a reader that follows ids (`after`) never skips a command that committed
late."""

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
from ._connection import Sql

__all__ = [
    "command_outcome",
    "command_scopes",
    "complete_command",
    "drop_command",
    "enqueue",
    "claim_commands",
    "enqueue_command",
    "pending_commands",
    "purge_commands",
]


def enqueue(sql: Sql, scope: Scope, command: Command, target: str | None, at: datetime) -> int:
    """Insert a command; its id."""
    row = sql.execute(
        "INSERT INTO commands (kind, project, directory, target, subject, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
    return int(row[0])


def enqueue_command(sql: Sql, op: EnqueueCommand) -> int:
    return enqueue(sql, op.scope, op.command, op.target, op.at)


def complete_command(sql: Sql, op: CompleteCommand) -> None:
    if op.outcome is None:
        sql.execute("DELETE FROM commands WHERE id = ?", (op.id,))
        return
    sql.execute(
        "UPDATE commands SET done_at = ?, outcome = ? WHERE id = ?",
        (to_ms(op.at), to_msgpack(op.outcome), op.id),
    )


def drop_command(sql: Sql, op: DropCommand) -> bool:
    condition = " AND done_at IS NULL" if op.pending_only else ""
    sql.execute(f"DELETE FROM commands WHERE id = ?{condition}", (op.id,))
    return sql.changes() > 0


def purge_commands(sql: Sql, op: PurgeCommands) -> int:
    sql.execute(
        "DELETE FROM commands WHERE done_at IS NOT NULL AND done_at < ?",
        (to_ms(op.done_before),),
    )
    return sql.changes()


_command_decoder = msgspec.msgpack.Decoder(Command)


RELEASED_KINDS = ("run_now", "backfill")
"""What a claim takes: the commands for nobody in particular (an answer or a cancel is
always for the process that runs its run). A dead claimer's go back to nobody in
particular (`release_claims`), for the next leader."""
_KINDS = ", ".join(f"'{kind}'" for kind in RELEASED_KINDS)


def pending_commands(
    sql: Sql,
    scope: Scope,
    after: int,
    owner: str,
    leading: bool,
    limit: int,
    *,
    claimed: bool = False,
) -> list[PendingCommand]:
    """Commands after id `after` for `owner`: those targeted at it, and the untargeted
    ones too when it holds the scope's lease (`leading`); with `claimed`, not those a
    claim takes (`claim_commands` made them `owner`'s, or left them to another)."""
    untargeted = f"target IS NULL AND kind NOT IN ({_KINDS})" if claimed else "target IS NULL"
    rows = sql.execute(
        "SELECT id, target, body FROM commands WHERE project = ? AND directory = ?"
        f" AND id > ? AND done_at IS NULL AND (target = ? OR (? AND {untargeted}))"
        " ORDER BY id LIMIT ?",
        (scope.project, scope.directory, after, owner, leading, limit),
    )
    return [
        PendingCommand(int(id), None if target is None else str(target), _decode(body))
        for id, target, body in rows
    ]


def command_scopes(sql: Sql, after: int, upto: int) -> list[Scope]:
    """The scopes of the pending commands with ids in (`after`, `upto`]."""
    rows = sql.execute(
        "SELECT DISTINCT project, directory FROM commands"
        " WHERE id > ? AND id <= ? AND done_at IS NULL",
        (after, upto),
    )
    return [Scope(str(project), str(directory)) for project, directory in rows]


_CLAIM = (
    "UPDATE commands SET target = ? WHERE id IN (SELECT id FROM commands"
    " WHERE project = ? AND directory = ? AND target IS NULL AND done_at IS NULL"
    f" AND kind IN ({_KINDS}) ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING id, body"
)


def claim_commands(
    sql: Sql, scope: Scope, after: int, owner: str, *, leading: bool, limit: int
) -> list[PendingCommand]:
    """As `pending_commands`, but the run-nows and backfills for nobody in particular
    are first made `owner`'s (one statement, autocommit): a row another claimer has
    locked is skipped, one it claimed is no longer for nobody, so no two processes take
    the same one. Those claimed now at or below `after` (released by a dead claimer,
    they keep their ids) come first; the rest are read with the others."""
    claimed: set[int] = set()
    old: list[PendingCommand] = []
    if leading:
        rows = sql.execute(_CLAIM, (owner, scope.project, scope.directory, limit)).fetchall()
        claimed = {int(id) for id, _ in rows}
        old = [PendingCommand(int(id), None, _decode(body)) for id, body in rows if id <= after]
    rest = pending_commands(sql, scope, after, owner, leading, limit, claimed=True)
    return sorted(old) + [c._replace(target=None) if c.id in claimed else c for c in rest]


def release_claims(sql: Sql, scope: Scope, owner: str) -> int:
    """Hand the commands `owner` claimed and did not finish back to nobody in
    particular (it died): the next leader takes them. How many."""
    rows = sql.execute(
        "UPDATE commands SET target = NULL WHERE target = ? AND project = ? AND directory = ?"
        f" AND done_at IS NULL AND kind IN ({_KINDS}) RETURNING id",
        (owner, scope.project, scope.directory),
    ).fetchall()
    return len(rows)


def _decode(body: object) -> Command:
    if not isinstance(body, bytes):
        raise TypeError(f"expected a stored command, got {type(body).__name__}")
    command: Command = _command_decoder.decode(body)
    return command


def command_outcome(sql: Sql, id: int) -> CommandOutcome | None:
    """The outcome of a done command; None while it is pending.

    Raises `LookupError` when the command is gone (withdrawn, or its target died).
    """
    row = sql.execute("SELECT outcome FROM commands WHERE id = ?", (id,)).fetchone()
    if row is None:
        raise LookupError(f"command {id} is gone")
    outcome = row[0]
    if outcome is None:
        return None
    assert isinstance(outcome, bytes)
    return from_msgpack(outcome, CommandOutcome)
