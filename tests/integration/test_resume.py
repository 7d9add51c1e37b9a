"""Resumable runs (DESIGN 6.7): a blocked run of a process that died goes on elsewhere.

The dead process is played by rows written straight to the store under an owner
whose liveness lock nobody holds, as a SIGKILLed worker leaves them; the crash test
in `tests/crash/` does the same with a real process.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import automations as am
from automations.model import Scope, advance
from automations.persistence import SaveCheckpoint, SaveRun, StoreAnswer, open_store

from ..persistence.helpers import run as make_run
from ..stores import rows
from .conftest import T0, OpenRuntime, new

pytestmark = pytest.mark.anyio

SCOPE = Scope("project-a", "/repo/a")
QUESTION = am.Question("Ship it?", options=("yes", "no"))


class Resumer:
    """A resumable executor: checkpoints, asks, and reports what it resumed from."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, Any]] = []

    async def __call__(self, ctx: am.RunContext) -> str:
        self.calls.append((ctx.resumed, ctx.checkpoint_data))
        await ctx.checkpoint({"stage": "asked"})
        reply = await ctx.ask(QUESTION)
        return f"{reply} after {ctx.checkpoint_data}"


async def _blocked_orphan(
    location: str, automation_id: str, *, answer: str | None = None
) -> am.Run:
    """A run left waiting on QUESTION, with a checkpoint, by a process that died."""
    run = make_run(automation_id, triggered_at=T0)
    started = advance(run, am.RunState.RUNNING, at=T0)
    blocker = am.Blocker(id="blk_orphan", request=QUESTION, asked_at=T0)
    waiting = advance(started, am.RunState.AWAITING_INPUT, at=T0, blocker=blocker)
    async with open_store(location) as store:
        for revision, state in enumerate((run, started, waiting)):
            await store.write(SaveRun(SCOPE, state, revision or None, T0, owner="gone-1"))
        data = msgspec.json.encode({"stage": "before the crash"})
        await store.write(SaveCheckpoint(run.id, data, T0))
        if answer is not None:  # answered while nobody ran it
            await store.write(StoreAnswer(SCOPE, run.id, blocker.id, answer, T0, sender="cli"))
    return waiting


async def test_a_blocked_run_of_a_resumable_executor_resumes_with_its_checkpoint(
    location: str, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(executor="resumer"))
    orphan = await _blocked_orphan(location, a.id)
    resumer = Resumer()
    async with runtime_factory({"resumer": am.resumable(resumer)}) as rt:
        run = await rt.wait(
            orphan.id, until=am.RunState.AWAITING_INPUT, newer_than=orphan.revision, timeout=10
        )
        assert run.blocker == orphan.blocker  # the same blocker, reopened
        assert resumer.calls == [(True, {"stage": "before the crash"})]
        await rt.answer(run.id, "blk_orphan", "yes")
        done = await rt.wait(run.id, timeout=10)
    assert done.state is am.RunState.SUCCEEDED
    assert done.result == "yes after {'stage': 'before the crash'}"
    history = [r.state for r in await _history(location, orphan.id)]
    assert history[-4:] == [
        am.RunState.RUNNING,  # adopted
        am.RunState.AWAITING_INPUT,  # asked again
        am.RunState.RUNNING,
        am.RunState.SUCCEEDED,
    ]


async def test_an_answer_stored_while_nobody_ran_the_run_is_delivered_on_resume(
    location: str, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(executor="resumer"))
    orphan = await _blocked_orphan(location, a.id, answer="no")
    async with runtime_factory({"resumer": am.resumable(Resumer())}) as rt:
        done = await rt.wait(orphan.id, timeout=10)
    assert done.state is am.RunState.SUCCEEDED
    assert done.result == "no after {'stage': 'before the crash'}"
    async with open_store(location) as store:  # the command to the dead process was dropped
        assert await rows(store, "SELECT * FROM commands") == []


async def test_an_executor_that_is_not_resumable_loses_its_blocker(
    location: str, runtime_factory: OpenRuntime
) -> None:
    async with runtime_factory() as rt:
        a = await rt.create(new(executor="resumer"))
    orphan = await _blocked_orphan(location, a.id)
    resumer = Resumer()
    async with runtime_factory({"resumer": resumer}) as rt:
        ended = await rt.wait(orphan.id, timeout=10)
    assert (ended.state, ended.stop_reason) == (am.RunState.STOPPED, am.StopReason.BLOCKER_LOST)
    assert resumer.calls == []


async def _history(location: str, run_id: str) -> list[am.Run]:
    async with am.open_runtime(location, project=SCOPE.project, directory=SCOPE.directory) as rt:
        runs: list[am.Run] = []
        async with rt.events(0) as events:
            async for event in events:
                if isinstance(event, am.RunUpdated) and event.run.id == run_id:
                    runs.append(event.run)
                    if event.run.state.is_terminal:
                        return runs
    raise AssertionError("the run never ended")
