"""The apsw journal: schema and migrations, the group-commit writer, queries.

Imports the model (and the runtime's thread-to-loop call). It knows nothing of actors.
"""

from ._connection import Durability
from ._locks import FileLock, lease_lock_path, liveness_lock_path
from ._ops import (
    SCHEDULER_LEASE,
    AcquireLease,
    Batch,
    CreateAutomations,
    DeleteAutomation,
    Operation,
    ReconcileRuns,
    SaveAutomation,
    SaveCheckpoint,
    SaveRun,
    StoreAnswer,
)
from ._projection import (
    AUTOMATION_DELETED,
    AUTOMATION_UPDATED,
    RUN_UPDATED,
    JournalEntry,
)
from ._reader import Page, Reader
from ._replay import Replay, projection_rows
from ._schema import APPLICATION_ID, SCHEMA_VERSION
from ._store import Store, open_store
from ._writer import GroupCommitWriter, PendingWrite, WriterStats, apply_operation

__all__ = [
    "APPLICATION_ID",
    "SCHEDULER_LEASE",
    "AcquireLease",
    "Batch",
    "AUTOMATION_DELETED",
    "AUTOMATION_UPDATED",
    "RUN_UPDATED",
    "SCHEMA_VERSION",
    "CreateAutomations",
    "DeleteAutomation",
    "FileLock",
    "Durability",
    "GroupCommitWriter",
    "JournalEntry",
    "Operation",
    "Page",
    "PendingWrite",
    "Reader",
    "ReconcileRuns",
    "Replay",
    "SaveAutomation",
    "SaveCheckpoint",
    "SaveRun",
    "StoreAnswer",
    "Store",
    "WriterStats",
    "apply_operation",
    "lease_lock_path",
    "liveness_lock_path",
    "open_store",
    "projection_rows",
]
