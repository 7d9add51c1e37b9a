"""Run execution, message-driven: commands into a real runtime, events and runs out."""

from __future__ import annotations

from datetime import timedelta

import anyio
import msgspec
import pytest

import automations as am
from automations.actors import AutomationActor
from automations.persistence import open_store
from automations.persistence.sqlite import Pragma
from automations.testing import ManualClock

from ..stores import sqlite_of
from .conftest import Gate, OpenRuntime, definition_where, new

pytestmark = pytest.mark.anyio


async def test_run_now_succeeds_and_survives_reopening(runtime_factory: OpenRuntime) -> None:
    async def agent(ctx: am.RunContext) -> am.RunOutcome:
        await ctx.step()
        ctx.report_cost(0.002)
        return am.RunOutcome(result="done", cost=0.012, session_id="s1")

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new())
        scheduled = await rt.run_now(a.id)
        assert scheduled.state is am.RunState.SCHEDULED and scheduled.attended
        assert scheduled.trigger is am.Trigger.MANUAL
        run = await rt.wait(scheduled.id, timeout=10)
    assert run.state is am.RunState.SUCCEEDED
    assert (run.result, run.cost, run.session_id, run.steps) == ("done", 0.012, "s1", 1)
    assert run.revision == 3 and run.definition_revision == a.revision
    async with runtime_factory() as rt:
        assert await rt.get_run(run.id) == run
        assert (await rt.runs(a.id)).items == [run]


async def test_a_question_and_a_permission_answered_in_turn(runtime_factory: OpenRuntime) -> None:
    async def agent(ctx: am.RunContext) -> str:
        reply = await ctx.ask(am.Question("Deploy now?", options=("yes", "no")))
        allowed = await ctx.ask(am.Permission(tool="bash", detail="rm -rf build/"))
        return f"{reply}:{allowed}"

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)
        run = await rt.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert run.blocker is not None and isinstance(run.blocker.request, am.Question)
        with pytest.raises(am.ValidationError):
            await rt.answer(run.id, run.blocker.id, "maybe")  # not among the options
        await rt.answer(run.id, run.blocker.id, "yes")
        run = await rt.wait(
            run.id, until=am.RunState.AWAITING_INPUT, newer_than=run.revision, timeout=10
        )
        assert run.blocker is not None and isinstance(run.blocker.request, am.Permission)
        with pytest.raises(am.ValidationError):
            await rt.answer(run.id, run.blocker.id, "yes")  # a permission takes a bool
        await rt.answer(run.id, run.blocker.id, True)
        run = await rt.wait(run.id, timeout=10)
        assert (run.state, run.result) == (am.RunState.SUCCEEDED, "yes:True")
        states = [r.state for r in await _history(rt, run.id)]
    assert states == [
        am.RunState.SCHEDULED,
        am.RunState.RUNNING,
        am.RunState.AWAITING_INPUT,
        am.RunState.RUNNING,
        am.RunState.AWAITING_INPUT,
        am.RunState.RUNNING,
        am.RunState.SUCCEEDED,
    ]


async def test_an_answer_given_twice_is_delivered_once(runtime_factory: OpenRuntime) -> None:
    asked = 0

    async def agent(ctx: am.RunContext) -> str:
        nonlocal asked
        asked += 1
        return await ctx.ask(am.Question("Name?"))

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new())
        run = await rt.wait(
            (await rt.run_now(a.id)).id, until=am.RunState.AWAITING_INPUT, timeout=10
        )
        assert run.blocker is not None
        await rt.answer(run.id, run.blocker.id, "Ada")
        await rt.answer(run.id, run.blocker.id, "Ada")  # the same answer again: no-op
        done = await rt.wait(run.id, timeout=10)
        assert (done.result, asked) == ("Ada", 1)
        await rt.answer(run.id, run.blocker.id, "Ada")  # a retry after the run went on
        with pytest.raises(am.Conflict, match="already answered"):
            await rt.answer(run.id, run.blocker.id, "Grace")


async def test_the_step_cap_fails_the_run_in_pawworks_words(runtime_factory: OpenRuntime) -> None:
    async def looping(ctx: am.RunContext) -> str:
        while True:
            await ctx.step()

    async with runtime_factory({"default": looping}) as rt:
        a = await rt.create(new(step_cap=3))
        run = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert run.state is am.RunState.FAILED and run.error is not None
    assert run.error.code is am.ErrorCode.STEP_CAP
    assert run.error.message == "Automation run exceeded the hard step cap (3)."
    assert run.steps == 3


async def test_cancel_while_running(runtime_factory: OpenRuntime) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)
        await gate.started.wait()
        stopped = await rt.cancel(run.id)
        gate.release.set()
        assert (stopped.state, stopped.stop_reason) == (
            am.RunState.STOPPED,
            am.StopReason.CANCELLED,
        )
        assert gate.cancelled
        assert await rt.cancel(run.id) == stopped  # cancelling an ended run changes nothing
        final = await rt.get_run(run.id)
    assert final == stopped and final.result is None


async def test_cancel_while_awaiting_input(runtime_factory: OpenRuntime) -> None:
    async def agent(ctx: am.RunContext) -> str:
        return await ctx.ask(am.Question("Go?"))

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new())
        run = await rt.wait(
            (await rt.run_now(a.id)).id, until=am.RunState.AWAITING_INPUT, timeout=10
        )
        stopped = await rt.cancel(run.id)
        assert stopped.state is am.RunState.STOPPED
        assert stopped.stop_reason is am.StopReason.CANCELLED and stopped.blocker is None
        assert run.blocker is not None
        late = f"is stopped/cancelled, not waiting on blocker {run.blocker.id}; the answer"
        with pytest.raises(am.NotFound, match=late):
            await rt.answer(run.id, run.blocker.id, "late")


async def test_delete_during_a_run_keeps_the_history(runtime_factory: OpenRuntime) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)
        await gate.started.wait()
        tomb = await rt.delete(a.id)
        assert (tomb.id, tomb.deleted, tomb.revision) == (a.id, True, a.revision + 1)
        stopped = await rt.get_run(run.id)
        assert stopped.stop_reason is am.StopReason.CANCELLED
        with pytest.raises(am.NotFound):
            await rt.get(a.id)
        with pytest.raises(am.NotFound):
            await rt.run_now(a.id)
        assert [r.id for r in (await rt.runs(a.id)).items] == [run.id]


async def test_overlap_skip_on_one_writer_key_calls_the_executor_once(
    runtime_factory: OpenRuntime,
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        where = am.Where("project-a", worktree="/w/1")
        first = await rt.create(new(where=where))
        second = await rt.create(new(title="Other", where=where))
        running = await rt.run_now(first.id)
        await gate.started.wait()
        same = await rt.run_now(first.id)  # same automation
        other = await rt.run_now(second.id)  # same worktree, another automation
        for skipped in (same, other):
            assert skipped.state is am.RunState.STOPPED
            assert skipped.stop_reason is am.StopReason.PREVIOUS_RUN_AWAITING_INPUT
        gate.release.set()
        assert (await rt.wait(running.id, timeout=10)).state is am.RunState.SUCCEEDED
        assert gate.calls == [running.id]
        again = await rt.wait((await rt.run_now(second.id)).id, timeout=10)
        assert again.state is am.RunState.SUCCEEDED  # the key is free again


async def test_overlap_buffer_one_runs_one_more_afterwards(runtime_factory: OpenRuntime) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new(overlap=am.Overlap.BUFFER_ONE))
        first = await rt.run_now(a.id)
        await gate.started.wait()
        buffered = await rt.run_now(a.id)
        skipped = await rt.run_now(a.id)
        assert buffered.state is am.RunState.SCHEDULED
        assert skipped.stop_reason is am.StopReason.PREVIOUS_RUN_AWAITING_INPUT
        gate.release.set()
        assert (await rt.wait(first.id, timeout=10)).state is am.RunState.SUCCEEDED
        assert (await rt.wait(buffered.id, timeout=10)).state is am.RunState.SUCCEEDED
        assert gate.calls == [first.id, buffered.id]


async def test_overlap_cancel_other_supersedes(runtime_factory: OpenRuntime) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new(overlap=am.Overlap.CANCEL_OTHER))
        old = await rt.run_now(a.id)
        await gate.started.wait()
        newer = await rt.run_now(a.id)
        assert (await rt.wait(old.id, timeout=10)).stop_reason is am.StopReason.SUPERSEDED
        gate.release.set()
        assert (await rt.wait(newer.id, timeout=10)).state is am.RunState.SUCCEEDED


async def test_overlap_allow_runs_side_by_side(runtime_factory: OpenRuntime) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new(overlap=am.Overlap.ALLOW))
        runs = [await rt.run_now(a.id) for _ in range(3)]
        await gate.wait_calls(3)
        gate.release.set()
        for run in runs:
            assert (await rt.wait(run.id, timeout=10)).state is am.RunState.SUCCEEDED


async def test_a_stale_revision_is_a_conflict(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        b = await rt.update(a.id, title="Brief 2", expected_revision=a.revision)
        assert b.revision == a.revision + 1
        with pytest.raises(am.Conflict):
            await rt.update(a.id, title="Brief 3", expected_revision=a.revision)
        assert (await rt.get(a.id)).title == "Brief 2"


async def test_a_no_op_update_changes_and_publishes_nothing(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        before = await _last_seq(rt)
        same = await rt.update(a.id, title=a.title, expected_revision=a.revision)
        assert same == a and await _last_seq(rt) == before
        with pytest.raises(am.ValidationError) as caught:
            await rt.update(a.id, colour="blue")
        assert caught.value.details == [("colour", "unsupported_automation_field")]


async def test_update_takes_python_names_of_every_field(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        b = await rt.update(
            a.id,
            step_cap=7,
            catchup_window=timedelta(seconds=90),
            unattended_blockers=am.UnattendedBlockers.REJECT,
            max_duration=None,
        )
        assert (b.step_cap, b.catchup_window) == (7, timedelta(seconds=90))
        assert b.unattended_blockers is am.UnattendedBlockers.REJECT
        with pytest.raises(am.ValidationError) as caught:
            await rt.update(a.id, step_cap=0)
        assert caught.value.details[0][0] == "stepCap"


async def test_pause_and_resume(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        paused = await rt.pause(a.id)
        assert paused.paused and paused.next_fire_at is None
        resumed = await rt.resume(a.id)
        assert not resumed.paused and resumed.next_fire_at == a.next_fire_at
        assert resumed.revision == a.revision + 2


async def test_runs_are_paginated_across_pages(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        ids = []
        for _ in range(7):
            ids.append((await rt.wait((await rt.run_now(a.id)).id, timeout=10)).id)
            clock.advance(1)
        seen, cursor = [], None
        while True:
            page = await rt.runs(a.id, limit=3, cursor=cursor)
            seen += [r.id for r in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == ids[::-1]
        with pytest.raises(am.ValidationError):
            await rt.runs(a.id, limit=0)


async def test_executor_errors_are_execution_failed(runtime_factory: OpenRuntime) -> None:
    async def broken(ctx: am.RunContext) -> str:
        raise RuntimeError("model unavailable")

    async def wrong(ctx: am.RunContext) -> int:
        return 42

    async with runtime_factory({"default": broken, "wrong": wrong}) as rt:
        cases = {
            "default": "RuntimeError: model unavailable",
            "wrong": "the executor returned int; return a RunOutcome, a str or None",
            "missing": "no executor named 'missing'",
        }
        for executor, message in cases.items():
            a = await rt.create(new(executor=executor))
            run = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
            assert run.state is am.RunState.FAILED and run.error is not None
            assert run.error.code is am.ErrorCode.EXECUTION_FAILED
            assert run.error.message.startswith(message)
        await definition_where(rt, a.id, lambda latest: latest.failure_streak == 1)


async def test_failure_streak_and_continue_session(runtime_factory: OpenRuntime) -> None:
    outcomes = iter(["fail", "fail", "ok"])
    sessions: list[str | None] = []

    async def agent(ctx: am.RunContext) -> am.RunOutcome:
        sessions.append(ctx.run.session_id)
        if next(outcomes) == "fail":
            raise ValueError("no")
        return am.RunOutcome(result="ok", session_id="sess-9")

    async with runtime_factory({"default": agent}) as rt:
        a = await rt.create(new(context=am.ContextMode.CONTINUE))
        for expected in (1, 2, 0):
            await rt.wait((await rt.run_now(a.id)).id, timeout=10)

            def has_streak(x: am.Automation, n: int = expected) -> bool:
                return x.failure_streak == n

            await definition_where(rt, a.id, has_streak)
        latest = await definition_where(rt, a.id, lambda x: x.session_id == "sess-9")
        assert latest.failure_streak == 0 and latest.revision == a.revision
        await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert sessions[-1] == "sess-9"


async def test_max_duration_times_out_on_the_runtime_clock(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async def slow(ctx: am.RunContext) -> str:
        await anyio.sleep_forever()
        return "never"

    async with runtime_factory({"default": slow}) as rt:
        a = await rt.create(new(max_duration=timedelta(minutes=5)))
        run = await rt.wait((await rt.run_now(a.id)).id, until=am.RunState.RUNNING, timeout=10)
        await clock.wait_sleepers(2)  # the scheduler, and the run's timeout watchdog
        clock.advance(300)
        run = await rt.wait(run.id, timeout=10)
    assert run.state is am.RunState.FAILED and run.error is not None
    assert run.error.code is am.ErrorCode.TIMEOUT


async def _history(rt: am.Runtime, run_id: str) -> list[am.Run]:
    found: list[am.Run] = []
    last = await _last_seq(rt)
    async with rt.events(0) as events:
        async for event in events:
            if isinstance(event, am.RunUpdated) and event.run.id == run_id:
                found.append(event.run)
            if event.seq >= last:
                break
    return found


async def _last_seq(rt: am.Runtime) -> int:
    return await rt._store.reader.last_seq()


@pytest.mark.sqlite_only("a full disk is played with SQLite's max_page_count")
async def test_a_full_disk_fails_run_now_clearly_and_the_runtime_recovers(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        store = sqlite_of(rt._store)
        [(pages,)] = await store.write(Pragma("PRAGMA page_count"))
        await store.write(Pragma(f"PRAGMA max_page_count = {pages}"))
        errors: list[str] = []
        for _ in range(200):  # fill the last free pages, then every write fails
            try:
                await rt.run_now(a.id)
            except am.StorageError as exc:
                errors.append(str(exc))
                if len(errors) == 3:
                    break
        assert len(errors) == 3
        assert all("is full; free some space and retry" in e for e in errors)
        assert (await rt.get(a.id)).id == a.id  # reads go on
        await store.write(Pragma("PRAGMA max_page_count = 1073741823"))  # space is back
        # Runs whose end could not be written record it at their next retry, on the
        # runtime's clock; none is left active.
        clock.advance(5)  # the longest wait between retries
        for earlier in (await rt.runs(a.id, limit=500)).items:
            assert (await rt.wait(earlier.id, timeout=30)).state.is_terminal
        run = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
        assert run.state is am.RunState.SUCCEEDED


async def test_an_update_from_another_process_is_not_a_conflict_for_us(
    runtime_factory: OpenRuntime, location: str
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new())
        assert (await rt.update(a.id, title="warm the actor")).revision == 2
        async with open_store(location) as other:  # another process edits the same automation
            current = await rt.get(a.id)
            theirs = msgspec.structs.replace(current, title="theirs", revision=3)
            await other.update_automation(rt.scope, theirs, expected_revision=2)
        mine = await rt.update(a.id, prompt="mine")  # no revision pinned: applies on top
        assert (mine.revision, mine.title, mine.prompt) == (4, "theirs", "mine")
        with pytest.raises(am.Conflict):
            await rt.update(a.id, title="stale", expected_revision=2)


async def test_after_its_actor_crashed_deleting_an_automation_stops_every_run(
    runtime_factory: OpenRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    async with runtime_factory({"default": gate}) as rt:
        a = await rt.create(new())
        run = await rt.run_now(a.id)
        await gate.wait_calls(1)

        async def crash(self: AutomationActor, message: object) -> am.Automation:
            raise RuntimeError("a bug in the actor")

        with monkeypatch.context() as patched:
            patched.setattr(AutomationActor, "_update", crash)
            with pytest.raises(RuntimeError, match="a bug in the actor"):
                await rt.update(a.id, title="crashes the actor, which is restarted")
        await rt.delete(a.id)
        stopped = await rt.wait(run.id, timeout=10)
        assert (stopped.state, stopped.stop_reason) == (
            am.RunState.STOPPED,
            am.StopReason.CANCELLED,
        )
        assert gate.cancelled
