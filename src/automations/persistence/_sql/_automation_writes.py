"""How the writes of automations, answers, checkpoints and progress are applied."""

from __future__ import annotations

import msgspec

from ...model import (
    Conflict,
    DuplicateKey,
    NotFound,
    Run,
    Scope,
    from_msgpack,
    to_ms,
    to_msgpack,
)
from .._commands import AnswerCommand
from .._journal import AUTOMATION_DELETED, AUTOMATION_UPDATED
from .._operations import (
    CreateAutomations,
    DeleteAutomation,
    SaveAutomation,
    SaveCheckpoint,
    SaveProgress,
    StoreAnswer,
    check_revision,
    require,
)
from ._command_writes import enqueue
from ._connection import Sql
from ._lease_writes import check_epoch
from ._projection import (
    append_journal,
    append_journal_many,
    insert_automation_rows,
    update_automation_row,
)

__all__ = [
    "create_automations",
    "delete_automation",
    "save_automation",
    "save_checkpoint",
    "save_progress",
    "store_answer",
]


def save_automation(sql: Sql, op: SaveAutomation) -> int:
    check_epoch(sql, op.scope, op.epoch)
    automation = op.automation
    if op.expected_revision is None:
        return create_automations(sql, CreateAutomations(op.scope, (automation,)))[0]
    if not op.revision_step_is_right():
        _diagnose(sql, op)  # a missing or stale row is what the caller hears
        require(False, "an update adds 1 to the revision")
    body = to_msgpack(automation)
    with_run = None if op.slot_with_run is None else to_ms(op.slot_with_run)
    if not update_automation_row(
        sql, op.scope, automation, body, op.expected_revision, slot_with_run=with_run
    ):
        _diagnose(sql, op)
        if with_run is not None:
            raise Conflict(
                f"the run of slot {op.slot_with_run} of automation {automation.id} was not "
                "recorded, so its next fire stays at that slot"
            )
        raise AssertionError("the revision matched but nothing changed")  # pragma: no cover
    entry = (to_ms(automation.updated_at), automation.id, automation.revision, body, None, None)
    return append_journal(sql, op.scope, AUTOMATION_UPDATED, entry)


def _diagnose(sql: Sql, op: SaveAutomation) -> None:
    """Raise NotFound or Conflict, as the stored row says."""
    id = op.automation.id
    stored = _stored_revision(sql, op.scope, id)
    if stored is None:
        raise NotFound(f"no automation {id} in this project and directory")
    assert op.expected_revision is not None
    check_revision("automation", id, stored, op.expected_revision)


def _stored_revision(sql: Sql, scope: Scope, id: str) -> int | None:
    row = sql.execute(
        "SELECT revision FROM automations WHERE id = ? AND project = ? AND directory = ?",
        (id, scope.project, scope.directory),
    ).fetchone()
    return None if row is None else int(row[0])


def create_automations(sql: Sql, op: CreateAutomations) -> list[int]:
    if not op.automations:
        return []
    op.check()
    bodies = [to_msgpack(automation) for automation in op.automations]
    try:
        insert_automation_rows(sql, op.scope, op.automations, bodies)
    except Exception as exc:
        index = sql.unique_index(exc)
        if index is None:
            raise
        if index == "automations_key":
            raise DuplicateKey("another automation of this scope has this key") from None
        raise Conflict(op.taken_message()) from None
    return append_journal_many(
        sql,
        op.scope,
        AUTOMATION_UPDATED,
        [
            (to_ms(a.updated_at), a.id, a.revision, body, None, None)
            for a, body in zip(op.automations, bodies, strict=True)
        ],
    )


def delete_automation(sql: Sql, op: DeleteAutomation) -> int:
    id = op.tombstone.id
    stored = _stored_revision(sql, op.scope, id)
    if stored is None:
        raise NotFound(f"no automation {id} in this project and directory")
    check_revision("automation", id, stored, op.expected_revision)
    require(op.tombstone.revision == stored + 1, "a tombstone adds 1 to the revision")
    sql.execute("DELETE FROM automations WHERE id = ? AND revision = ?", (id, op.expected_revision))
    if sql.changes() == 0:  # pragma: no cover - the writer holds the write lock
        raise Conflict(f"automation {id} changed while it was deleted; read it again")
    entry = (to_ms(op.at), id, op.tombstone.revision, to_msgpack(op.tombstone), None, None)
    return append_journal(sql, op.scope, AUTOMATION_DELETED, entry)


def store_answer(sql: Sql, op: StoreAnswer) -> bool:
    scope = op.scope
    encoded = msgspec.json.encode(op.reply)
    row = sql.execute(
        "SELECT reply FROM answers WHERE run_id = ? AND blocker_id = ?"
        " AND project = ? AND directory = ?",
        (op.run_id, op.blocker_id, scope.project, scope.directory),
    ).fetchone()
    if row is not None:
        if bytes(row[0]) != encoded:
            raise Conflict(f"blocker {op.blocker_id} was already answered differently")
        return False
    owner = _open_blocker_owner(sql, op)
    sql.execute(
        "INSERT INTO answers (run_id, blocker_id, project, directory, at, reply)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (op.run_id, op.blocker_id, scope.project, scope.directory, to_ms(op.at), encoded),
    )
    if owner is not None and owner != op.sender:
        command = AnswerCommand(op.run_id, op.blocker_id, op.reply)
        enqueue(sql, scope, command, owner, op.at)
    return True


def _open_blocker_owner(sql: Sql, op: StoreAnswer) -> str | None:
    """The process executing the run, which must be waiting on this blocker."""
    row = sql.execute(
        "SELECT body, owner FROM runs WHERE id = ? AND project = ? AND directory = ?",
        (op.run_id, op.scope.project, op.scope.directory),
    ).fetchone()
    if row is None:
        raise NotFound(f"no run {op.run_id} in this project and directory")
    op.check_open(from_msgpack(row[0], Run))
    return None if row[1] is None else str(row[1])


def save_progress(sql: Sql, op: SaveProgress) -> None:
    sql.execute(
        "INSERT INTO progress (run_id, at, steps) VALUES (?, ?, ?)"
        " ON CONFLICT (run_id) DO UPDATE SET at = excluded.at, steps = excluded.steps",
        (op.run_id, to_ms(op.at), op.steps),
    )


def save_checkpoint(sql: Sql, op: SaveCheckpoint) -> None:
    sql.execute(
        "INSERT INTO checkpoints (run_id, at, data) VALUES (?, ?, ?)"
        " ON CONFLICT (run_id) DO UPDATE SET at = excluded.at, data = excluded.data",
        (op.run_id, to_ms(op.at), op.data),
    )
