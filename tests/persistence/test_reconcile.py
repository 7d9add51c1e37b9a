"""`ReconcileRuns`: the runs of a dead process that its slot still wants are adopted."""

from __future__ import annotations

from datetime import timedelta

import apsw
import pytest

from automations.model import Automation, KeyHolder, Run, RunState, Trigger, from_msgpack
from automations.persistence import CreateRun, Reconciled, ReconcileRuns, Replay, SaveAutomation
from automations.persistence.sqlite import apply_in_savepoint, projection_rows

from .helpers import NOW, SCOPE, automation, run

SLOT = NOW + timedelta(minutes=5)
DEAD, ME = "dead-process", "this-process"


def _claimed(
    connection: apsw.Connection, a: Automation, trigger: Trigger = Trigger.SCHEDULE
) -> Run:
    """A run the dead process recorded ahead of `SLOT` and never started (no key yet)."""
    claimed = run(a.id, trigger=trigger, triggered_at=SLOT)
    apply_in_savepoint(connection, CreateRun(SCOPE, (claimed,), (NOW,), None, DEAD), ":memory:")
    return claimed


def _reconcile(connection: apsw.Connection, at_offset: timedelta) -> Reconciled:
    operation = ReconcileRuns(DEAD, SCOPE, ME, SLOT + at_offset)
    result = apply_in_savepoint(connection, operation, ":memory:")
    assert isinstance(result, Reconciled)
    return result


def _row(connection: apsw.Connection, run_id: str) -> tuple[object, ...]:
    """State and stop reason of the run as its row has it, and who holds it."""
    row = connection.execute(
        "SELECT body, owner, writer_key FROM runs WHERE id = ?", (run_id,)
    ).fetchone()
    assert row is not None
    body, owner, key = row
    assert isinstance(body, bytes)
    stored = from_msgpack(body, Run)
    reason = None if stored.stop_reason is None else stored.stop_reason.value
    return stored.state.value, reason, owner, key


@pytest.fixture
def a(connection: apsw.Connection) -> Automation:
    a = automation()
    apply_in_savepoint(connection, SaveAutomation(SCOPE, a, None), ":memory:")
    return a


def test_a_run_whose_slot_is_to_come_is_left_for_a_later_look_then_adopted(
    connection: apsw.Connection, a: Automation
) -> None:
    claimed = _claimed(connection, a)

    early = _reconcile(connection, -timedelta(milliseconds=300))
    assert (early.changed, early.adopted, early.next_slot) == ([], [], SLOT)
    assert _row(connection, claimed.id) == ("scheduled", None, DEAD, None)

    late = _reconcile(connection, timedelta(seconds=5))
    assert late.next_slot is None
    (adopted,) = late.adopted
    assert adopted.blocker is None and adopted.run.id == claimed.id
    assert adopted.run.state is RunState.RUNNING
    assert adopted.run.started_at == SLOT + timedelta(seconds=5)
    assert _row(connection, claimed.id) == ("running", None, ME, a.writer_key)
    live = projection_rows(connection)
    apply_in_savepoint(connection, Replay(), ":memory:")
    assert projection_rows(connection) == live


def test_a_run_found_past_its_catchup_window_expires(
    connection: apsw.Connection, a: Automation
) -> None:
    claimed = _claimed(connection, a)
    result = _reconcile(connection, a.catchup_window + timedelta(seconds=1))
    assert result.adopted == []
    assert _row(connection, claimed.id) == ("stopped", "expired", None, None)


def test_a_manual_run_left_scheduled_expires_as_before(
    connection: apsw.Connection, a: Automation
) -> None:
    buffered = _claimed(connection, a, Trigger.MANUAL)
    result = _reconcile(connection, timedelta(seconds=1))
    assert result.adopted == []
    assert _row(connection, buffered.id) == ("stopped", "expired", None, None)


def test_a_run_whose_writer_key_another_run_holds_is_recorded_skipped(
    connection: apsw.Connection, a: Automation
) -> None:
    assert a.overlap.value == "skip"
    claimed = _claimed(connection, a)
    holder = run(a.id)  # a run of a live process holds the automation's writer key
    key = a.writer_key
    apply_in_savepoint(connection, CreateRun(SCOPE, (holder,), (NOW,), key, "alive"), ":memory:")

    result = _reconcile(connection, timedelta(seconds=1))
    assert result.adopted == []
    assert _row(connection, claimed.id) == ("stopped", "previous_run_awaiting_input", None, None)
    assert _row(connection, holder.id) == ("scheduled", None, "alive", key)
    row = connection.execute("SELECT body FROM runs WHERE id = ?", (claimed.id,)).fetchone()
    assert row is not None
    skipped = from_msgpack(row[0], Run)
    assert skipped.held_by == KeyHolder(
        run_id=holder.id, automation_id=a.id, state=RunState.SCHEDULED
    )
