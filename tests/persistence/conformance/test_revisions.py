"""Compare-and-swap on `revision`: a write computed from a stale read loses, alone.

Every change of an automation or a run names the revision it was computed from; the
store applies it only if that is still the stored one, so two processes (or two
actors) never overwrite each other's change unseen.
"""

from __future__ import annotations

import msgspec
import pytest

from automations.model import Conflict, IllegalTransition, NotFound, RunState, Tombstone, advance
from automations.persistence import CreateRun, SaveAutomation, SaveRun, StorePort

from ..helpers import NOW, SCOPE, automation, run
from .builders import cancelled, create_automation, create_run, renamed, started

pytestmark = pytest.mark.anyio


async def test_an_update_on_a_stale_revision_is_a_conflict_and_changes_nothing(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    b = renamed(a, "b")
    await store.update_automation(SCOPE, b, expected_revision=1)
    with pytest.raises(Conflict):
        await store.update_automation(SCOPE, renamed(a, "stale"), expected_revision=1)
    assert await store.reader.automation(SCOPE, a.id) == b
    assert len(await store.reader.journal(SCOPE, 0, 10)) == 2  # no entry for the loser


async def test_of_two_updates_from_one_revision_the_first_submitted_wins(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    first = store.submit(SaveAutomation(SCOPE, renamed(a, "first"), 1))
    second = store.submit(SaveAutomation(SCOPE, renamed(a, "second"), 1))
    assert isinstance(await first.outcome(), int)
    with pytest.raises(Conflict):
        await second.outcome()
    stored = await store.reader.automation(SCOPE, a.id)
    assert stored is not None and (stored.title, stored.revision) == ("first", 2)


async def test_a_delete_on_a_stale_revision_is_a_conflict(store: StorePort) -> None:
    a = await create_automation(store)
    b = renamed(a, "b")
    await store.update_automation(SCOPE, b, expected_revision=1)
    with pytest.raises(Conflict):
        await store.delete_automation(
            SCOPE, Tombstone(id=a.id, revision=2), expected_revision=1, at=NOW
        )
    assert await store.reader.automation(SCOPE, a.id) == b
    await store.delete_automation(
        SCOPE, Tombstone(id=a.id, revision=3), expected_revision=2, at=NOW
    )
    assert await store.reader.automation(SCOPE, a.id) is None


async def test_creating_an_automation_whose_id_exists_is_a_conflict(store: StorePort) -> None:
    a = await create_automation(store)
    with pytest.raises(Conflict):
        await store.create_automation(SCOPE, msgspec.structs.replace(a, title="again"))
    with pytest.raises(Conflict):  # all or nothing: the new one is not created either
        await store.create_automations(SCOPE, [automation("new"), a])
    assert await store.reader.automations(SCOPE) == [a]


async def test_a_derived_update_keeps_the_revision_but_still_compares_it(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    streak = msgspec.structs.replace(a, failure_streak=1)
    await store.write(SaveAutomation(SCOPE, streak, 1, derived=True))
    assert await store.reader.automation(SCOPE, a.id) == streak  # still revision 1
    b = renamed(streak, "b")
    await store.update_automation(SCOPE, b, expected_revision=1)
    with pytest.raises(Conflict):  # computed from revision 1, which is gone
        await store.write(SaveAutomation(SCOPE, streak, 1, derived=True))
    assert await store.reader.automation(SCOPE, a.id) == b


async def test_updating_an_automation_that_does_not_exist_is_not_found(
    store: StorePort,
) -> None:
    ghost = automation("ghost")
    with pytest.raises(NotFound):
        await store.update_automation(SCOPE, renamed(ghost, "b"), expected_revision=1)


async def test_a_run_transition_on_a_stale_revision_is_a_conflict(store: StorePort) -> None:
    a = await create_automation(store)
    r1 = run(a.id)
    await create_run(store, SCOPE, r1)
    r2 = started(r1)
    await store.write(SaveRun(SCOPE, r2, 1, NOW))
    r3 = cancelled(r2)
    await store.write(SaveRun(SCOPE, r3, 2, NOW))
    late = advance(r2, RunState.SUCCEEDED, at=NOW, result="late")
    with pytest.raises(Conflict):
        await store.write(SaveRun(SCOPE, late, 2, NOW))
    assert await store.reader.run_by_id(SCOPE, r1.id) == r3


async def test_of_two_transitions_from_one_revision_the_first_submitted_wins(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    r1 = run(a.id)
    await create_run(store, SCOPE, r1)
    first = store.submit(SaveRun(SCOPE, cancelled(r1), 1, NOW))
    second = store.submit(SaveRun(SCOPE, started(r1), 1, NOW))
    assert isinstance(await first.outcome(), int)
    with pytest.raises(Conflict):
        await second.outcome()
    assert await store.reader.run_by_id(SCOPE, r1.id) == cancelled(r1)


async def test_an_illegal_transition_is_refused_even_on_the_current_revision(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    r1 = run(a.id)
    await create_run(store, SCOPE, r1)
    ended = cancelled(r1)
    await store.write(SaveRun(SCOPE, ended, 1, NOW))
    forged = msgspec.structs.replace(started(r1), revision=3)  # stopped -> running
    with pytest.raises(IllegalTransition):
        await store.write(SaveRun(SCOPE, forged, 2, NOW))
    assert await store.reader.run_by_id(SCOPE, r1.id) == ended


async def test_a_transition_of_a_run_that_does_not_exist_is_not_found(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    with pytest.raises(NotFound):
        await store.write(SaveRun(SCOPE, started(run(a.id)), 1, NOW))


async def test_a_large_batch_of_automations_is_created_whole_with_consecutive_entries(
    store: StorePort,
) -> None:
    # More rows than one statement may carry parameters for (PostgreSQL: 65,535).
    many = [automation(f"a{i}") for i in range(8_500)]
    seqs = await store.create_automations(SCOPE, many)
    assert seqs == list(range(seqs[0], seqs[0] + len(many)))
    found = await store.reader.automations_by_ids(SCOPE, [a.id for a in many])
    assert sorted(a.id for a in found) == sorted(a.id for a in many)


async def test_a_run_made_after_another_is_made_only_if_that_one_is_at_the_revision(
    store: StorePort,
) -> None:
    a = await create_automation(store)
    first = run(a.id)
    await create_run(store, SCOPE, first)
    retry = run(a.id)
    with pytest.raises(Conflict):  # its end was not recorded: no next attempt either
        await store.write(CreateRun(SCOPE, (retry,), (NOW,), after=(first.id, 2)))
    assert await store.reader.run_by_id(SCOPE, retry.id) is None
    await store.write(CreateRun(SCOPE, (retry,), (NOW,), after=(first.id, 1)))
    assert await store.reader.run_by_id(SCOPE, retry.id) == retry
