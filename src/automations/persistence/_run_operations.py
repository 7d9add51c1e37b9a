"""Write operations on runs: a new run with the transitions it went through at once,
and each next transition (compare-and-swap on the revision and the state machine).

A run's stored row is a function of its last revision, so a run created at `running`
or `stopped` is one row, and its journal still holds every revision, which replays to
the same row.
"""

from __future__ import annotations

import itertools
from datetime import datetime

from ..model import Run, Scope, check_transition
from ._operations import Operation, require

__all__ = ["CreateRun", "SaveRun"]


class CreateRun(Operation[list[int]], frozen=True, gc=False):
    """Create a run and record the transitions it already went through: `revisions`
    from the first (`scheduled`), each journaled at its time in `at`; each entry's seq.

    A run that starts at once (`running`) or ends at once (skipped, missed) costs what
    one transition costs.
    """

    scope: Scope
    revisions: tuple[Run, ...]
    at: tuple[datetime, ...]
    writer_key: str | None = None
    owner: str | None = None
    epoch: int | None = None
    """The scheduler lease's epoch when the write is made under it (fencing)."""
    after: tuple[str, int] | None = None
    """(run id, revision): create the run only if that run is at that revision, so a
    failed run's next attempt is recorded only with its end (`Conflict` otherwise:
    each operation of a transaction still fails alone)."""

    def check(self) -> None:
        """The revisions are one run's, from revision 1, each a legal transition."""
        revisions = self.revisions
        require(len(revisions) == len(self.at) > 0, "a time for each revision")
        require(revisions[0].revision == 1, "a new run starts at revision 1")
        for before, after in itertools.pairwise(revisions):
            require(after.id == before.id, "the revisions of one run")
            require(after.revision == before.revision + 1, "a transition adds 1 to the revision")
            check_transition(before.state, after.state)

    def holders(self, run: Run) -> tuple[str | None, str | None]:
        """The writer key and owner a revision holds: only while the run is active."""
        if run.state.is_active:
            return self.writer_key, self.owner
        return None, None


class SaveRun(Operation[int], frozen=True, gc=False):
    """Record a run's next transition, or create it (`expected_revision=None`, the
    same as `CreateRun` with one revision); its journal seq.

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

    def as_create(self) -> CreateRun:
        return CreateRun(
            self.scope, (self.run,), (self.at,), self.writer_key, self.owner, self.epoch
        )

    def holders(self) -> tuple[str | None, str | None]:
        """The writer key and owner the run holds after this write."""
        if self.run.state.is_active:
            return self.writer_key, self.owner
        return None, None
