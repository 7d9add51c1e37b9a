"""Moving a store's contents to another store: what is read, what is written, and how
the two are compared.

The journal is copied as it is (its sequence numbers kept, so an `events(since=seq)`
consumer can carry on), the projections are rebuilt on the target by replaying it,
and the tables the journal does not hold (answers, checkpoints, progress) are copied
row by row. Leases, the command inbox and the workers' rows belong to the processes of the old store
and are not copied. Everything is read and written in pages: no store is held in
memory. The SQL is `_sql/_transfer.py`, the same for both stores.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from ._journal import JournalEntry
from ._operations import Operation

__all__ = [
    "COMPARED",
    "NOT_COPIED",
    "SIDE_TABLES",
    "Digest",
    "Exportable",
    "ImportJournal",
    "ImportRows",
    "Importable",
    "SideTable",
]

SideTable = Literal["answers", "checkpoints", "progress"]

SIDE_TABLES: dict[SideTable, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "answers": (
        ("run_id", "blocker_id"),
        ("run_id", "blocker_id", "project", "directory", "at", "reply"),
    ),
    "checkpoints": (("run_id",), ("run_id", "at", "data")),
    "progress": (("run_id",), ("run_id", "at", "steps")),
}
"""Each table the journal does not hold: (its key, its columns)."""

COMPARED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "journal": (
        ("seq",),
        (
            "seq",
            "at",
            "kind",
            "entity_id",
            "revision",
            "project",
            "directory",
            "writer_key",
            "owner",
            "body",
        ),
    ),
    "automations": (
        ("id",),
        (
            "id",
            "project",
            "directory",
            "revision",
            "updated_at",
            "next_fire_at",
            "body",
            "key",
            "shard",
        ),
    ),
    "runs": (
        ("id",),
        (
            "id",
            "automation_id",
            "project",
            "directory",
            "revision",
            "state",
            "triggered_at",
            "slot",
            "missed_first",
            "writer_key",
            "owner",
            "body",
        ),
    ),
    **{str(table): spec for table, spec in SIDE_TABLES.items()},
}
"""Each table a copy compares, the journal and the projections too: (key, columns)."""

NOT_COPIED = frozenset({"meta", "leases", "commands", "workers"})
"""The tables a copy leaves behind: the target's own schema version, and the leases,
the command inbox and the heartbeat rows of the old store's processes. Every other
table is copied."""


class Digest(msgspec.Struct, frozen=True):
    """The rows of each copied table, counted and hashed in key order."""

    counts: dict[str, int]
    hashes: dict[str, str]


class ImportJournal(Operation[int], frozen=True, gc=False):
    """Append entries with the sequence numbers they had in the store they come from
    (the target's journal must end before the first); how many."""

    entries: tuple[JournalEntry, ...]
    head: int = 0
    """The last number the source ever gave (its newest entries may have been
    pruned): the target's next entry comes after it, so no number is given twice."""


class ImportRows(Operation[int], frozen=True, gc=False):
    """Insert rows of a table the journal does not hold, as they were; how many."""

    table: SideTable
    rows: tuple[tuple[Any, ...], ...]


@runtime_checkable
class Exportable(Protocol):
    """What a store, even opened read-only, offers a copy of itself."""

    async def side_rows(
        self, table: SideTable, after: tuple[Any, ...] | None, limit: int
    ) -> list[tuple[Any, ...]]:
        """Rows of `table` after key `after` (None: from the start), in key order."""
        ...

    async def digest(self) -> Digest: ...

    async def journal_head(self) -> int:
        """The last sequence number the journal ever gave (0: none), pruned or not."""
        ...


@runtime_checkable
class Importable(Exportable, Protocol):
    """What a store offers to be copied into: the replay that rebuilds its projections."""

    async def replay(self) -> int: ...
