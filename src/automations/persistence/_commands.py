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

import msgspec

from ..model import Overlap, Run, Scope
from ._operations import Operation

__all__ = [
    "AnswerCommand",
    "BackfillCommand",
    "CancelCommand",
    "Command",
    "CommandOutcome",
    "CompleteCommand",
    "DropCommand",
    "EnqueueCommand",
    "PendingCommand",
    "PurgeCommands",
    "RunNowCommand",
    "command_subject",
]


class RunNowCommand(msgspec.Struct, gc=False, frozen=True, tag="run_now", tag_field="kind"):
    """Start a run of `automation_id` with the id its sender chose (so it is idempotent)."""

    automation_id: str
    run_id: str


class BackfillCommand(msgspec.Struct, gc=False, frozen=True, tag="backfill", tag_field="kind"):
    """Run the past slot `slot_ms` of `automation_id` as a backfill, with the run id its
    sender chose; `overlap` overrides the automation's policy."""

    automation_id: str
    run_id: str
    slot_ms: int
    overlap: Overlap | None = None


class AnswerCommand(msgspec.Struct, gc=False, frozen=True, tag="answer", tag_field="kind"):
    """Deliver an answer that is already stored in `answers`."""

    run_id: str
    blocker_id: str
    reply: str | bool


class CancelCommand(msgspec.Struct, gc=False, frozen=True, tag="cancel", tag_field="kind"):
    run_id: str


Command = RunNowCommand | AnswerCommand | CancelCommand | BackfillCommand


class CommandOutcome(msgspec.Struct, gc=False, frozen=True, kw_only=True):
    """What a run-now (or backfill) command came to: the run, or the error it raised
    (by class name)."""

    run: Run | None = None
    error: str | None = None
    message: str | None = None


class PendingCommand(NamedTuple):
    id: int
    target: str | None
    command: Command


class EnqueueCommand(Operation[int], frozen=True, gc=False):
    """Queue a command for `target` (None: the scope's lease holder); its id."""

    scope: Scope
    command: Command
    target: str | None
    at: datetime


class CompleteCommand(Operation[None], frozen=True, gc=False):
    """Mark a command done: keep the outcome for its sender, or drop it (no outcome)."""

    id: int
    outcome: CommandOutcome | None
    at: datetime


class DropCommand(Operation[bool], frozen=True, gc=False):
    """Delete a command: a sender that read its outcome, or withdraws it while pending.

    Returns False when `pending_only` and the command was done (or gone) already.
    """

    id: int
    pending_only: bool = False


class PurgeCommands(Operation[int], frozen=True, gc=False):
    """Delete done commands nobody came back for (their sender died); how many."""

    done_before: datetime


def command_subject(command: Command) -> str:
    """The automation (run-now, backfill) or run (answer, cancel) a command is about."""
    if isinstance(command, RunNowCommand | BackfillCommand):
        return command.automation_id
    return command.run_id
