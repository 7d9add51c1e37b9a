"""Write operations on runs: a new run with the transitions it went through at once,
and each next transition (compare-and-swap on the revision and the state machine).

A run's row is a function of its last revision (its columns are what `_projection`
derives from it), so a run created at `running` or `stopped` is one insert, and its
journal still holds every revision, which replays to the same row.
"""

from __future__ import annotations

import itertools
from datetime import datetime

import apsw
import msgspec

from ..model import (
    PREDECESSORS,
    BlockerAnswered,
    NotFound,
    Run,
    RunState,
    Scope,
    check_transition,
    to_ms,
    to_msgpack,
)
from ._leases import check_epoch
from ._ops import check_revision, require
from ._projection import (
    RUN_UPDATED,
    append_journal,
    append_journal_many,
    executed_slot,
    insert_run_row,
)

__all__ = ["CreateRun", "SaveRun"]


class CreateRun(msgspec.Struct, gc=False, frozen=True):
    """Create a run and record the transitions it already went through: `revisions`
    from the first (`scheduled`), each journaled at its time in `at`.

    One insert of the row as of the last revision, and the journal entries in one
    statement: a run that starts at once (`running`) or ends at once (skipped,
    missed) costs what one transition costs. Returns each entry's sequence number.
    """

    scope: Scope
    revisions: tuple[Run, ...]
    at: tuple[datetime, ...]
    writer_key: str | None = None
    owner: str | None = None
    epoch: int | None = None
    """The scheduler lease's epoch when the write is made under it (fencing)."""

    def apply(self, connection: apsw.Connection) -> list[int]:
        check_epoch(connection, self.scope, self.epoch)
        revisions = self.revisions
        require(len(revisions) == len(self.at) > 0, "a time for each revision")
        require(revisions[0].revision == 1, "a new run starts at revision 1")
        for before, after in itertools.pairwise(revisions):
            require(after.id == before.id, "the revisions of one run")
            require(after.revision == before.revision + 1, "a transition adds 1 to the revision")
            check_transition(before.state, after.state)
        bodies = [to_msgpack(run) for run in revisions]
        last = revisions[-1]
        key, owner = self._holders(last)
        scope = self.scope
        if not insert_run_row(connection, scope, last, bodies[-1], writer_key=key, owner=owner):
            raise NotFound(f"no automation {last.automation_id} in this project and directory")
        entries = []
        for run, at, body in zip(revisions, self.at, bodies, strict=True):
            key, owner = self._holders(run)
            entries.append((to_ms(at), run.id, run.revision, body, key, owner))
        seq = append_journal_many(connection, scope, RUN_UPDATED, entries)
        return list(range(seq - len(entries) + 1, seq + 1))

    def _holders(self, run: Run) -> tuple[str | None, str | None]:
        """The writer key and owner a revision holds: only while the run is active."""
        if run.state.is_active:
            return self.writer_key, self.owner
        return None, None


class SaveRun(msgspec.Struct, gc=False, frozen=True):
    """Record a run's next transition, or create it (`expected_revision=None`, the
    same as `CreateRun` with one revision).

    `writer_key` and `owner` are kept while the run is active and cleared when it ends,
    which frees the writer key for the next run.
    """

    scope: Scope
    run: Run
    expected_revision: int | None
    at: datetime
    writer_key: str | None = None
    owner: str | None = None
    epoch: int | None = None
    """The scheduler lease's epoch when the write is made under it (fencing)."""
    unanswered: str | None = None
    """A blocker that must have no stored answer: a blocker timeout fails a run only
    if nobody answered first, checked in the transaction of the failure."""

    def apply(self, connection: apsw.Connection) -> int:
        if self.unanswered is not None:
            _check_unanswered(connection, self.scope, self.run.id, self.unanswered)
        if self.expected_revision is None:  # a new run: one way to create one
            first = CreateRun(
                self.scope, (self.run,), (self.at,), self.writer_key, self.owner, self.epoch
            )
            return first.apply(connection)[0]
        check_epoch(connection, self.scope, self.epoch)
        run = self.run
        body = to_msgpack(run)
        active = run.state.is_active
        writer_key = self.writer_key if active else None
        owner = self.owner if active else None
        self._update(connection, self.expected_revision, body, writer_key, owner)
        return append_journal(
            connection,
            at=to_ms(self.at),
            kind=RUN_UPDATED,
            entity_id=run.id,
            revision=run.revision,
            scope=self.scope,
            body=body,
            writer_key=writer_key,
            owner=owner,
        )

    def _update(
        self,
        connection: apsw.Connection,
        expected: int,
        body: bytes,
        writer_key: str | None,
        owner: str | None,
    ) -> None:
        """Compare-and-swap in one statement; diagnose only when it changed nothing."""
        run = self.run
        require(run.revision == expected + 1, "a transition adds 1 to the revision")
        connection.execute(
            _TRANSITION_SQL[run.state],
            (
                run.revision,
                run.state.value,
                executed_slot(run),
                None if run.missed is None else to_ms(run.missed.first),
                writer_key,
                owner,
                body,
                run.id,
                self.scope.project,
                self.scope.directory,
                expected,
            ),
        )
        if connection.changes() == 0:
            self._diagnose(connection, expected)

    def _diagnose(self, connection: apsw.Connection, expected: int) -> None:
        run = self.run
        row = connection.execute(
            "SELECT revision, state FROM runs WHERE id = ? AND project = ? AND directory = ?",
            (run.id, self.scope.project, self.scope.directory),
        ).fetchone()
        if row is None:
            raise NotFound(f"no run {run.id} in this project and directory")
        check_revision("run", run.id, int(row[0]), expected)
        check_transition(RunState(row[1]), run.state)
        raise AssertionError("the transition matched but changed nothing")  # pragma: no cover


def _check_unanswered(connection: apsw.Connection, scope: Scope, run_id: str, blocker: str) -> None:
    row = connection.execute(
        "SELECT 1 FROM answers WHERE run_id = ? AND blocker_id = ? AND project = ?"
        " AND directory = ?",
        (run_id, blocker, scope.project, scope.directory),
    ).fetchone()
    if row is not None:
        raise BlockerAnswered(
            f"blocker {blocker} of run {run_id} was answered before its timeout; "
            "the run goes on with the answer"
        )


def _transition_sql(state: RunState) -> str:
    allowed = ", ".join(f"'{s.value}'" for s in sorted(PREDECESSORS[state]))
    return (
        "UPDATE runs SET revision = ?, state = ?, slot = ?, missed_first = ?, writer_key = ?,"
        " owner = ?, body = ?"
        " WHERE id = ? AND project = ? AND directory = ? AND revision = ?"
        f" AND state IN ({allowed or 'NULL'})"
    )


_TRANSITION_SQL = {state: _transition_sql(state) for state in RunState}
