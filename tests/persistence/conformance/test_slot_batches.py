"""A slot's batch: many writes of the same few kinds in one transaction.

At a slot the runtime submits, together, a run and its automation's next fire for
each automation due, then every run's `running`, then their ends. A store may send
each kind of row in one statement (PostgreSQL does); each write must still keep its
own checks and its own outcome, and writes of one run or automation their order.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from automations.model import Conflict, IllegalTransition, Run, RunState, advance
from automations.persistence import (
    CreateAutomations,
    CreateRun,
    PendingWrite,
    SaveAutomation,
    SaveRun,
    StorePort,
)

from ..helpers import NOW, SCOPE, automation
from .builders import scheduled, started

pytestmark = pytest.mark.anyio

SLOT = NOW + timedelta(minutes=5)
COUNT = 40


async def test_a_slot_s_batch_commits_each_write_and_refuses_each_bad_one_alone(
    store: StorePort,
) -> None:
    due = [automation(f"due {i}") for i in range(COUNT)]
    await store.write(CreateAutomations(SCOPE, due))
    runs = [scheduled(a.id, SLOT) for a in due]
    passed = [msgspec.structs.replace(a, next_fire_at=SLOT + timedelta(days=1)) for a in due]
    head = await store.reader.last_seq()
    refused: list[tuple[type[Exception], PendingWrite[object]]] = []
    with store.together():
        fired: list[PendingWrite[object]] = []
        for i, (new, moved) in enumerate(zip(runs, passed, strict=True)):
            if i == 3:  # its run is not recorded: its slot stays due
                fire = SaveAutomation(SCOPE, moved, 1, derived=True, slot_with_run=SLOT)
                refused.append((Conflict, store.submit(fire)))
                continue
            fired.append(store.submit(CreateRun(SCOPE, (new,), (NOW,))))
            fired.append(
                store.submit(SaveAutomation(SCOPE, moved, 1, derived=True, slot_with_run=SLOT))
            )
        going = [started(new) for new in runs]
        for i, run in enumerate(going):
            if i not in (3, 5):
                fired.append(store.submit(SaveRun(SCOPE, run, 1, NOW)))
        # The same start again (its revision is stale now) and an end that skips
        # `running`: each refused alone, amid rows of their kind.
        refused.append((Conflict, store.submit(SaveRun(SCOPE, going[0], 1, NOW))))
        skipped = msgspec.structs.replace(runs[5], state=RunState.SUCCEEDED, revision=2)
        refused.append((IllegalTransition, store.submit(SaveRun(SCOPE, skipped, 1, NOW))))
        ended = [advance(run, RunState.SUCCEEDED, at=NOW, result="ok") for run in going]
        for i, run in enumerate(ended):
            if i not in (3, 5):
                fired.append(store.submit(SaveRun(SCOPE, run, 2, NOW)))
    for error, pending in refused:
        with pytest.raises(error):
            await pending.outcome()
    for pending in fired:
        await pending.outcome()
    for i, a in enumerate(due):
        stored = await store.reader.automation(SCOPE, a.id)
        assert stored == (a if i == 3 else passed[i])
        expected: Run | None = {3: None, 5: runs[5]}.get(i, ended[i])
        assert await store.reader.run_by_id(SCOPE, runs[i].id) == expected
    entries = await store.reader.journal(SCOPE, head, 1_000)
    assert len(entries) == 2 * (COUNT - 1) + 2 * (COUNT - 2)
    revisions: dict[str, list[int]] = {}
    for entry in entries:
        revisions.setdefault(entry.entity_id, []).append(entry.revision)
    assert all(r == sorted(r) for r in revisions.values())
    assert revisions[runs[0].id] == [1, 2, 3] and revisions[runs[5].id] == [1]


async def test_a_slot_s_runs_created_started_and_ended_in_one_transaction(
    store: StorePort,
) -> None:
    due = [automation(f"due {i}") for i in range(COUNT)]
    await store.write(CreateAutomations(SCOPE, due))
    runs = [scheduled(a.id, SLOT) for a in due]
    passed = [msgspec.structs.replace(a, next_fire_at=SLOT + timedelta(days=1)) for a in due]
    going = [started(new) for new in runs]
    ended = [advance(run, RunState.SUCCEEDED, at=NOW, result="ok") for run in going]
    head = await store.reader.last_seq()
    batches = store.writer_stats.batches
    with store.together():
        pending = [
            store.submit(write)
            for new, moved in zip(runs, passed, strict=True)
            for write in (
                CreateRun(SCOPE, (new,), (NOW,)),
                SaveAutomation(SCOPE, moved, 1, derived=True, slot_with_run=SLOT),
            )
        ]
        pending += [store.submit(SaveRun(SCOPE, run, 1, NOW)) for run in going]
        pending += [store.submit(SaveRun(SCOPE, run, 2, NOW)) for run in ended]
    for write in pending:
        await write.outcome()
    assert store.writer_stats.batches == batches + 1
    for a, moved, run in zip(due, passed, ended, strict=True):
        assert await store.reader.automation(SCOPE, a.id) == moved
        assert await store.reader.run_by_id(SCOPE, run.id) == run
    entries = await store.reader.journal(SCOPE, head, 1_000)
    by_entity = [(e.entity_id, e.revision) for e in entries]
    assert len(by_entity) == 4 * COUNT
    for new, a in zip(runs, due, strict=True):
        assert [x for x in by_entity if x[0] == new.id] == [(new.id, 1), (new.id, 2), (new.id, 3)]
        assert [x for x in by_entity if x[0] == a.id] == [(a.id, 1)]
