"""How PostgreSQL forgets runs and journal entries older than an age: the same sweep
as `sqlite/_retention.py` (read it for why what remains still replays exactly)."""

from __future__ import annotations

from ...model import Run, RunState, from_msgpack, to_ms
from .._journal import AUTOMATION_DELETED, AUTOMATION_UPDATED, RUN_UPDATED, JournalEntry
from .._retention import PruneProgress, PruneStep
from ._connection import Connection
from ._projection import JOURNAL_COLUMNS

__all__ = ["prune_step"]

_TERMINAL = frozenset(state.value for state in RunState if state.is_terminal)


def prune_step(connection: Connection, op: PruneStep) -> PruneProgress:
    cutoff = to_ms(op.before)
    rows = connection.execute(
        f"SELECT {JOURNAL_COLUMNS} FROM journal WHERE project = %s AND directory = %s"
        " AND seq > %s ORDER BY seq LIMIT %s",
        (op.scope.project, op.scope.directory, op.after_seq, op.limit),
    ).fetchall()
    entries = [JournalEntry(*row) for row in rows]
    sweep = _Sweep(connection, cutoff)
    last_seq = op.after_seq
    for entry in entries:
        if entry.at >= cutoff:
            return sweep.progress(last_seq, done=True)
        sweep.consider(entry)
        last_seq = entry.seq
    return sweep.progress(last_seq, done=len(entries) < op.limit)


class _Sweep:
    """What one step decides, entry by entry, and the deletions it makes."""

    def __init__(self, connection: Connection, cutoff: int) -> None:
        self._connection = connection
        self._cutoff = cutoff
        self._runs: dict[str, int | None] = {}
        self._automations: dict[str, bytes | None] = {}
        self.runs = 0
        self.entries = 0

    def progress(self, last_seq: int, *, done: bool) -> PruneProgress:
        return PruneProgress(self.runs, self.entries, last_seq, done)

    def consider(self, entry: JournalEntry) -> None:
        kind, entity_id = entry.kind, entry.entity_id
        if kind == RUN_UPDATED:
            forget = self._run_forgotten(entity_id, entry.revision)
        elif kind == AUTOMATION_UPDATED:
            current = self._automation_row(entity_id)
            forget = current is None or current != entry.body
        elif kind == AUTOMATION_DELETED:
            forget = self._automation_row(entity_id) is None
        else:  # a kind written by newer code: keep what is not understood
            forget = False
        if forget:
            self._connection.execute("DELETE FROM journal WHERE seq = %s", (entry.seq,))
            self.entries += 1

    def _run_forgotten(self, run_id: str, revision: int) -> bool:
        if run_id in self._runs:
            last = self._runs[run_id]
        else:
            last = self._runs[run_id] = self._forgotten_at(run_id)
        if last is None:  # kept: an active run, or one that ended after the cutoff
            return False
        if revision == last:  # its last entry
            for table, column in _RUN_TABLES:
                self._connection.execute(f"DELETE FROM {table} WHERE {column} = %s", (run_id,))
            self.runs += 1
        return True

    def _forgotten_at(self, run_id: str) -> int | None:
        row = self._connection.execute(
            "SELECT state, revision, body FROM runs WHERE id = %s", (run_id,)
        ).fetchone()
        if row is None:
            return 0
        state, revision, body = row
        if state not in _TERMINAL:
            return None
        completed = from_msgpack(body, Run).completed_at
        return int(revision) if completed is not None and to_ms(completed) < self._cutoff else None

    def _automation_row(self, automation_id: str) -> bytes | None:
        if automation_id not in self._automations:
            row = self._connection.execute(
                "SELECT body FROM automations WHERE id = %s", (automation_id,)
            ).fetchone()
            self._automations[automation_id] = None if row is None else bytes(row[0])
        return self._automations[automation_id]


_RUN_TABLES = (
    ("runs", "id"),
    ("answers", "run_id"),
    ("checkpoints", "run_id"),
    ("progress", "run_id"),
)
