"""The apsw journal: schema and migrations, the group-commit writer, queries.

Imports the model (and the runtime's thread-to-loop call). It knows nothing of actors.
"""

from ._changes import ChangeListener, event_of, events_committed
from ._commands import (
    AnswerCommand,
    CancelCommand,
    Command,
    CommandOutcome,
    CompleteCommand,
    DropCommand,
    EnqueueCommand,
    PendingCommand,
    PurgeCommands,
    RunNowCommand,
)
from ._connection import Durability
from ._leases import AcquireLease, LeaseRow, RenewLease, TakeStaleLease, lease_name
from ._locks import FileLock, lease_lock_path, liveness_lock_path
from ._ops import (
    CreateAutomations,
    DeleteAutomation,
    Operation,
    SaveAutomation,
    SaveCheckpoint,
    StoreAnswer,
)
from ._pending import PendingWrite
from ._port import ProcessLock, StorePort
from ._projection import (
    AUTOMATION_DELETED,
    AUTOMATION_UPDATED,
    RUN_UPDATED,
    JournalEntry,
)
from ._reader import ChangeWatch, Page, Reader
from ._reconcile import Adopted, Reconciled, ReconcileRuns
from ._replay import Replay, projection_rows
from ._retention import PruneProgress, PruneStep
from ._run_ops import CreateRun, SaveRun
from ._schema import APPLICATION_ID, SCHEMA_VERSION
from ._store import Store, open_store
from ._writer import GroupCommitWriter, WriterStats, apply_operation

__all__ = [
    "APPLICATION_ID",
    "AUTOMATION_DELETED",
    "AUTOMATION_UPDATED",
    "RUN_UPDATED",
    "SCHEMA_VERSION",
    "AcquireLease",
    "Adopted",
    "AnswerCommand",
    "CancelCommand",
    "ChangeListener",
    "ChangeWatch",
    "Command",
    "CommandOutcome",
    "CompleteCommand",
    "CreateAutomations",
    "CreateRun",
    "DeleteAutomation",
    "DropCommand",
    "Durability",
    "EnqueueCommand",
    "FileLock",
    "GroupCommitWriter",
    "JournalEntry",
    "LeaseRow",
    "Operation",
    "Page",
    "PendingCommand",
    "PendingWrite",
    "ProcessLock",
    "PruneProgress",
    "PruneStep",
    "PurgeCommands",
    "Reader",
    "ReconcileRuns",
    "Reconciled",
    "RenewLease",
    "Replay",
    "RunNowCommand",
    "SaveAutomation",
    "SaveCheckpoint",
    "SaveRun",
    "StoreAnswer",
    "Store",
    "StorePort",
    "TakeStaleLease",
    "WriterStats",
    "apply_operation",
    "event_of",
    "events_committed",
    "lease_lock_path",
    "lease_name",
    "liveness_lock_path",
    "open_store",
    "projection_rows",
]
