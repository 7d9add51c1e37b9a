"""Retention: what a sweep forgets, what it keeps, and that replay still holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import apsw
import msgspec
import pytest

from automations.model import (
    Automation,
    Blocker,
    Pruned,
    Question,
    Run,
    RunState,
    Scope,
    StopReason,
    Tombstone,
    advance,
)
from automations.persistence import (
    DeleteAutomation,
    Operation,
    PruneProgress,
    PruneStep,
    Replay,
    SaveAutomation,
    SaveCheckpoint,
    SaveRun,
    StoreAnswer,
)
from automations.persistence.sqlite import apply_in_savepoint, open_sqlite_store, projection_rows
from automations.persistence.sqlite._schema import inspect, migrate

from .helpers import NOW, OTHER, SCOPE, automation, run

pytestmark = pytest.mark.anyio


def _at(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)


class Ledger:
    """An in-memory database written through the real operations."""

    def __init__(self) -> None:
        self.connection = apsw.Connection(":memory:")
        migrate(self.connection, inspect(self.connection, ":memory:"))

    def apply(self, operation: Operation[object]) -> object:
        return apply_in_savepoint(self.connection, operation, ":memory:")

    def create(self, scope: Scope, at: int, title: str = "Brief") -> Automation:
        a = msgspec.structs.replace(automation(title, project=scope.project), updated_at=_at(at))
        self.apply(SaveAutomation(scope, a, None))
        return a

    def update(self, scope: Scope, a: Automation, at: int, **changes: object) -> Automation:
        changed = msgspec.structs.replace(a, revision=a.revision + 1, updated_at=_at(at), **changes)
        self.apply(SaveAutomation(scope, changed, a.revision))
        return changed

    def run(self, scope: Scope, a: Automation, *states: tuple[RunState, int]) -> Run:
        """A run of `a`, scheduled at the first second, then taken through `states`."""
        r = run(a.id, triggered_at=_at(states[0][1]))
        self.apply(SaveRun(scope, r, None, r.triggered_at, None, "owner-1"))
        for state, second in states[1:]:
            r = self.step(scope, r, state, second)
        return r

    def step(self, scope: Scope, r: Run, state: RunState, second: int) -> Run:
        blocker = None
        if state is RunState.AWAITING_INPUT:
            blocker = Blocker(id="b1", request=Question("ok?"), asked_at=_at(second))
        reason = StopReason.CANCELLED if state is RunState.STOPPED else None
        nxt = advance(r, state, at=_at(second), blocker=blocker, stop_reason=reason)
        self.apply(SaveRun(scope, nxt, r.revision, _at(second), None, "owner-1"))
        return nxt

    def prune(self, scope: Scope, before: int, limit: int = 1_000) -> Pruned:
        runs = entries = after = 0
        for _ in range(1_000):
            step = self.apply(PruneStep(scope, _at(before), after, limit))
            assert isinstance(step, PruneProgress)
            runs, entries, after = runs + step.runs, entries + step.entries, step.last_seq
            if step.done:
                return Pruned(runs=runs, entries=entries)
        raise AssertionError("the sweep never ended")

    def journal(self) -> list[tuple[str, str, int]]:
        return [
            (str(kind), str(entity), int(revision))
            for kind, entity, revision in self.connection.execute(
                "SELECT kind, entity_id, revision FROM journal ORDER BY seq"
            )
        ]

    def count(self, table: str, run_id: str) -> int:
        column = "id" if table == "runs" else "run_id"
        row = self.connection.execute(
            f"SELECT count(*) FROM {table} WHERE {column} = ?", (run_id,)
        ).fetchone()
        assert row is not None
        return int(row[0])

    def replays_to_the_same_projections(self) -> bool:
        live = projection_rows(self.connection)
        self.apply(Replay())
        return projection_rows(self.connection) == live


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    ledger = Ledger()
    yield ledger
    ledger.connection.close()


def _ended_run(ledger: Ledger, a: Automation, start: int, scope: Scope = SCOPE) -> Run:
    """Five entries, an answer and a checkpoint; ended at `start + 4`."""
    r = ledger.run(scope, a, (RunState.SCHEDULED, start), (RunState.RUNNING, start + 1))
    r = ledger.step(scope, r, RunState.AWAITING_INPUT, start + 2)
    ledger.apply(StoreAnswer(scope, r.id, "b1", "yes", _at(start + 2)))
    ledger.apply(SaveCheckpoint(r.id, b'{"n": 1}', _at(start + 2)))
    r = ledger.step(scope, r, RunState.RUNNING, start + 3)
    return ledger.step(scope, r, RunState.SUCCEEDED, start + 4)


def test_runs_that_ended_before_the_cutoff_go_whole_and_the_rest_stays(ledger: Ledger) -> None:
    a = ledger.create(SCOPE, 0)
    old = _ended_run(ledger, a, 10)
    assert ledger.count("answers", old.id) == ledger.count("checkpoints", old.id) == 1
    active = ledger.run(SCOPE, a, (RunState.SCHEDULED, 20), (RunState.RUNNING, 21))
    recent = ledger.run(
        SCOPE, a, (RunState.SCHEDULED, 30), (RunState.RUNNING, 31), (RunState.SUCCEEDED, 100)
    )

    assert ledger.prune(SCOPE, before=60) == Pruned(runs=1, entries=5)

    for table in ("runs", "answers", "checkpoints"):
        assert ledger.count(table, old.id) == 0
    assert ledger.count("runs", active.id) == 1
    assert ledger.count("runs", recent.id) == 1
    assert [entity for _, entity, _ in ledger.journal()].count(old.id) == 0
    assert ledger.replays_to_the_same_projections()
    assert ledger.prune(SCOPE, before=60) == Pruned()  # nothing more to forget


def test_an_automation_keeps_the_entry_that_decides_its_row_and_a_deleted_one_goes(
    ledger: Ledger,
) -> None:
    a = ledger.create(SCOPE, 0)
    a = ledger.update(SCOPE, a, 1, title="Second")
    a = ledger.update(SCOPE, a, 2, title="Third")
    derived = msgspec.structs.replace(a, failure_streak=2)  # same revision, same `at`
    ledger.apply(SaveAutomation(SCOPE, derived, a.revision, derived=True))
    gone = ledger.create(SCOPE, 3, title="Gone")
    ledger.apply(DeleteAutomation(SCOPE, Tombstone(id=gone.id, revision=2), 1, _at(4)))

    assert ledger.prune(SCOPE, before=60) == Pruned(runs=0, entries=5)

    assert ledger.journal() == [("automation.definition.updated", a.id, 3)]
    rows = projection_rows(ledger.connection)["automations"]
    assert [row[0] for row in rows] == [a.id]
    assert ledger.replays_to_the_same_projections()


def test_the_sweep_stops_at_the_first_entry_not_older_than_the_cutoff(ledger: Ledger) -> None:
    a = ledger.create(SCOPE, 0)
    late = ledger.run(SCOPE, a, (RunState.SCHEDULED, 90), (RunState.STOPPED, 91))
    early = _ended_run(ledger, a, 10)  # written after `late`, though older

    assert ledger.prune(SCOPE, before=60) == Pruned()
    assert ledger.count("runs", early.id) == ledger.count("runs", late.id) == 1
    assert ledger.prune(SCOPE, before=95) == Pruned(runs=2, entries=7)
    assert ledger.replays_to_the_same_projections()


def test_other_scopes_are_not_touched(ledger: Ledger) -> None:
    mine, theirs = ledger.create(SCOPE, 0), ledger.create(OTHER, 0)
    kept = _ended_run(ledger, theirs, 10, OTHER)
    _ended_run(ledger, mine, 10)

    assert ledger.prune(SCOPE, before=60) == Pruned(runs=1, entries=5)
    assert ledger.count("runs", kept.id) == 1
    assert ledger.replays_to_the_same_projections()


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_small_steps_forget_the_same_and_each_leaves_a_replayable_journal(
    ledger: Ledger, limit: int
) -> None:
    a = ledger.create(SCOPE, 0)
    a = ledger.update(SCOPE, a, 1, title="Second")
    for start in (10, 20, 30):
        _ended_run(ledger, a, start)
    after, total = 0, Pruned()
    while True:
        step = ledger.apply(PruneStep(SCOPE, _at(60), after, limit))
        assert isinstance(step, PruneProgress)
        assert ledger.replays_to_the_same_projections()
        total = Pruned(runs=total.runs + step.runs, entries=total.entries + step.entries)
        after = step.last_seq
        if step.done:
            break
    assert total == Pruned(runs=3, entries=16)


async def test_the_store_prunes_a_real_file_in_steps(tmp_path: Path) -> None:
    async with open_sqlite_store(tmp_path / "ledger.db") as store:
        a = msgspec.structs.replace(automation(), updated_at=_at(0))
        await store.create_automation(SCOPE, a)
        r = run(a.id, triggered_at=_at(1))
        await store.save_run(SCOPE, r, expected_revision=None, at=_at(1))
        done = advance(r, RunState.STOPPED, at=_at(2), stop_reason=StopReason.CANCELLED)
        await store.save_run(SCOPE, done, expected_revision=1, at=_at(2))

        assert await store.prune(SCOPE, _at(60)) == Pruned(runs=1, entries=2)
        assert await store.reader.run_by_id(SCOPE, r.id) is None
        before = await store.projections()
        await store.replay()
        assert await store.projections() == before


async def test_a_long_sweep_reports_its_progress_after_each_step(tmp_path: Path) -> None:
    async with open_sqlite_store(tmp_path / "ledger.db") as store:
        a = msgspec.structs.replace(automation(), updated_at=_at(0))
        await store.create_automation(SCOPE, a)
        with store.together():  # 1,100 runs of two entries: three steps of 1,000
            for _ in range(1_100):
                r = run(a.id, triggered_at=_at(1))
                store.submit(SaveRun(SCOPE, r, None, _at(1), None, None))
                stopped = advance(r, RunState.STOPPED, at=_at(2), stop_reason=StopReason.CANCELLED)
                last = store.submit(SaveRun(SCOPE, stopped, 1, _at(2), None, None))
        await last.outcome()

        seen: list[Pruned] = []
        assert await store.prune(SCOPE, _at(60), seen.append) == Pruned(runs=1_100, entries=2_200)
        assert [p.entries for p in seen] == [999, 1_999]  # the automation's entry stays
