"""Every operation the stores know, and the SQL that applies it.

The table is the whole list: an operation of the port that is missing here fails
with a clear error the first time it is written, and the conformance suite writes
every one of them, on each store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._commands import CompleteCommand, DropCommand, EnqueueCommand, PurgeCommands
from .._leases import AcquireLease, ReleaseLease, RenewLeases, TakeStaleLease
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
from .._workers import Depart, Heartbeat
from ._automation_writes import (
    create_automations,
    delete_automation,
    save_automation,
    save_checkpoint,
    save_progress,
    store_answer,
)
from ._command_writes import complete_command, drop_command, enqueue_command, purge_commands
from ._connection import Sql
from ._lease_writes import acquire_lease, release_lease, renew_leases, take_stale_lease
from ._reconcile import reconcile_runs
from ._replay import replay
from ._retention import prune_step
from ._run_writes import KeyTaken, create_run, save_run
from ._transfer import import_journal, import_rows
from ._worker_writes import depart, heartbeat

__all__ = ["KeyTaken", "apply"]

_SQL: dict[type[Operation[Any]], Callable[[Sql, Any], Any]] = {
    SaveRun: save_run,
    CreateRun: create_run,
    SaveAutomation: save_automation,
    CreateAutomations: create_automations,
    DeleteAutomation: delete_automation,
    StoreAnswer: store_answer,
    SaveCheckpoint: save_checkpoint,
    SaveProgress: save_progress,
    AcquireLease: acquire_lease,
    RenewLeases: renew_leases,
    TakeStaleLease: take_stale_lease,
    ReleaseLease: release_lease,
    EnqueueCommand: enqueue_command,
    CompleteCommand: complete_command,
    DropCommand: drop_command,
    PurgeCommands: purge_commands,
    ReconcileRuns: reconcile_runs,
    PruneStep: prune_step,
    Replay: replay,
    ImportJournal: import_journal,
    ImportRows: import_rows,
    Heartbeat: heartbeat,
    Depart: depart,
}


def apply(sql: Sql, operation: Operation[Any]) -> Any:
    """Do `operation`'s write in the open transaction; raise to have it undone alone
    (the writer rolls back to the operation's savepoint; a `KeyTaken` is named after)."""
    try:
        write = _SQL[type(operation)]
    except KeyError:
        raise TypeError(
            f"the store cannot apply {type(operation).__name__}: "
            "add it to persistence/_sql/_apply.py"
        ) from None
    return write(sql, operation)
