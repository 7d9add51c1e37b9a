"""Finding out why a run failed (issue 21, item 7): the error keeps the executor's
traceback, bounded, and the steps it took before it raised."""

from __future__ import annotations

import pytest

import automations as am
from automations.model import TRACEBACK_LIMIT

from .conftest import OpenRuntime, new

pytestmark = pytest.mark.anyio


def _connect_to_the_repository(url: str) -> None:
    raise RuntimeError(f"cannot reach {url}")


async def failing(ctx: am.RunContext) -> str:
    for _ in range(3):
        await ctx.step()
    _connect_to_the_repository("git@example.org:repo")
    return "never"


async def deep(ctx: am.RunContext, depth: int = 0) -> str:
    if depth < 400:
        return await deep(ctx, depth + 1)
    raise ValueError("x" * 20_000)


async def test_a_failed_run_keeps_the_executors_traceback_and_steps(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory({"default": failing}) as rt:
        a = await rt.create(new())
        run = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert run.state is am.RunState.FAILED and run.error is not None
    assert run.error.code is am.ErrorCode.EXECUTION_FAILED
    assert run.error.message == "RuntimeError: cannot reach git@example.org:repo"
    trace = run.error.traceback
    assert trace is not None and trace.startswith("Traceback (most recent call last):")
    assert "_connect_to_the_repository" in trace and "in failing" in trace
    assert trace.rstrip().endswith("RuntimeError: cannot reach git@example.org:repo")
    assert run.steps == 3


async def test_a_long_traceback_keeps_its_end(runtime_factory: OpenRuntime) -> None:
    async with runtime_factory({"default": deep}) as rt:
        a = await rt.create(new())
        run = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
        stored = await rt.get_run(run.id)
    assert run.error is not None and run.error.traceback is not None
    assert len(run.error.traceback) == TRACEBACK_LIMIT
    assert run.error.traceback.endswith("x" * 100 + "\n")  # the exception, at the end
    assert stored == run
