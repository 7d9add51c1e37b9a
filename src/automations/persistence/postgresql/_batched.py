"""Many rows of a batch's hot statements sent as one statement each (PostgreSQL's
writer, in its optimistic pass).

At a slot of 1,000 runs the writer's batch holds 1,000 of one statement (the runs'
`running`, say). Sent one by one, each costs the server a statement's work besides
the row's (bind, plan, executor start and end) and the writer thread psycopg's tens
of microseconds. So while the pass is under way (`PostgresSql.deferring`) the rows of
the shared SQL's hot statements (`SHAPES`) are held here, and sent as one statement
per shape with a column per array (`unnest`, in binary), whose WHERE keeps every
check of the single-row form: the revision compared and swapped, the state machine,
the automation's existence, the slot's run.

A statement must change exactly as many rows as it carries. One that changes fewer (a
lost compare-and-swap) or fails (a unique index) voids the pass, as a pipelined
single statement does, and the writer applies the batch again one statement per
operation in savepoints, where each refused write fails alone.

**Order.** A row is held past later statements only where that changes nothing. Any
other statement sends every held row first. A row that touches what a held row of a
statement opened after its own (or of its own) touched, sends them all first too:
the same run, the same automation, the runs of an automation that a `with_run` check
reads, the writer keys a run taking one checks. Rows of different runs or automations
in one statement are applied in no set order; they come from writes in flight
together, none of which waited for another.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

import psycopg

from ...model import PREDECESSORS, RunState
from .._sql import (
    INSERT_RUN_OF_AUTOMATION,
    MAX_ROWS,
    TRANSITION_SQL,
    UPDATE_AUTOMATION,
    UPDATE_AUTOMATION_WITH_RUN,
)

__all__ = ["SHAPES", "HeldRows", "Shape"]

Key = tuple[str, Hashable]
Touches = tuple[tuple[Key, ...], tuple[Key, ...]]
"""(what a row reads, what it writes), as keys: ("run", id) and ("automation", id),
each a row; ("slots", automation id), the runs of an automation (None: of any), to
which many rows of one statement may add, but which a check must read whole;
("keys", None), the writer keys held, which a run taking one reads (its unique
index) and a run that may be letting one go writes."""


_ADDED_TO = ("slots", "keys")
"""Keys that many rows of one statement may write together (each adds its own part),
but that a row reading them must not be sent with or before."""


class Shape(NamedTuple):
    """The multi-row form of a hot statement."""

    statement: str
    """One `%b` array per column, in `row`'s order."""
    row: Callable[[Sequence[Any]], Sequence[Any]]
    """The row's values from the single-row statement's parameters."""
    touches: Callable[[Sequence[Any]], Touches]


def _as_given(parameters: Sequence[Any]) -> Sequence[Any]:
    return parameters


def _transitions() -> Shape:
    """Every transition in one statement: the state machine as the pairs (state before,
    state after) it allows, so the runs' side has no filter of its own whose estimate
    (a state the statistics think rare) could make the planner scan the table for
    each row; it looks each run up by its key."""
    pairs = ", ".join(
        f"('{before.value}', '{after.value}')"
        for after in RunState
        for before in sorted(PREDECESSORS[after])
    )
    statement = (
        "UPDATE runs AS r SET revision = v.revision, state = v.state, slot = v.slot,"
        " missed_first = v.missed_first, writer_key = v.writer_key, owner = v.owner,"
        " body = v.body FROM unnest(%b::bigint[], %b::text[], %b::bigint[], %b::bigint[],"
        " %b::text[], %b::text[], %b::bytea[], %b::text[], %b::text[], %b::text[],"
        " %b::bigint[]) AS v(revision, state, slot, missed_first, writer_key, owner, body,"
        " id, project, directory, expected) WHERE r.id = v.id AND r.project = v.project"
        " AND r.directory = v.directory AND r.revision = v.expected"
        f" AND (r.state, v.state) IN ({pairs})"
    )
    return Shape(statement, _as_given, _transition_touches)


def _transition_touches(parameters: Sequence[Any]) -> Touches:
    # (revision, state, slot, missed_first, writer_key, owner, body, id, ...): a run
    # whose slot becomes NULL may be one a `with_run` check of its automation reads;
    # one that takes a writer key reads the keys (the unique index), one that leaves
    # it NULL may be letting its key go.
    run = ("run", parameters[7])
    keys: Key = ("keys", None)
    reads = (keys,) if parameters[4] is not None else ()
    writes = (run,) if parameters[4] is not None else (run, keys)
    if parameters[2] is None:
        return reads, (*writes, ("slots", None))
    return reads, writes


_UPDATE_AUTOMATIONS = Shape(
    "UPDATE automations AS a SET revision = v.revision, updated_at = v.updated_at,"
    " next_fire_at = v.next_fire_at, body = v.body FROM unnest(%b::bigint[], %b::bigint[],"
    " %b::bigint[], %b::bytea[], %b::text[], %b::text[], %b::text[], %b::bigint[],"
    " %b::text[], %b::bigint[]) AS v(revision, updated_at, next_fire_at, body, id, project,"
    " directory, expected, run_of, slot) WHERE a.id = v.id AND a.project = v.project"
    " AND a.directory = v.directory AND a.revision = v.expected AND (v.slot IS NULL"
    " OR EXISTS (SELECT 1 FROM runs WHERE automation_id = v.run_of AND slot = v.slot))",
    lambda parameters: (*parameters, None, None),
    lambda parameters: ((), (("automation", parameters[4]),)),
)
"""`UPDATE_AUTOMATION`'s rows: no run to look for (`slot` NULL)."""

_UPDATE_AUTOMATIONS_WITH_RUN = _UPDATE_AUTOMATIONS._replace(
    row=_as_given,
    touches=lambda parameters: (
        (("slots", parameters[8]), ("slots", None)),
        (("automation", parameters[4]),),
    ),
)
"""`UPDATE_AUTOMATION_WITH_RUN`'s rows, in the same statement (its last two columns:
the automation whose run, and the slot it must have)."""

_INSERT_RUNS = Shape(
    "INSERT INTO runs (id, automation_id, project, directory, revision, state,"
    " triggered_at, slot, missed_first, writer_key, owner, body) SELECT v.id,"
    " v.automation_id, v.project, v.directory, v.revision, v.state, v.triggered_at,"
    " v.slot, v.missed_first, v.writer_key, v.owner, v.body FROM unnest(%b::text[],"
    " %b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::bigint[],"
    " %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::bytea[], %b::text[],"
    " %b::text[], %b::text[]) AS v(id, automation_id, project, directory, revision, state,"
    " triggered_at, slot, missed_first, writer_key, owner, body, of_id, of_project,"
    " of_directory) WHERE EXISTS (SELECT 1 FROM automations WHERE id = v.of_id"
    " AND project = v.of_project AND directory = v.of_directory)",
    _as_given,
    lambda parameters: (
        (("keys", None),) if parameters[9] is not None else (),
        (("run", parameters[0]), ("slots", parameters[1])),
    ),
)
"""`INSERT_RUN_OF_AUTOMATION`'s rows: a new run, if its automation is in the scope."""

SHAPES: dict[str, Shape] = {
    **dict.fromkeys(TRANSITION_SQL.values(), _transitions()),
    UPDATE_AUTOMATION: _UPDATE_AUTOMATIONS,
    UPDATE_AUTOMATION_WITH_RUN: _UPDATE_AUTOMATIONS_WITH_RUN,
    INSERT_RUN_OF_AUTOMATION: _INSERT_RUNS,
}
"""The shared SQL's hot statements (by their text), and how many of each are sent."""


class HeldRows:
    """The rows held in one optimistic pass, a list per multi-row statement, sent in
    the order the statements were opened (see the module)."""

    __slots__ = ("_places", "_read", "_rows", "_statements", "_written", "sent")

    def __init__(self) -> None:
        self._statements: list[str] = []
        self._rows: list[list[Sequence[Any]]] = []
        """Rows of each multi-row statement, in the order the statements were opened."""
        self._places: dict[str, int] = {}
        self._read: dict[Key, int] = {}
        self._written: dict[Key, int] = {}
        """What held rows read and wrote: the latest statement (its place) that did."""
        self.sent: list[tuple[psycopg.Cursor[Any], int]] = []
        """Each statement sent, and how many rows it must change (known after a sync)."""

    def __bool__(self) -> bool:
        return bool(self._rows)

    def hold(
        self, shape: Shape, parameters: Sequence[Any], connection: psycopg.Connection[Any]
    ) -> None:
        """Hold a row of `shape`, first sending what it must not overtake."""
        reads, writes = shape.touches(parameters)
        place = self._places.get(shape.statement)
        if place is not None and (
            len(self._rows[place]) >= MAX_ROWS or self._overtakes(place, reads, writes)
        ):
            self.send(connection)
            place = None
        if place is None:
            place = self._places[shape.statement] = len(self._rows)
            self._statements.append(shape.statement)
            self._rows.append([])
        self._rows[place].append(shape.row(parameters))
        for key in reads:
            self._read[key] = max(self._read.get(key, -1), place)
        for key in writes:
            self._written[key] = max(self._written.get(key, -1), place)

    def _overtakes(self, place: int, reads: tuple[Key, ...], writes: tuple[Key, ...]) -> bool:
        """Whether a row added to the statement at `place` would be applied before, or
        with, a held row that touched what it touches: a read beside a read, and two
        runs added to an automation's, excepted."""
        written, read = self._written, self._read
        if any(written.get(key, -1) >= place for key in reads):
            return True
        return any(
            read.get(key, -1) >= place
            or (key[0] not in _ADDED_TO and written.get(key, -1) >= place)
            for key in writes
        )

    def send(self, connection: psycopg.Connection[Any]) -> None:
        """Send every held row: one statement of fixed text per shape (the server
        prepares it once), a column per array."""
        statements, rows_of = self._statements, self._rows
        self._statements, self._rows = [], []
        self._places.clear()
        self._read.clear()
        self._written.clear()
        for statement, rows in zip(statements, rows_of, strict=True):
            columns = [list(column) for column in zip(*rows, strict=True)]
            self.sent.append((connection.execute(statement, columns), len(rows)))

    def all_changed(self) -> bool:
        """Whether each statement sent changed every row it carried (after a sync)."""
        return all(cursor.rowcount == count for cursor, count in self.sent)
