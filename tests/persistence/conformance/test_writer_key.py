"""One active run per writer key (a worktree, or a project): two runs never write to
the same place at once, across processes, because the store refuses the second."""

from __future__ import annotations

import pytest

from automations.model import RunState, StopReason, WriterKeyBusy, advance
from automations.persistence import CreateRun, SaveRun, StorePort

from ..helpers import NOW, SCOPE, run
from .builders import asking, cancelled, create_automation, create_run, started

pytestmark = pytest.mark.anyio

KEY = "worktree:/w1"


async def test_a_second_active_run_on_a_busy_key_is_refused(store: StorePort) -> None:
    a = await create_automation(store, title="a")
    b = await create_automation(store, title="b")
    await create_run(store, SCOPE, run(a.id), writer_key=KEY, owner="p1")
    refused = run(b.id)
    with pytest.raises(WriterKeyBusy):
        await create_run(store, SCOPE, refused, writer_key=KEY, owner="p2")
    assert await store.reader.run_by_id(SCOPE, refused.id) is None


async def test_a_run_keeps_its_key_through_its_active_states(store: StorePort) -> None:
    a = await create_automation(store)
    holder = run(a.id)
    await create_run(store, SCOPE, holder, writer_key=KEY)
    running = started(holder)
    await store.write(SaveRun(SCOPE, running, 1, NOW, writer_key=KEY))
    await store.write(SaveRun(SCOPE, asking(running), 2, NOW, writer_key=KEY))
    with pytest.raises(WriterKeyBusy):  # waiting on a person still holds the worktree
        await create_run(store, SCOPE, run(a.id), writer_key=KEY)


async def test_once_the_holder_ends_a_new_run_may_take_the_key(store: StorePort) -> None:
    a = await create_automation(store)
    holder = run(a.id)
    await create_run(store, SCOPE, holder, writer_key=KEY)
    await store.write(SaveRun(SCOPE, cancelled(holder), 1, NOW, writer_key=KEY))
    await create_run(store, SCOPE, run(a.id), writer_key=KEY)


async def test_an_end_and_the_next_holder_submitted_back_to_back_both_commit(
    store: StorePort,
) -> None:
    # A write submitted after another one's end is recorded after that end.
    a = await create_automation(store)
    holder = run(a.id)
    await create_run(store, SCOPE, holder, writer_key=KEY)
    end = store.submit(SaveRun(SCOPE, cancelled(holder), 1, NOW, writer_key=KEY))
    successor = run(a.id)
    take = store.submit(SaveRun(SCOPE, successor, None, NOW, writer_key=KEY))
    assert await end.outcome() < await take.outcome()
    assert await store.reader.run_by_id(SCOPE, successor.id) == successor


async def test_a_run_created_already_ended_holds_no_key(store: StorePort) -> None:
    a = await create_automation(store)
    first = run(a.id)
    skipped = advance(
        first, RunState.STOPPED, at=NOW, stop_reason=StopReason.PREVIOUS_RUN_AWAITING_INPUT
    )
    await store.write(CreateRun(SCOPE, (first, skipped), (NOW, NOW), writer_key=KEY))
    await create_run(store, SCOPE, run(a.id), writer_key=KEY)


async def test_distinct_keys_and_no_key_never_conflict(store: StorePort) -> None:
    a = await create_automation(store)
    await create_run(store, SCOPE, run(a.id), writer_key=KEY)
    await create_run(store, SCOPE, run(a.id), writer_key="worktree:/w2")
    await create_run(store, SCOPE, run(a.id))
    await create_run(store, SCOPE, run(a.id))
    assert len((await store.reader.runs(SCOPE, a.id, limit=10, cursor=None)).items) == 4
