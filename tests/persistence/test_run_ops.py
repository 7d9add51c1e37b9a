"""`CreateRun`: a new run with the transitions it went through at once."""

from __future__ import annotations

from datetime import datetime, timedelta

import apsw
import msgspec
import pytest

from automations.model import (
    DuplicateSlot,
    IllegalTransition,
    Missed,
    Run,
    RunState,
    StopReason,
    Trigger,
    WriterKeyBusy,
    advance,
)
from automations.persistence import CreateRun, Replay, SaveAutomation
from automations.persistence.sqlite import apply_in_savepoint, projection_rows

from .helpers import NOW, SCOPE, automation, run

SLOT = NOW + timedelta(minutes=5)


def _apply(connection: apsw.Connection, operation: CreateRun) -> object:
    return apply_in_savepoint(connection, operation, ":memory:")


def _missed(automation_id: str) -> tuple[Run, Run]:
    first = run(automation_id, trigger=Trigger.SCHEDULE, triggered_at=SLOT)
    missed = Missed(first=SLOT, last=SLOT + timedelta(minutes=5), count=2)
    stopped = advance(
        first, RunState.STOPPED, at=NOW, stop_reason=StopReason.MISSED_SCHEDULE, missed=missed
    )
    return first, stopped


def test_a_started_run_is_one_row_at_its_last_revision_and_every_revision_journaled(
    connection: apsw.Connection,
) -> None:
    a = automation()
    apply_in_savepoint(connection, SaveAutomation(SCOPE, a, None), ":memory:")
    first = run(a.id, trigger=Trigger.SCHEDULE, triggered_at=SLOT)
    started = advance(first, RunState.RUNNING, at=SLOT)
    seqs = _apply(connection, CreateRun(SCOPE, (first, started), (SLOT, SLOT), "key", "me"))

    assert seqs == [2, 3]  # consecutive, after the automation's entry
    rows = connection.execute(
        "SELECT revision, state, slot, writer_key, owner FROM runs"
    ).fetchall()
    assert rows == [(2, "running", int(SLOT.timestamp() * 1000), "key", "me")]
    journal = connection.execute(
        "SELECT revision, writer_key FROM journal WHERE entity_id = ? ORDER BY seq", (first.id,)
    ).fetchall()
    assert journal == [(1, "key"), (2, "key")]
    other = run(a.id)
    with pytest.raises(WriterKeyBusy):  # the key is held as by any active run
        _apply(connection, CreateRun(SCOPE, (other,), (NOW,), "key", "me"))
    live = projection_rows(connection)
    apply_in_savepoint(connection, Replay(), ":memory:")
    assert projection_rows(connection) == live


def test_a_missed_episode_is_recorded_once_and_leaves_its_slot_to_a_catchup_run(
    connection: apsw.Connection,
) -> None:
    a = automation()
    apply_in_savepoint(connection, SaveAutomation(SCOPE, a, None), ":memory:")
    _apply(connection, CreateRun(SCOPE, _missed(a.id), (NOW, NOW)))
    with pytest.raises(DuplicateSlot, match="already recorded"):
        _apply(connection, CreateRun(SCOPE, _missed(a.id), (NOW, NOW)))

    catchup = run(a.id, trigger=Trigger.CATCHUP, triggered_at=SLOT)
    _apply(connection, CreateRun(SCOPE, (catchup,), (NOW,)))  # the slot is free
    again = run(a.id, trigger=Trigger.SCHEDULE, triggered_at=SLOT)
    with pytest.raises(DuplicateSlot, match="already has its run"):
        _apply(connection, CreateRun(SCOPE, (again,), (NOW,)))


@pytest.mark.parametrize(
    "broken",
    [
        "skips a state",  # scheduled -> succeeded
        "skips a revision",
        "mixes runs",
        "misses a time",
    ],
)
def test_revisions_that_are_not_one_run_s_transitions_are_refused(
    connection: apsw.Connection, broken: str
) -> None:
    a = automation()
    apply_in_savepoint(connection, SaveAutomation(SCOPE, a, None), ":memory:")
    first = run(a.id)
    started = advance(first, RunState.RUNNING, at=NOW)
    revisions: tuple[Run, ...] = (first, started)
    at: tuple[datetime, ...] = (NOW, NOW)
    if broken == "skips a state":
        revisions = (first, msgspec.structs.replace(started, state=RunState.SUCCEEDED))
    elif broken == "skips a revision":
        revisions = (first, msgspec.structs.replace(started, revision=3))
    elif broken == "mixes runs":
        revisions = (first, msgspec.structs.replace(started, id="automation_run_other"))
    else:
        at = (NOW,)
    with pytest.raises((IllegalTransition, ValueError)):
        _apply(connection, CreateRun(SCOPE, revisions, at))
    assert connection.execute("SELECT count(*) FROM runs").fetchall() == [(0,)]
