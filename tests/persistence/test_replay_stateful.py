"""Random histories of writes; replaying the journal always gives the live projections."""

from __future__ import annotations

from datetime import datetime, timedelta

import apsw
import msgspec
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from automations.actors._retries import next_attempt
from automations.actors._run_phase import Fail
from automations.model import (
    TRANSITIONS,
    Automation,
    AutomationError,
    Blocker,
    ErrorCode,
    Missed,
    Question,
    RetryPolicy,
    Run,
    RunError,
    RunState,
    Scope,
    StopReason,
    Tombstone,
    Trigger,
    advance,
)
from automations.persistence import (
    CreateRun,
    DeleteAutomation,
    Operation,
    PruneProgress,
    PruneStep,
    Replay,
    SaveAutomation,
    SaveRun,
)
from automations.persistence._sql._queries import count_executed
from automations.persistence.sqlite import apply_in_savepoint, projection_rows
from automations.persistence.sqlite._schema import inspect, migrate
from automations.persistence.sqlite._sql import SqliteSql
from automations.schedules import planned_start

from .helpers import NOW, OTHER, SCOPE, automation, run

SCOPES = {"project-a": SCOPE, "project-b": OTHER}
KEYS = st.sampled_from([None, "project:a", "worktree:/w1", "worktree:/w2"])
LIMITS = st.integers(1, 6)
JITTERS = st.sampled_from([timedelta(0), timedelta(seconds=10), timedelta(hours=1)])
TITLES = st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,19}", fullmatch=True)
CODES = st.sampled_from([ErrorCode.EXECUTION_FAILED, ErrorCode.TIMEOUT, *ErrorCode])
POLICIES = st.none() | st.builds(
    RetryPolicy,
    max_attempts=st.integers(2, 4),
    backoff=st.integers(1, 600).map(lambda s: timedelta(seconds=s)),
    multiplier=st.sampled_from([1.0, 2.0, 3.5]),
    max_backoff=st.just(timedelta(hours=1)),
)


class JournalMachine(RuleBasedStateMachine):
    automations = Bundle("automations")

    def __init__(self) -> None:
        super().__init__()
        self.connection = apsw.Connection(":memory:")
        migrate(self.connection, inspect(self.connection, ":memory:"))
        self.live: dict[str, Automation] = {}
        self.runs: dict[str, tuple[Run, str | None, Scope]] = {}
        self.tick = 0

    def _apply(self, operation: Operation[object]) -> bool:
        try:
            apply_in_savepoint(self.connection, operation, ":memory:")
        except AutomationError:
            return False
        return True

    def _now(self) -> timedelta:
        self.tick += 1
        return timedelta(seconds=self.tick)

    @rule(
        target=automations,
        project=st.sampled_from(sorted(SCOPES)),
        title=TITLES,
        jitter=JITTERS,
        retry=POLICIES,
    )
    def create(self, project: str, title: str, jitter: timedelta, retry: RetryPolicy | None) -> str:
        a = automation(title, project=project, every=timedelta(minutes=1))
        a = msgspec.structs.replace(a, jitter=jitter, retry=retry)
        assert self._apply(SaveAutomation(SCOPES[project], a, None))
        self.live[a.id] = a
        return a.id

    @rule(id=automations, title=TITLES, stale=st.booleans())
    def update(self, id: str, title: str, stale: bool) -> None:
        current = self.live.get(id)
        if current is None:
            return
        scope = SCOPES[current.where.project]
        changed = msgspec.structs.replace(
            current, title=title, revision=current.revision + 1, updated_at=NOW + self._now()
        )
        expected = current.revision - 1 if stale else current.revision
        ok = self._apply(SaveAutomation(scope, changed, expected))
        assert ok is not stale
        if ok:
            self.live[id] = changed

    @rule(id=consumes(automations))
    def delete(self, id: str) -> None:
        current = self.live.pop(id, None)
        if current is None:
            return
        tombstone = Tombstone(id=id, revision=current.revision + 1)
        scope = SCOPES[current.where.project]
        assert self._apply(DeleteAutomation(scope, tombstone, current.revision, NOW))

    @rule(id=automations, scheduled=st.booleans(), slot=st.integers(0, 5), key=KEYS)
    def start_run(self, id: str, scheduled: bool, slot: int, key: str | None) -> None:
        current = self.live.get(id)
        if current is None:
            return
        trigger = Trigger.SCHEDULE if scheduled else Trigger.MANUAL
        r = run(id, trigger=trigger, triggered_at=NOW + timedelta(minutes=slot))
        scope = SCOPES[current.where.project]
        if self._apply(SaveRun(scope, r, None, NOW, key, "owner-1")):
            self.runs[r.id] = (r, key, scope)

    @rule(
        id=automations,
        path=st.sampled_from(["scheduled", "running", "skipped", "missed"]),
        slot=st.integers(0, 5),
        key=KEYS,
        trigger=st.sampled_from([Trigger.SCHEDULE, Trigger.CATCHUP, Trigger.BACKFILL]),
    )
    def create_run(self, id: str, path: str, slot: int, key: str | None, trigger: Trigger) -> None:
        """A run written with the transitions it went through at once (`CreateRun`): a
        slot's, a catch-up's or a backfill's; a jittered slot's with its planned start."""
        current = self.live.get(id)
        if current is None:
            return
        first = run(id, trigger=trigger, triggered_at=NOW + timedelta(minutes=slot))
        if trigger is Trigger.SCHEDULE:
            first = msgspec.structs.replace(
                first, planned_at=planned_start(current, first.triggered_at)
            )
        at = NOW + self._now()
        revisions = [first]
        if path == "running":
            revisions.append(advance(first, RunState.RUNNING, at=at))
        elif path == "skipped":
            reason = StopReason.PREVIOUS_RUN_AWAITING_INPUT
            revisions.append(advance(first, RunState.STOPPED, at=at, stop_reason=reason))
        elif path == "missed":
            missed = Missed(first=first.triggered_at, last=first.triggered_at, count=1)
            reason = StopReason.MISSED_SCHEDULE
            revisions.append(
                advance(first, RunState.STOPPED, at=at, stop_reason=reason, missed=missed)
            )
        scope = SCOPES[current.where.project]
        operation = CreateRun(scope, tuple(revisions), (at,) * len(revisions), key, "owner-1")
        if self._apply(operation):
            self.runs[first.id] = (revisions[-1], key, scope)

    @rule(id=automations, first=st.integers(0, 5), count=st.integers(1, 4), key=KEYS)
    def backfill(self, id: str, first: int, count: int, key: str | None) -> None:
        """Backfill runs of consecutive slots, each alone: a slot that has a run already
        is refused by the once-per-slot index, and the others are written."""
        current = self.live.get(id)
        if current is None:
            return
        scope = SCOPES[current.where.project]
        for slot in range(first, first + count):
            r = run(id, trigger=Trigger.BACKFILL, triggered_at=NOW + timedelta(minutes=slot))
            taken = self._slot_taken(id, r.triggered_at)
            ok = self._apply(SaveRun(scope, r, None, NOW + self._now(), key, "owner-1"))
            assert not (ok and taken)  # a slot runs at most once
            if ok:
                self.runs[r.id] = (r, key, scope)

    def _slot_taken(self, automation_id: str, slot: datetime) -> bool:
        return any(
            r.automation_id == automation_id
            and r.trigger is not Trigger.MANUAL
            and r.stop_reason is not StopReason.MISSED_SCHEDULE
            and r.triggered_at == slot
            for r, _, _ in self.runs.values()
        )

    @precondition(lambda self: bool(self.runs))
    @rule(data=st.data())
    def transition(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.runs)))
        current, key, scope = self.runs[run_id]
        target = data.draw(st.sampled_from(list(RunState)))
        at = NOW + self._now()
        try:
            nxt = _advance(current, target, at)
        except AutomationError:
            assert target not in TRANSITIONS[current.state]
            return
        if self._apply(SaveRun(scope, nxt, current.revision, at, key, "owner-1")):
            self.runs[run_id] = (nxt, key, scope)

    @rule(id=automations, data=st.data(), code=CODES, wish=st.sampled_from([None, True, False]))
    def fail_and_retry(
        self, id: str, data: st.DataObject, code: ErrorCode, wish: bool | None
    ) -> None:
        """A running run of `id` (one starts if none runs) fails; its next attempt, as the
        automation's policy says, is recorded `scheduled` in the same commit (the
        actors' `together`), and may start and end like any run."""
        definition = self.live.get(id)
        if definition is None:
            return
        scope = SCOPES[definition.where.project]
        running = sorted(
            i
            for i, (r, _, _) in self.runs.items()
            if r.state is RunState.RUNNING and r.automation_id == id
        )
        if running:
            current, key, scope = self.runs[data.draw(st.sampled_from(running))]
        else:
            first = run(id, trigger=Trigger.SCHEDULE, triggered_at=NOW + self._now())
            current, key = advance(first, RunState.RUNNING, at=first.triggered_at), None
            at = first.triggered_at
            if not self._apply(CreateRun(scope, (first, current), (at, at), key, "owner-1")):
                return
        at = NOW + self._now()
        decision = Fail.because(code, "overloaded", retry=wish)
        failed = advance(current, RunState.FAILED, at=at, error=decision.error)
        assert self._apply(SaveRun(scope, failed, current.revision, at, key, "owner-1"))
        self.runs[current.id] = (failed, key, scope)
        retry = next_attempt(definition, current, decision, at)
        if retry is None:
            return
        assert retry.attempt == current.attempt + 1 and retry.triggered_at > at
        assert retry.retry_of == (current.retry_of or current.id)
        if self._apply(CreateRun(scope, (retry,), (at,), None, "owner-1")):
            self.runs[retry.id] = (retry, None, scope)
            event(f"attempt {retry.attempt} recorded")

    def _policy(self, run: Run) -> RetryPolicy | None:
        definition = self.live.get(run.automation_id)
        return None if definition is None else definition.retry

    @precondition(lambda self: any(_waiting_retry(r) for r, _, _ in self.runs.values()))
    @rule(data=st.data(), key=KEYS)
    def start_retry(self, data: st.DataObject, key: str | None) -> None:
        """A retry that is due starts, holding its writer key, as any run does."""
        waiting = sorted(i for i, (r, _, _) in self.runs.items() if _waiting_retry(r))
        run_id = data.draw(st.sampled_from(waiting))
        current, _, scope = self.runs[run_id]
        started = advance(current, RunState.RUNNING, at=current.triggered_at)
        if self._apply(SaveRun(scope, started, current.revision, started.triggered_at, key, "o")):
            self.runs[run_id] = (started, key, scope)

    @rule(project=st.sampled_from(sorted(SCOPES)), seconds=st.integers(0, 400), limit=LIMITS)
    def prune(self, project: str, seconds: int, limit: int) -> None:
        scope, before = SCOPES[project], NOW + timedelta(seconds=seconds)
        after = 0
        while True:  # in small steps: every step must leave a replayable journal
            step = apply_in_savepoint(self.connection, PruneStep(scope, before, after, limit), "")
            assert isinstance(step, PruneProgress)
            after = step.last_seq
            self.replay_equals_the_live_projections()
            if step.done:
                break
        stored = {row[0] for row in projection_rows(self.connection)["runs"]}
        for run_id, (r, _, run_scope) in list(self.runs.items()):
            if run_id in stored:
                continue
            # Only runs of this scope that ended before the cutoff are forgotten.
            assert run_scope == scope and r.state.is_terminal
            assert r.completed_at is not None and r.completed_at < before
            del self.runs[run_id]

    @invariant()
    def replay_equals_the_live_projections(self) -> None:
        live = projection_rows(self.connection)
        apply_in_savepoint(self.connection, Replay(), ":memory:")
        assert projection_rows(self.connection) == live

    @invariant()
    def projections_hold_what_was_acknowledged(self) -> None:
        rows = projection_rows(self.connection)
        assert {row[0] for row in rows["automations"]} == set(self.live)
        stored_runs = {row[0]: row[5] for row in rows["runs"]}
        for run_id, (r, _, _) in self.runs.items():
            assert stored_runs[run_id] == r.state.value

    @invariant()
    def a_count_stop_counts_a_chain_of_retries_once(self) -> None:
        for automation_id, a in self.live.items():
            scope = SCOPES[a.where.project]
            executed = [
                r
                for r, _, run_scope in self.runs.values()
                if r.automation_id == automation_id
                and run_scope == scope
                and r.state in (RunState.SUCCEEDED, RunState.FAILED)
                and r.trigger is not Trigger.RETRY
            ]
            assert count_executed(SqliteSql(self.connection), scope, automation_id) == len(executed)

    def teardown(self) -> None:
        self.connection.close()


def _waiting_retry(run: Run) -> bool:
    return run.trigger is Trigger.RETRY and run.state is RunState.SCHEDULED


def _advance(current: Run, target: RunState, at: datetime) -> Run:
    """The next revision with the payload that `target` requires."""
    blocker = Blocker(id="b", request=Question("ok?"), asked_at=NOW)
    return advance(
        current,
        target,
        at=at,
        blocker=blocker if target is RunState.AWAITING_INPUT else None,
        error=RunError(ErrorCode.EXECUTION_FAILED, "boom") if target is RunState.FAILED else None,
        stop_reason=StopReason.CANCELLED if target is RunState.STOPPED else None,
        result="done" if target is RunState.SUCCEEDED else None,
    )


JournalMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestJournalReplay = JournalMachine.TestCase
