"""The PostgreSQL writer sends a batch's hot rows multi-row, and never reorders what
must stay in order (`persistence/postgresql/_batched.py`)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import msgspec
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.model import RunState, advance
from automations.persistence import (
    CreateAutomations,
    CreateRun,
    SaveAutomation,
    SaveRun,
    open_store,
)
from automations.persistence._sql import (
    INSERT_RUN_OF_AUTOMATION,
    TRANSITION_SQL,
    UPDATE_AUTOMATION,
    UPDATE_AUTOMATION_WITH_RUN,
)
from automations.persistence.postgresql import PostgresStore
from automations.persistence.postgresql._batched import SHAPES, HeldRows

from ..conformance.builders import scheduled, started
from ..helpers import NOW, SCOPE, automation

Write = tuple[str, int, int, bool, bool]
"""(kind, run, automation, flag, key): an insert of run of automation; a transition of
run (flag: its slot becomes NULL); an update of automation (flag: with its slot's run).
An insert or a transition with `key` takes the writer key "k"; a transition without
may be letting it go."""


class _Recorder:
    """A connection that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[list[Any]]]] = []

    def execute(self, statement: str, columns: list[list[Any]]) -> None:
        self.sent.append((statement, columns))


def _parameters(
    kind: str, run: int, of: int, flag: bool, key: bool, marker: int
) -> tuple[object, ...]:
    body = marker.to_bytes(4, "big")
    writer_key = "k" if key else None
    if kind == "insert":
        return (f"r{run}", f"a{of}", "p", "d", 1, "scheduled", 0, 7, None, writer_key, None, body)
    if kind == "transition":
        slot = None if flag else 7
        return (2, "running", slot, None, writer_key, None, body, f"r{run}", "p", "d", 1)
    return (1, 0, 9, body, f"a{of}", "p", "d", 1, *((f"a{of}", 7) if flag else ()))


def _statement(kind: str, flag: bool) -> str:
    if kind == "insert":
        return INSERT_RUN_OF_AUTOMATION
    if kind == "transition":
        return TRANSITION_SQL[RunState.RUNNING]
    return UPDATE_AUTOMATION_WITH_RUN if flag else UPDATE_AUTOMATION


def _send(writes: Sequence[Write]) -> list[list[int]]:
    """Hold `writes` in order and send them; the markers of each statement's rows."""
    held, connection = HeldRows(), _Recorder()
    for marker, (kind, run, of, flag, key) in enumerate(writes):
        parameters = _parameters(kind, run, of, flag, key, marker)
        if kind == "insert":
            parameters = (*parameters, f"a{of}", "p", "d")
        held.hold(SHAPES[_statement(kind, flag)], parameters, connection)  # type: ignore[arg-type]
    held.send(connection)  # type: ignore[arg-type]
    body_at = {"INSERT INTO runs": 11, "UPDATE runs AS r": 6, "UPDATE automatio": 3}
    return [
        [int.from_bytes(body, "big") for body in columns[body_at[statement[:16]]]]
        for statement, columns in connection.sent
    ]


def _ordered(first: Write, second: Write) -> bool:
    """Whether `second` must be applied after `first` (it touches what `first` did)."""
    if (_takes_key(first) and _may_let_go(second)) or (_may_let_go(first) and _takes_key(second)):
        return True  # the unique writer key, checked in submission order
    kinds = {first[0], second[0]}
    if kinds <= {"insert", "transition"}:
        return first[1] == second[1]  # the same run
    if kinds == {"automation"}:
        return first[2] == second[2]
    if kinds == {"insert", "automation"}:  # a run of the automation a check looks for
        insert, update = (first, second) if first[0] == "insert" else (second, first)
        return update[3] and insert[2] == update[2]
    transition, update = (first, second) if first[0] == "transition" else (second, first)
    return transition[3] and update[3]  # a run leaving its slot, a check for a slot's run


def _takes_key(write: Write) -> bool:
    return write[0] != "automation" and write[4]


def _may_let_go(write: Write) -> bool:
    return write[0] == "transition" and not write[4]


writes = st.lists(
    st.tuples(
        st.sampled_from(["insert", "transition", "automation"]),
        st.integers(0, 5),
        st.integers(0, 3),
        st.booleans(),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(writes)
def test_rows_are_sent_once_and_those_that_must_keep_their_order_keep_it(
    batch: list[Write],
) -> None:
    sent = _send(batch)
    place = {marker: n for n, rows in enumerate(sent) for marker in rows}
    assert sorted(place) == list(range(len(batch)))
    for (i, first), (j, second) in itertools.combinations(enumerate(batch), 2):
        if _ordered(first, second):
            assert place[i] < place[j], (first, second)


def test_rows_of_distinct_runs_and_automations_go_in_one_statement_per_kind() -> None:
    batch: list[Write] = []
    for n in range(300):
        batch += [("insert", n, n, False, False), ("automation", 0, n, True, False)]
    batch += [("transition", n, 0, False, True) for n in range(300)]
    assert [len(rows) for rows in _send(batch)] == [300, 300, 300]
    # Run-nows: new runs of one automation, and other runs ending.
    batch = [("insert", n, 0, False, False) for n in range(300, 600)]
    batch += [("transition", n, 0, True, False) for n in range(300)]
    assert [len(rows) for rows in _send(batch)] == [300, 300]


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    async with open_store(pg_dsn) as opened:
        assert isinstance(opened, PostgresStore)
        yield opened


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The start of every statement the writer thread sends to the database (not
    its notifications to other processes, nor a new session's settings)."""
    sent: list[str] = []
    execute = psycopg.Connection.execute

    def recording(self: psycopg.Connection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        text = str(query)
        if threading.current_thread().name.startswith("automations-writer") and not (
            "pg_notify" in text or text.startswith("SET ")
        ):
            sent.append(text[:30])
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", recording)
    return sent


@pytest.mark.anyio
async def test_a_slot_s_batch_costs_a_few_statements_whatever_its_size(
    store: PostgresStore, statements: list[str]
) -> None:
    due = [automation(f"due {i}") for i in range(200)]
    await store.write(CreateAutomations(SCOPE, due))
    slot = NOW + timedelta(minutes=5)
    runs = [scheduled(a.id, slot) for a in due]
    statements.clear()
    with store.together():
        pending = [
            store.submit(write)
            for a, new in zip(due, runs, strict=True)
            for write in (
                CreateRun(SCOPE, (new,), (NOW,)),
                SaveAutomation(
                    SCOPE,
                    msgspec.structs.replace(a, next_fire_at=slot + timedelta(days=1)),
                    1,
                    derived=True,
                    slot_with_run=slot,
                ),
            )
        ]
        going = [started(new) for new in runs]
        pending += [store.submit(SaveRun(SCOPE, run, 1, NOW)) for run in going]
        ended = [advance(run, RunState.SUCCEEDED, at=NOW, result="ok") for run in going]
        pending += [store.submit(SaveRun(SCOPE, run, 2, NOW)) for run in ended]
    for write in pending:
        await write.outcome()
    assert await store.reader.run_by_id(SCOPE, runs[-1].id) == ended[-1]
    # The journal lock, runs inserted, automations, runs started, runs ended, the
    # journal's rows, its sequence moved (and COMMIT): 800 writes, 7 statements.
    assert len(statements) == 7, statements
    assert sorted(s[:15] for s in statements[1:5]) == [
        "INSERT INTO run",
        "UPDATE automati",
        "UPDATE runs AS ",
        "UPDATE runs AS ",
    ]
