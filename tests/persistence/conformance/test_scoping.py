"""Scoping: what one scope (project, owner directory) writes, another never sees.

Several runtimes share one database; each must see only its own automations, runs,
journal entries and commands, and must not change another's, whatever ids it is
handed. Two scopes differ by project, or by directory alone (`SIBLING`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from automations.model import NotFound, RunState, Scope, Tombstone, advance, to_ms
from automations.persistence import (
    CancelCommand,
    CompleteCommand,
    EnqueueCommand,
    ReconcileRuns,
    SaveRun,
    StoreAnswer,
    StorePort,
)

from ..helpers import NOW, OTHER, SCOPE, run
from .builders import SIBLING, asking, create_automation, create_run, renamed, started

pytestmark = pytest.mark.anyio

ELSEWHERE = [pytest.param(OTHER, id="other-project"), pytest.param(SIBLING, id="other-directory")]
FAR = to_ms(NOW + timedelta(days=400))


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
async def test_automations_are_invisible_from_another_scope(
    store: StorePort, elsewhere: Scope
) -> None:
    a = await create_automation(store)
    reader = store.reader
    assert await reader.automation(elsewhere, a.id) is None
    assert await reader.automations(elsewhere) == []
    assert await reader.automations_by_ids(elsewhere, [a.id]) == []
    assert await reader.due(elsewhere, FAR, 10) == []
    assert await reader.automations(SCOPE) == [a]
    assert [id for id, _ in await reader.due(SCOPE, FAR, 10)] == [a.id]


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
async def test_runs_are_invisible_from_another_scope(store: StorePort, elsewhere: Scope) -> None:
    a = await create_automation(store)
    done, active = run(a.id), run(a.id)
    await create_run(store, SCOPE, done)
    finished = advance(started(done), RunState.SUCCEEDED, at=NOW, result="ok")
    await store.write(SaveRun(SCOPE, started(done), 1, NOW))
    await store.write(SaveRun(SCOPE, finished, 2, NOW))
    await create_run(store, SCOPE, active, owner="p1")
    reader = store.reader
    assert await reader.run_by_id(elsewhere, done.id) is None
    assert (await reader.runs(elsewhere, a.id, limit=10, cursor=None)).items == []
    assert (await reader.runs(elsewhere, a.id, limit=10, cursor=done.id)).items == []
    assert await reader.executed_runs(elsewhere, a.id) == 0
    assert await reader.owners(elsewhere) == []
    assert await reader.run_owner(elsewhere, active.id) is None
    assert await reader.executed_runs(SCOPE, a.id) == 1
    assert await reader.owners(SCOPE) == ["p1"]
    assert await reader.owners_by_scope() == {SCOPE: ["p1"]}
    assert await reader.run_owner(SCOPE, active.id) == "p1"


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
async def test_the_journal_of_a_scope_is_invisible_from_another(
    store: StorePort, elsewhere: Scope
) -> None:
    a = await create_automation(store)
    r = run(a.id)
    seq = await create_run(store, SCOPE, r)
    assert await store.reader.journal(elsewhere, 0, 10) == []
    assert await store.reader.last_seq(elsewhere) == 0
    mine = await store.reader.journal(SCOPE, 0, 10)
    assert [e.entity_id for e in mine] == [a.id, r.id] and mine[-1].seq == seq
    assert await store.reader.last_seq(SCOPE) == seq


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
async def test_another_scope_cannot_change_what_it_cannot_see(
    store: StorePort, elsewhere: Scope
) -> None:
    a = await create_automation(store)
    r = run(a.id)
    await create_run(store, SCOPE, r)
    before = await store.reader.journal(SCOPE, 0, 10)
    with pytest.raises(NotFound):
        await store.update_automation(elsewhere, renamed(a, "taken"), expected_revision=1)
    with pytest.raises(NotFound):
        await store.delete_automation(
            elsewhere, Tombstone(id=a.id, revision=2), expected_revision=1, at=NOW
        )
    with pytest.raises(NotFound):  # a run of an automation it cannot see
        await create_run(store, elsewhere, run(a.id))
    with pytest.raises(NotFound):
        await store.write(SaveRun(elsewhere, started(r), 1, NOW))
    assert await store.reader.journal(SCOPE, 0, 10) == before
    assert await store.reader.journal(elsewhere, 0, 10) == []
    assert await store.reader.automation(SCOPE, a.id) == a
    assert await store.reader.run_by_id(SCOPE, r.id) == r


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
async def test_an_answer_reaches_only_its_scope(store: StorePort, elsewhere: Scope) -> None:
    a = await create_automation(store)
    r = run(a.id)
    await create_run(store, SCOPE, r)
    await store.write(SaveRun(SCOPE, started(r), 1, NOW))
    await store.write(SaveRun(SCOPE, asking(started(r)), 2, NOW))
    with pytest.raises(NotFound):
        await store.write(StoreAnswer(elsewhere, r.id, "blocker-1", "yes", NOW))
    assert await store.reader.answer(SCOPE, r.id, "blocker-1") is None
    assert await store.write(StoreAnswer(SCOPE, r.id, "blocker-1", "yes", NOW)) is True
    assert await store.reader.answer(elsewhere, r.id, "blocker-1") is None
    assert await store.reader.answer(SCOPE, r.id, "blocker-1") is not None


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
async def test_commands_reach_only_their_scope(store: StorePort, elsewhere: Scope) -> None:
    command = CancelCommand("automation_run_x")
    id = await store.write(EnqueueCommand(SCOPE, command, None, NOW))
    for owner in ("p1", "p2"):
        assert await store.reader.commands(elsewhere, 0, owner, leading=True, limit=10) == []
    [pending] = await store.reader.commands(SCOPE, 0, "p1", leading=True, limit=10)
    assert (pending.id, pending.target, pending.command) == (id, None, command)


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
async def test_the_scopes_of_new_commands_are_read_at_once(
    store: StorePort, elsewhere: Scope
) -> None:
    """A fleet worker wakes only the inboxes of the scopes with new pending commands."""
    ids = [
        await store.write(EnqueueCommand(scope, CancelCommand(f"automation_run_{n}"), None, NOW))
        for n, scope in enumerate((SCOPE, elsewhere, SCOPE))
    ]
    assert set(await store.reader.command_scopes(0, ids[-1])) == {SCOPE, elsewhere}
    assert await store.reader.command_scopes(ids[0], ids[0]) == []
    assert await store.reader.command_scopes(ids[1], ids[2]) == [SCOPE]
    await store.write(CompleteCommand(ids[2], None, NOW))  # done: nothing to wake for
    assert await store.reader.command_scopes(ids[1], ids[2]) == []


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
async def test_reconciling_another_scope_leaves_the_runs_alone(
    store: StorePort, elsewhere: Scope
) -> None:
    a = await create_automation(store)
    r = run(a.id)
    await create_run(store, SCOPE, r, owner="dead")
    result = await store.write(ReconcileRuns("dead", elsewhere, "me", NOW))
    assert result.changed == [] and result.adopted == []
    assert await store.reader.run_by_id(SCOPE, r.id) == r
    assert await store.reader.run_owner(SCOPE, r.id) == "dead"


async def test_scopes_lists_each_scope_with_automations_and_how_many(store: StorePort) -> None:
    assert await store.reader.scopes() == []
    await create_automation(store)
    await create_automation(store)
    await create_automation(store, OTHER)
    assert await store.reader.scopes() == [(SCOPE, 2), (OTHER, 1)]


async def test_ids_with_prefix_finds_this_scopes_ids_in_order(store: StorePort) -> None:
    a, b = await create_automation(store), await create_automation(store)
    await create_automation(store, OTHER)
    reader = store.reader
    assert await reader.ids_with_prefix(SCOPE, "automation", "automation_", 10) == [a.id, b.id]
    # Ids made in one millisecond may differ only in their last characters: the
    # shortest prefix of `a` that `b` does not share.
    shared = next(i for i, (x, y) in enumerate(zip(a.id, b.id, strict=True)) if x != y)
    only_a = a.id[: shared + 1]
    assert await reader.ids_with_prefix(SCOPE, "automation", only_a, 10) == [a.id]
    assert await reader.ids_with_prefix(SCOPE, "automation", "automation_", 1) == [a.id]
    assert await reader.ids_with_prefix(OTHER, "automation", a.id, 10) == []
    r = run(a.id)
    await create_run(store, SCOPE, r)
    assert await reader.ids_with_prefix(SCOPE, "run", r.id[:20], 10) == [r.id]
    assert await reader.ids_with_prefix(SCOPE, "automation", r.id[:20], 10) == []
