"""The change feed: `listener(scope, event)` for each committed event, in journal order,
before any waiter of that commit is woken.

The hub publishes to subscribers and the scheduler learns of new definitions from the
feed alone, so it must be exactly the journal: every committed event with its `seq`,
nothing for a write that failed, and already heard when the writer's `write()` returns.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import anyio
import pytest

from automations.model import (
    Conflict,
    DefinitionDeleted,
    DefinitionUpdated,
    Event,
    RunState,
    RunUpdated,
    Scope,
    StopReason,
    Tombstone,
    advance,
)
from automations.persistence import (
    AcquireLease,
    CancelCommand,
    CreateAutomations,
    CreateRun,
    EnqueueCommand,
    PendingWrite,
    ReconcileRuns,
    SaveAutomation,
    StorePort,
    event_of,
    lease_name,
)

from ..helpers import NOW, OTHER, SCOPE, automation, run
from .builders import Feed, create_automation, create_run, renamed, scheduled, started

pytestmark = pytest.mark.anyio


async def test_the_feed_is_the_journal_in_order(store: StorePort) -> None:
    feed = Feed()
    store.add_commit_listener(feed)
    a, b, c = automation("a"), automation("b"), automation("c", project=OTHER.project)
    await store.create_automation(SCOPE, a)
    await store.write(CreateAutomations(SCOPE, (b,)))
    await store.create_automations(OTHER, [c])
    await store.update_automation(SCOPE, renamed(a, "a2"), expected_revision=1)
    first = scheduled(b.id, NOW + timedelta(minutes=1))
    await store.write(CreateRun(SCOPE, (first, started(first)), (NOW, NOW), owner="dead"))
    await store.write(AcquireLease(lease_name(SCOPE), "me", NOW))  # commits without an event
    await store.write(EnqueueCommand(SCOPE, CancelCommand(first.id), None, NOW))
    await store.write(ReconcileRuns("dead", SCOPE, "me", NOW))  # ends the run: an event
    await create_run(store, OTHER, run(c.id))
    await store.delete_automation(
        SCOPE, Tombstone(id=a.id, revision=3), expected_revision=2, at=NOW
    )
    journal = [
        *await store.reader.journal(SCOPE, 0, 100),
        *await store.reader.journal(OTHER, 0, 100),
    ]
    journal.sort(key=lambda entry: entry.seq)
    assert len(journal) == 9
    assert feed.heard == [(Scope(e.project, e.directory), event_of(e)) for e in journal]
    assert feed.threads == {threading.get_ident()}  # on the event loop


async def test_each_event_carries_what_was_written(store: StorePort) -> None:
    feed = Feed()
    store.add_commit_listener(feed)
    a = automation()
    created = await store.create_automation(SCOPE, a)
    r = run(a.id)
    started_at = await create_run(store, SCOPE, r)
    tombstone = Tombstone(id=a.id, revision=2)
    deleted = await store.delete_automation(SCOPE, tombstone, expected_revision=1, at=NOW)
    expected: list[Event] = [
        DefinitionUpdated(seq=created, automation=a),
        RunUpdated(seq=started_at, run=r),
        DefinitionDeleted(seq=deleted, tombstone=tombstone),
    ]
    assert feed.heard == [(SCOPE, event) for event in expected]


async def test_a_run_created_with_its_transitions_publishes_each(store: StorePort) -> None:
    feed = Feed()
    store.add_commit_listener(feed)
    a = await create_automation(store)
    first = scheduled(a.id, NOW)
    skipped = advance(
        first, RunState.STOPPED, at=NOW, stop_reason=StopReason.PREVIOUS_RUN_AWAITING_INPUT
    )
    seqs = await store.write(CreateRun(SCOPE, (first, skipped), (NOW, NOW)))
    assert feed.heard[1:] == [
        (SCOPE, RunUpdated(seq=seqs[0], run=first)),
        (SCOPE, RunUpdated(seq=seqs[1], run=skipped)),
    ]


async def test_a_failed_write_publishes_nothing(store: StorePort) -> None:
    a = await create_automation(store)
    feed = Feed()
    store.add_commit_listener(feed)
    with pytest.raises(Conflict):
        await store.update_automation(SCOPE, renamed(a, "stale"), expected_revision=2)
    assert feed.heard == []
    good = automation("good")
    with store.together():
        lost = store.submit(SaveAutomation(SCOPE, a, None))  # exists already
        won = store.submit(SaveAutomation(SCOPE, good, None))
    with pytest.raises(Conflict):
        await lost.outcome()
    assert feed.heard == [(SCOPE, DefinitionUpdated(seq=await won.outcome(), automation=good))]


async def test_the_listener_has_heard_a_write_when_it_returns(store: StorePort) -> None:
    feed = Feed()
    store.add_commit_listener(feed)
    for title in ("a", "b", "c"):
        seq = await store.create_automation(SCOPE, automation(title))
        assert feed.seqs[-1] == seq


async def test_listeners_heard_a_whole_commit_before_any_of_its_waiters_wakes(
    store: StorePort,
) -> None:
    feed = Feed()
    store.add_commit_listener(feed)
    heard_at_wake: list[list[int]] = []

    def on_done(_: PendingWrite[int]) -> None:
        heard_at_wake.append(list(feed.seqs))

    with store.together():  # one commit
        first = store.submit(SaveAutomation(SCOPE, automation("first"), None))
        first.add_done_callback(on_done)
        second = store.submit(SaveAutomation(SCOPE, automation("second"), None))
    both = [await first.outcome(), await second.outcome()]
    assert heard_at_wake == [both]


async def test_a_removed_listener_hears_nothing_more(store: StorePort) -> None:
    kept, removed = Feed(), Feed()
    store.add_commit_listener(kept)
    store.add_commit_listener(removed)
    await store.create_automation(SCOPE, automation("heard"))
    store.remove_commit_listener(removed)
    await store.create_automation(SCOPE, automation("unheard"))
    assert len(kept.heard) == 2 and len(removed.heard) == 1


async def test_wait_delivered_covers_the_commits_a_read_saw(store: StorePort) -> None:
    feed = Feed()
    store.add_commit_listener(feed)
    seq = await store.create_automation(SCOPE, automation())
    count, committed = await anyio.to_thread.run_sync(store.read_committed, lambda: len(feed.heard))
    assert committed >= 1 and count == 1
    with anyio.fail_after(5):
        await store.wait_delivered(committed)
    assert feed.seqs == [seq]
