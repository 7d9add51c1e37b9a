"""How the store forgets runs and journal entries older than an age (DESIGN 7).

The journal is append-only while it is written, and pruned from its old end: a run
that ended before the cutoff goes whole (its entries, its row, its answers and
checkpoint), and of an automation only the entries that no longer decide its row go
(earlier revisions and derived rewrites; everything of a deleted one). What remains
still replays to exactly the projections, at every step: entries go in sequence
order, and a run's row goes with its last entry.

A sweep reads the journal in sequence order and stops at the first entry not older
than the cutoff. Each step is one write of at most `limit` entries, so the writer is
never held for long; sequence numbers are never reused, so followers
and `events(since=...)` see a gap, not a different history.
"""

from __future__ import annotations

from ...model import Run, RunState, from_msgpack, to_ms
from .._journal import AUTOMATION_DELETED, AUTOMATION_UPDATED, RUN_UPDATED, JournalEntry
from .._retention import PruneProgress, PruneStep
from ._connection import Sql
from ._projection import JOURNAL_COLUMNS

__all__ = ["prune_step"]

_TERMINAL = frozenset(state.value for state in RunState if state.is_terminal)


def prune_step(sql: Sql, op: PruneStep) -> PruneProgress:
    cutoff = to_ms(op.before)
    rows = sql.execute(
        f"SELECT {JOURNAL_COLUMNS} FROM journal WHERE project = ? AND directory = ?"
        " AND seq > ? ORDER BY seq LIMIT ?",
        (op.scope.project, op.scope.directory, op.after_seq, op.limit),
    ).fetchall()
    entries = [JournalEntry(*row) for row in rows]
    sweep = _Sweep(sql, cutoff)
    last_seq = op.after_seq
    for entry in entries:
        if entry.at >= cutoff:
            return sweep.progress(last_seq, done=True)
        sweep.consider(entry)
        last_seq = entry.seq
    return sweep.progress(last_seq, done=len(entries) < op.limit)


class _Sweep:
    """What one step decides, entry by entry, and the deletions it makes."""

    def __init__(self, sql: Sql, cutoff: int) -> None:
        self._sql = sql
        self._cutoff = cutoff
        self._runs: dict[str, int | None] = {}
        """Run id: None when the run is kept; when it is forgotten, the revision of its
        row (its last entry takes the row with it; 0 when the row is gone already)."""
        self._automations: dict[str, bytes | None] = {}
        """Automation id: its row's body (None when deleted). A step changes no row."""
        self.runs = 0
        self.entries = 0

    def progress(self, last_seq: int, *, done: bool) -> PruneProgress:
        return PruneProgress(self.runs, self.entries, last_seq, done)

    def consider(self, entry: JournalEntry) -> None:
        kind, entity_id = entry.kind, entry.entity_id
        if kind == RUN_UPDATED:
            forget = self._run_forgotten(entity_id, entry.revision)
        elif kind == AUTOMATION_UPDATED:
            forget = self._automation_entry_superseded(entity_id, entry.body)
        elif kind == AUTOMATION_DELETED:
            forget = self._automation_row(entity_id) is None
        else:  # a kind written by newer code: keep what is not understood
            forget = False
        if forget:
            self._sql.execute("DELETE FROM journal WHERE seq = ?", (entry.seq,))
            self.entries += 1

    def _run_forgotten(self, run_id: str, revision: int) -> bool:
        """Read the run's row once a step: its entries come in revision order."""
        if run_id in self._runs:
            last = self._runs[run_id]
        else:
            last = self._runs[run_id] = self._forgotten_at(run_id)
        if last is None:  # kept: an active run, or one that ended after the cutoff
            return False
        if revision == last:  # its last entry
            for table, column in _RUN_TABLES:
                self._sql.execute(f"DELETE FROM {table} WHERE {column} = ?", (run_id,))
            self.runs += 1
        return True

    def _forgotten_at(self, run_id: str) -> int | None:
        row = self._sql.execute(
            "SELECT state, revision, body FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return 0
        return int(row[1]) if self._ended_before_cutoff(row[0], row[2]) else None

    def _ended_before_cutoff(self, state: str, body: bytes) -> bool:
        if state not in _TERMINAL:
            return False
        completed = from_msgpack(body, Run).completed_at
        return completed is not None and to_ms(completed) < self._cutoff

    def _automation_entry_superseded(self, automation_id: str, body: bytes) -> bool:
        """An entry whose body is not the row's: a later entry decides the row."""
        current = self._automation_row(automation_id)
        return current is None or current != body

    def _automation_row(self, automation_id: str) -> bytes | None:
        if automation_id not in self._automations:
            row = self._sql.execute(
                "SELECT body FROM automations WHERE id = ?", (automation_id,)
            ).fetchone()
            self._automations[automation_id] = None if row is None else bytes(row[0])
        return self._automations[automation_id]


_RUN_TABLES = (
    ("runs", "id"),
    ("answers", "run_id"),
    ("checkpoints", "run_id"),
    ("progress", "run_id"),
)
