"""Writes commit in the order they were submitted, and a failing one fails alone.

Actors submit a chain of dependent writes (a run, its start, its end) without waiting
for each to be durable, and batch many callers' writes into one commit; both are
sound only if the store keeps submission order and isolates a failure to its write.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest

from automations.model import (
    Conflict,
    DuplicateSlot,
    LeaseLost,
    NotFound,
    RunState,
    advance,
)
from automations.persistence import (
    AcquireLease,
    PendingWrite,
    SaveAutomation,
    SaveRun,
    StorePort,
    lease_name,
)

from ..helpers import NOW, OTHER, SCOPE, automation, run
from .builders import create_automation, create_run, renamed, scheduled, started

pytestmark = pytest.mark.anyio

SLOT = NOW + timedelta(minutes=5)


async def test_dependent_writes_submitted_before_the_first_is_durable_all_commit(
    store: StorePort,
) -> None:
    a = automation()
    first = run(a.id)
    running = started(first)
    done = advance(running, RunState.SUCCEEDED, at=NOW, result="ok")
    key = a.writer_key
    chain = [
        store.submit(SaveAutomation(SCOPE, a, None)),
        store.submit(SaveRun(SCOPE, first, None, NOW, writer_key=key)),
        store.submit(SaveRun(SCOPE, running, 1, NOW, writer_key=key)),
        store.submit(SaveRun(SCOPE, done, 2, NOW, writer_key=key)),
        store.submit(SaveAutomation(SCOPE, renamed(a, "renamed"), 1)),
    ]
    seqs = [await pending.outcome() for pending in chain]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    entries = await store.reader.journal(SCOPE, 0, 10)
    assert [(e.seq, e.entity_id, e.revision) for e in entries] == [
        (seqs[0], a.id, 1),
        (seqs[1], first.id, 1),
        (seqs[2], first.id, 2),
        (seqs[3], first.id, 3),
        (seqs[4], a.id, 2),
    ]
    assert await store.reader.run_by_id(SCOPE, first.id) == done


async def test_journal_order_is_submission_order(store: StorePort) -> None:
    written = [(SCOPE if i % 3 else OTHER, automation(f"a{i}")) for i in range(40)]
    pending = [store.submit(SaveAutomation(s, a, None)) for s, a in written]
    seqs = [await p.outcome() for p in pending]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for scope in (SCOPE, OTHER):
        journal = await store.reader.journal(scope, 0, 100)
        expected = [(q, a.id) for q, (s, a) in zip(seqs, written, strict=True) if s == scope]
        assert [(e.seq, e.entity_id) for e in journal] == expected


@pytest.mark.parametrize("together", [True, False], ids=["one-transaction", "submitted-at-once"])
async def test_a_failing_operation_fails_alone_and_the_others_commit(
    store: StorePort, together: bool
) -> None:
    a = await create_automation(store)
    await store.update_automation(SCOPE, renamed(a, "b"), expected_revision=1)
    await create_run(store, SCOPE, scheduled(a.id, SLOT))
    old_epoch = await store.write(AcquireLease(lease_name(SCOPE), "me", NOW))
    await store.write(AcquireLease(lease_name(SCOPE), "successor", NOW))
    head = await store.reader.last_seq()
    good = [automation(f"good {i}") for i in range(5)]
    block: AbstractContextManager[None] = store.together() if together else contextlib.nullcontext()
    failing: list[tuple[type[Exception], PendingWrite[int]]] = []
    with block:
        oks = [store.submit(SaveAutomation(SCOPE, good[0], None))]
        stale = SaveAutomation(SCOPE, renamed(a, "stale"), 1)
        failing.append((Conflict, store.submit(stale)))
        oks.append(store.submit(SaveAutomation(SCOPE, good[1], None)))
        duplicate = SaveRun(SCOPE, scheduled(a.id, SLOT), None, NOW)
        failing.append((DuplicateSlot, store.submit(duplicate)))
        oks.append(store.submit(SaveAutomation(SCOPE, good[2], None)))
        fenced = SaveAutomation(SCOPE, automation("fenced"), None, epoch=old_epoch)
        failing.append((LeaseLost, store.submit(fenced)))
        oks.append(store.submit(SaveAutomation(SCOPE, good[3], None)))
        unknown = SaveRun(SCOPE, started(run(a.id)), 1, NOW)
        failing.append((NotFound, store.submit(unknown)))
        oks.append(store.submit(SaveAutomation(SCOPE, good[4], None)))
    for error, pending in failing:
        with pytest.raises(error):
            await pending.outcome()
    seqs = [await p.outcome() for p in oks]
    assert seqs == sorted(seqs)
    after = await store.reader.journal(SCOPE, head, 100)
    assert [(e.seq, e.entity_id) for e in after] == [
        (seq, g.id) for seq, g in zip(seqs, good, strict=True)
    ]
    titles = {x.title for x in await store.reader.automations(SCOPE)}
    assert titles == {"b"} | {g.title for g in good}


async def test_writes_submitted_together_commit_in_one_transaction(store: StorePort) -> None:
    before = (store.writer_stats.batches, store.writer_stats.operations)
    with store.together():
        pending = [store.submit(SaveAutomation(SCOPE, automation(), None)) for _ in range(10)]
    seqs = [await p.outcome() for p in pending]
    assert seqs == sorted(seqs)
    after = (store.writer_stats.batches, store.writer_stats.operations)
    assert after == (before[0] + 1, before[1] + 10)


async def test_a_read_sees_every_write_acknowledged_before_it_began(store: StorePort) -> None:
    a = automation()
    await store.write(SaveAutomation(SCOPE, a, None))
    assert await store.reader.automation(SCOPE, a.id) == a
    b = renamed(a, "b")
    seq = await store.update_automation(SCOPE, b, expected_revision=1)
    assert await store.reader.automation(SCOPE, a.id) == b
    assert await store.reader.last_seq(SCOPE) == seq
