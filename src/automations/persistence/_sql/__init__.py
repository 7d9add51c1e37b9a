"""The SQL both stores share: every write, replay and the reads of the inbox and the
leases, written once against `Sql` (see `_connection`), which each store implements
over its own driver."""

from ._apply import KeyTaken, apply
from ._command_writes import claim_commands, command_outcome, pending_commands
from ._connection import HEADS_SQL, JOURNAL_COLUMNS, MAX_ROWS, Rows, Sql, chunks, journal_insert
from ._facts import Facts, health, read_facts
from ._lease_writes import lease_row
from ._projection import (
    INSERT_RUN_OF_AUTOMATION,
    UPDATE_AUTOMATION,
    UPDATE_AUTOMATION_WITH_RUN,
    journal_entries,
)
from ._reader import SqlReader
from ._replay import PROJECTIONS, projection_rows
from ._run_writes import TRANSITION_SQL
from ._store import ReadOnlySqlStore, SqlStore

__all__ = [
    "HEADS_SQL",
    "INSERT_RUN_OF_AUTOMATION",
    "JOURNAL_COLUMNS",
    "MAX_ROWS",
    "PROJECTIONS",
    "ReadOnlySqlStore",
    "KeyTaken",
    "Rows",
    "Sql",
    "SqlReader",
    "SqlStore",
    "TRANSITION_SQL",
    "UPDATE_AUTOMATION",
    "UPDATE_AUTOMATION_WITH_RUN",
    "apply",
    "chunks",
    "Facts",
    "health",
    "read_facts",
    "claim_commands",
    "command_outcome",
    "journal_entries",
    "journal_insert",
    "lease_row",
    "pending_commands",
    "projection_rows",
]
