"""Every operation SQLite knows, and the SQL that applies it.

The table is the whole list: an operation of the port that is missing here fails
with a clear error the first time it is written, and the conformance suite writes
every one of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import apsw

from .._commands import CompleteCommand, DropCommand, EnqueueCommand, PurgeCommands
from .._leases import AcquireLease, RenewLease, TakeStaleLease
from .._operations import (
    CreateAutomations,
    DeleteAutomation,
    Operation,
    Replay,
    SaveAutomation,
    SaveCheckpoint,
    SaveProgress,
    StoreAnswer,
)
from .._reconcile import ReconcileRuns
from .._retention import PruneStep
from .._run_operations import CreateRun, SaveRun
from .._transfer import ImportJournal, ImportRows
from ._automation_writes import (
    create_automations,
    delete_automation,
    save_automation,
    save_checkpoint,
    save_progress,
    store_answer,
)
from ._command_writes import complete_command, drop_command, enqueue_command, purge_commands
from ._connection import storage_error
from ._lease_writes import acquire_lease, renew_lease, take_stale_lease
from ._pragma import Pragma, pragma
from ._reconcile import reconcile_runs
from ._replay import replay
from ._retention import prune_step
from ._run_writes import create_run, save_run
from ._transfer import import_journal, import_rows

__all__ = ["Apply", "apply", "apply_in_savepoint"]

Apply = Callable[[apsw.Connection, Operation[Any]], Any]
"""How a writer applies one operation in its open transaction."""

_SQL: dict[type[Operation[Any]], Callable[[apsw.Connection, Any], Any]] = {
    SaveRun: save_run,
    CreateRun: create_run,
    SaveAutomation: save_automation,
    CreateAutomations: create_automations,
    DeleteAutomation: delete_automation,
    StoreAnswer: store_answer,
    SaveCheckpoint: save_checkpoint,
    SaveProgress: save_progress,
    AcquireLease: acquire_lease,
    RenewLease: renew_lease,
    TakeStaleLease: take_stale_lease,
    EnqueueCommand: enqueue_command,
    CompleteCommand: complete_command,
    DropCommand: drop_command,
    PurgeCommands: purge_commands,
    ReconcileRuns: reconcile_runs,
    PruneStep: prune_step,
    Replay: replay,
    ImportJournal: import_journal,
    ImportRows: import_rows,
    Pragma: pragma,
}


def apply(connection: apsw.Connection, operation: Operation[Any]) -> Any:
    """Do `operation`'s write; raise to have it rolled back alone."""
    try:
        sql = _SQL[type(operation)]
    except KeyError:
        raise TypeError(
            f"the SQLite store cannot apply {type(operation).__name__}: "
            "add it to persistence/sqlite/_apply.py"
        ) from None
    return sql(connection, operation)


def apply_in_savepoint(
    connection: apsw.Connection,
    operation: Operation[Any],
    path: str,
    *,
    how: Apply = apply,
    cursor: apsw.Cursor | None = None,
) -> Any:
    """Run `operation` in a SAVEPOINT of the open transaction; on failure undo it alone.

    `cursor`, when given, runs the savepoint statements (reusing one saves a cursor
    allocation per statement on the writer's hot path).
    """
    control = cursor if cursor is not None else connection.cursor()
    try:
        control.execute("SAVEPOINT operation")
        result = how(connection, operation)
        control.execute("RELEASE operation")
    except Exception as exc:
        _undo(connection)
        if isinstance(exc, apsw.Error):
            raise storage_error(exc, path) from exc
        raise
    return result


def _undo(connection: apsw.Connection) -> None:
    if connection.get_autocommit():  # SQLite already rolled the whole transaction back
        return
    try:
        connection.execute("ROLLBACK TO operation")
        connection.execute("RELEASE operation")
    except apsw.Error:
        with contextlib.suppress(apsw.Error):
            connection.execute("ROLLBACK")
