"""Scopes never leak; events are durable, ordered, unique; a clean close leaves nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

import automations as am
from automations._event_stream import event_of
from automations.api import open_runtime
from automations.model import Scope
from automations.persistence import open_store
from automations.persistence.sqlite import GroupCommitWriter

from .conftest import Gate, OpenRuntime, new

pytestmark = pytest.mark.anyio


async def test_project_a_cannot_touch_project_b(runtime_factory: OpenRuntime) -> None:
    async def agent(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("ok?"))

    async with (
        runtime_factory({"default": agent}, project="project-b", directory="/repo/b") as b,
        runtime_factory({"default": agent}) as a,
    ):
        theirs = await b.create(new(title="B's"))
        run = await b.wait((await b.run_now(theirs.id)).id, until=am.RunState.AWAITING_INPUT)
        assert run.blocker is not None
        assert await a.list() == []
        with pytest.raises(am.NotFound):
            await a.get(theirs.id)
        with pytest.raises(am.NotFound):
            await a.get_run(run.id)
        with pytest.raises(am.NotFound):
            await a.answer(run.id, run.blocker.id, "yes")
        with pytest.raises(am.NotFound):
            await a.cancel(run.id)
        with pytest.raises(am.NotFound):
            await a.delete(theirs.id)
        with pytest.raises(am.NotFound):
            await a.update(theirs.id, title="mine now")
        with pytest.raises(am.NotFound):
            await a.run_now(theirs.id)
        assert (await a.runs(theirs.id)).items == []
        assert (await a.runs(theirs.id, cursor=run.id)).items == []
        # B's run is untouched and B can still finish it.
        await b.answer(run.id, run.blocker.id, "yes")
        assert (await b.wait(run.id, timeout=10)).result == "yes"


async def test_same_project_other_directory_is_another_scope(runtime_factory: OpenRuntime) -> None:
    async with (
        runtime_factory(directory="/repo/other") as other,
        runtime_factory() as mine,
    ):
        created = await mine.create(new())
        assert await other.list() == []
        with pytest.raises(am.NotFound):
            await other.get(created.id)


async def test_events_are_durable_ordered_and_unique(
    runtime_factory: OpenRuntime, location: str
) -> None:
    seen: list[am.Event] = []
    async with runtime_factory() as rt, rt.events(0) as events:
        a = await rt.create(new())
        run = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
        await rt.update(a.id, title="Renamed")
        await rt.delete(a.id)
        async for event in events:
            seen.append(event)
            if isinstance(event, am.DefinitionDeleted):
                break
    seqs = [e.seq for e in seen]
    assert seqs == sorted(set(seqs))
    revisions = [e.run.revision for e in seen if isinstance(e, am.RunUpdated)]
    assert revisions == [1, 2, 3] and run.revision == 3
    # Everything that was published is in the journal, exactly so.
    async with open_store(location) as store:
        entries = await store.reader.journal(Scope("project-a", "/repo/a"), 0, 100)
        assert [event_of(e) for e in entries] == seen
    # A late subscriber replays the same history from the journal.
    async with runtime_factory() as rt:
        replayed: list[am.Event] = []
        async with rt.events(0) as events:
            async for event in events:
                replayed.append(event)
                if event.seq == seqs[-1]:
                    break
        assert replayed == seen
        tail: list[am.Event] = []
        async with rt.events(seqs[2]) as events:
            async for event in events:
                tail.append(event)
                if event.seq == seqs[-1]:
                    break
        assert tail == seen[3:]


async def test_a_clean_close_stops_every_run_with_a_reason(runtime_factory: OpenRuntime) -> None:
    """A graceful stop is not a cancel: runs going on end `worker_stopped`, and a run
    waiting on a question with a resumable executor is left for the next worker."""
    gate = Gate()

    async def asking(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("still there?"))

    @am.resumable
    async def resuming(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("still there?"))

    executors = {"default": gate, "asking": asking, "resuming": resuming}
    async with runtime_factory(executors) as rt:
        a = await rt.create(new())
        b = await rt.create(new(title="Asking", executor="asking"))
        c = await rt.create(new(title="Resuming", executor="resuming"))
        running = await rt.run_now(a.id)
        waiting = await rt.run_now(b.id)
        resumable = await rt.run_now(c.id)
        await gate.started.wait()
        await rt.wait(waiting.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        left = await rt.wait(resumable.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert rt.shutdown_report is None  # not closed yet
    report = rt.shutdown_report
    assert report == am.ShutdownReport(waiting=1, ended=(("stopped/worker_stopped", 2),))
    assert report is not None
    assert report.describe() == "left 1 run waiting for answers; 2 runs stopped: worker_stopped"
    async with runtime_factory(role="client") as rt:
        assert (await rt.get_run(running.id)).stop_reason is am.StopReason.WORKER_STOPPED
        assert (await rt.get_run(waiting.id)).stop_reason is am.StopReason.WORKER_STOPPED
        assert await rt.get_run(resumable.id) == left  # untouched, for the next worker
    assert gate.cancelled


async def test_no_task_is_left_behind(tmp_path: Path, anyio_backend: str) -> None:
    gate = Gate()
    before = _task_count()
    async with open_runtime(tmp_path / "a.db", executors={"default": gate}, cancel_grace=1) as rt:
        a = await rt.create(new(overlap=am.Overlap.ALLOW))
        for _ in range(5):
            await rt.run_now(a.id)
        await gate.started.wait()
        assert _task_count() > before
    assert _task_count() == before


async def test_idle_automations_deactivate(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        created = [await rt.create(new(title=f"a{i}")) for i in range(20)]
        for automation in created:
            await rt.wait((await rt.run_now(automation.id)).id, timeout=10)
        supervisor = rt._supervisor
        with anyio.fail_after(10):  # wait for quiescence, not for time
            while supervisor.active_automations or supervisor.runs:
                await anyio.wait_all_tasks_blocked()
        assert supervisor.active_automations == 0


def _task_count() -> int:
    return len(anyio.get_running_tasks())


async def test_events_of_another_process_reach_this_one_in_order(
    runtime_factory: OpenRuntime,
) -> None:
    async def agent(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("Ship it?"))

    # Two runtimes on one file know each other only through the database, as two
    # processes would: each has its own hub and its own writer.
    async with runtime_factory({"default": agent}) as worker, runtime_factory() as other:
        a = await worker.create(new())
        async with other.events(0) as events:
            run = await worker.run_now(a.id)
            blocked = await other.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=10)
            assert blocked.blocker is not None
            await worker.answer(run.id, blocked.blocker.id, "yes")
            done = await other.wait(run.id, timeout=10)
            assert (done.state, done.result) == (am.RunState.SUCCEEDED, "yes")
            seen: list[am.Event] = []
            with anyio.fail_after(10):
                async for event in events:
                    seen.append(event)
                    if isinstance(event, am.RunUpdated) and event.run.state.is_terminal:
                        break
        seqs = [e.seq for e in seen]
        assert seqs == sorted(set(seqs))
        states = [e.run.state for e in seen if isinstance(e, am.RunUpdated)]
        assert states == [
            am.RunState.SCHEDULED,
            am.RunState.RUNNING,
            am.RunState.AWAITING_INPUT,
            am.RunState.RUNNING,
            am.RunState.SUCCEEDED,
        ]


async def test_an_error_raised_inside_the_runtime_block_comes_out_as_itself(
    runtime_factory: OpenRuntime,
) -> None:
    class Mine(Exception):
        pass

    async def fail_inside() -> None:
        async with runtime_factory() as rt:
            await rt.create(new())
            raise Mine("the caller's own")

    with pytest.raises(Mine, match="the caller's own"):
        await fail_inside()


async def test_a_commit_handed_back_late_is_published_once(
    runtime_factory: OpenRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal follower sees this process's commits in the database before the
    writer hands them back to the event loop; it must not publish them as another
    process's. The writer is held between its commit and the hand-back for 0.2 s,
    ten of the follower's polls. The hub's raw feed (under `events()`, which also
    drops what it already saw) must carry each commit once."""
    wake = GroupCommitWriter._wake

    def late_wake(self: GroupCommitWriter, *args: Any) -> None:
        time.sleep(0.2)
        wake(self, *args)

    seen: list[am.Event] = []
    async with runtime_factory() as rt:
        feed = rt._services.hub.subscribe(rt.scope)
        try:
            monkeypatch.setattr(GroupCommitWriter, "_wake", late_wake)
            created = await rt.create(new())
            renamed = await rt.update(created.id, title="Renamed")
            monkeypatch.undo()
            await rt.delete(created.id)
            while not isinstance(event := await feed.receive(), am.DefinitionDeleted):
                seen.append(event)
            follower = rt._supervisor.follower
            await follower.wait_past(follower.generation)  # it looked again after the
            await follower.wait_past(follower.generation)  # delete: nothing came late
            with pytest.raises(anyio.WouldBlock):
                feed._receive.receive_nowait()
        finally:
            feed.close()
    assert seen == [
        am.DefinitionUpdated(seq=seen[0].seq, automation=created),
        am.DefinitionUpdated(seq=seen[0].seq + 1, automation=renamed),
    ]
