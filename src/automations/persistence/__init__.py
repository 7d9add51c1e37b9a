"""The store as a port: operations as plain data, the change feed, and the protocols
(`StorePort`, `ReaderPort`, `ProcessLock`, `ChangeWatch`) the actors and the facade use.

Imports the model (and, in `sqlite/`, the runtime's thread-to-loop call). It knows
nothing of actors. The SQLite store, the one implementation so far, is `sqlite/`.
"""

from ._changes import ChangeListener, event_of, events_committed
from ._commands import (
    AnswerCommand,
    BackfillCommand,
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
from ._health import (
    ActiveRunFact,
    Check,
    Diagnose,
    LeaseFact,
    OverdueFact,
    ScopeFact,
    Severity,
    StoreHealth,
)
from ._journal import AUTOMATION_DELETED, AUTOMATION_UPDATED, RUN_UPDATED, JournalEntry, Page
from ._leases import (
    HANDED_OVER,
    AcquireLease,
    LeaseRow,
    ReleaseLease,
    RenewLeases,
    TakeStaleLease,
    lease_name,
)
from ._migrate import Copied, copy_store
from ._open import diagnose_store, display_location, is_url, open_store, remove_store
from ._operations import (
    CreateAutomations,
    DeleteAutomation,
    Operation,
    Replay,
    SaveAutomation,
    SaveCheckpoint,
    SaveProgress,
    StoreAnswer,
)
from ._pending import PendingWrite
from ._port import ChangeWatch, Durability, ProcessLock, ReaderPort, StorePort, WriterStats
from ._reconcile import Adopted, Reconciled, ReconcileRuns
from ._retention import PruneProgress, PruneStep
from ._run_operations import CreateRun, SaveRun
from ._shards import SHARDS, shard_lease_name, shard_of
from ._transfer import (
    COMPARED,
    NOT_COPIED,
    SIDE_TABLES,
    Digest,
    Exportable,
    Importable,
    ImportJournal,
    ImportRows,
    SideTable,
)
from ._workers import Depart, Heartbeat

__all__ = [
    "HANDED_OVER",
    "COMPARED",
    "NOT_COPIED",
    "SHARDS",
    "SIDE_TABLES",
    "Copied",
    "Digest",
    "Exportable",
    "ImportJournal",
    "ImportRows",
    "Importable",
    "SideTable",
    "copy_store",
    "ActiveRunFact",
    "Check",
    "Diagnose",
    "LeaseFact",
    "OverdueFact",
    "ScopeFact",
    "Severity",
    "StoreHealth",
    "diagnose_store",
    "AUTOMATION_DELETED",
    "AUTOMATION_UPDATED",
    "RUN_UPDATED",
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
    "Depart",
    "Heartbeat",
    "DropCommand",
    "Durability",
    "EnqueueCommand",
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
    "ReaderPort",
    "ReconcileRuns",
    "Reconciled",
    "ReleaseLease",
    "RenewLeases",
    "Replay",
    "RunNowCommand",
    "BackfillCommand",
    "SaveAutomation",
    "SaveCheckpoint",
    "SaveProgress",
    "SaveRun",
    "StoreAnswer",
    "StorePort",
    "TakeStaleLease",
    "WriterStats",
    "display_location",
    "event_of",
    "events_committed",
    "is_url",
    "lease_name",
    "shard_lease_name",
    "shard_of",
    "open_store",
    "remove_store",
]
