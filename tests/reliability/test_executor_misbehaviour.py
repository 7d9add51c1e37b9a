"""Executors that misbehave: each run ends in the right state, and the runtime stays
healthy for the runs after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest

import automations as am
from automations.runtime import SystemClock

from ..integration.conftest import OpenRuntime, new, noop

pytestmark = pytest.mark.anyio


async def raises(ctx: am.RunContext) -> None:
    raise RuntimeError("the model provider is down")


async def wrong_type(ctx: am.RunContext) -> Any:
    return {"not": "an outcome"}


async def loops(ctx: am.RunContext) -> None:
    while True:
        await ctx.step()


async def huge(ctx: am.RunContext) -> str:
    return "x" * 5_000_000


async def blocks_in_a_thread(ctx: am.RunContext) -> None:
    # Not cancellable: the thread runs to its end whatever happens to the run.
    await anyio.to_thread.run_sync(time.sleep, 1.0)


async def leaks_a_thread(ctx: am.RunContext) -> str:
    threading.Thread(target=time.sleep, args=(0.5,), daemon=True).start()  # never joined
    return "left something running"


async def sleeps_on_the_loop(ctx: am.RunContext) -> None:
    time.sleep(0.5)  # blocks the whole event loop, on purpose  # noqa: ASYNC251
    await anyio.sleep_forever()


async def _run(rt: am.Runtime, executor: str) -> am.Run:
    a = await rt.create(new(executor=executor, overlap=am.Overlap.ALLOW))
    return await rt.run_now(a.id)


async def _still_healthy(rt: am.Runtime) -> None:
    run = await _run(rt, "default")
    assert (await rt.wait(run.id, timeout=10)).state is am.RunState.SUCCEEDED


EXECUTORS: dict[str, Callable[[am.RunContext], Awaitable[Any]]] = {
    "default": noop,
    "raises": raises,
    "wrong_type": wrong_type,
    "loops": loops,
    "huge": huge,
    "thread": blocks_in_a_thread,
    "sync_sleep": sleeps_on_the_loop,
    "leaks": leaks_a_thread,
}


async def test_each_misbehaving_executor_ends_its_run_in_the_right_state(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory(EXECUTORS, cancel_grace=0.2, clock=SystemClock()) as rt:
        failed = await rt.wait((await _run(rt, "raises")).id, timeout=10)
        assert failed.error is not None and failed.error.traceback is not None
        assert failed.error == am.RunError(
            am.ErrorCode.EXECUTION_FAILED,
            "RuntimeError: the model provider is down",
            failed.error.traceback,
        )
        assert "in raises" in failed.error.traceback
        wrong = await rt.wait((await _run(rt, "wrong_type")).id, timeout=10)
        assert wrong.error is not None
        assert "returned dict; return a RunOutcome, a str or None" in wrong.error.message
        capped = await rt.wait((await _run(rt, "loops")).id, timeout=10)
        assert capped.error == am.RunError(
            am.ErrorCode.STEP_CAP, "Automation run exceeded the hard step cap (50)."
        )
        leaked = await rt.wait((await _run(rt, "leaks")).id, timeout=10)
        assert leaked.state is am.RunState.SUCCEEDED
        big = await rt.wait((await _run(rt, "huge")).id, timeout=20)
        assert big.state is am.RunState.SUCCEEDED and len(big.result or "") == 5_000_000
        await _still_healthy(rt)

        run = await _run(rt, "thread")
        await rt.wait(run.id, until=am.RunState.RUNNING, timeout=10)
        stopped = await rt.cancel(run.id)  # recorded after the grace, without it
        assert (stopped.state, stopped.stop_reason) == (
            am.RunState.STOPPED,
            am.StopReason.CANCELLED,
        )
        await _still_healthy(rt)

        # A loop blocked for 0.5 s delays everything, but the time limit still ends it.
        limited = await rt.create(
            new(executor="sync_sleep", max_duration=timedelta(milliseconds=100))
        )
        timed_out = await rt.wait((await rt.run_now(limited.id)).id, timeout=10)
        assert timed_out.error is not None
        assert timed_out.error.code is am.ErrorCode.TIMEOUT
        await _still_healthy(rt)
