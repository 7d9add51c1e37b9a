"""Processes talking through the database: a client answering a worker's run, and a
resumable run going on after its worker was SIGKILLed."""

from __future__ import annotations

import os
import signal
import sys

import anyio
import pytest

import automations as am
from automations.model import from_json

from .resumer import resumer
from .test_failover import ROOT, _read_line

pytestmark = pytest.mark.anyio

SCOPE = {"project": "crash", "directory": "/crash"}


def _new(executor: str) -> am.NewAutomation:
    return am.NewAutomation(
        title=executor,
        prompt="crash test",
        timezone="UTC",
        schedule=am.Cron("0 0 1 1 *"),
        executor=executor,
    )


async def _asking(ctx: am.RunContext) -> str:
    reply = await ctx.ask(am.Question("Deploy now?", options=("yes", "no")))
    return f"deployed: {reply}"


async def test_a_client_process_runs_and_answers_a_run_that_executes_in_the_worker(
    location: str,
) -> None:
    db = location
    async with am.open_runtime(db, executors={"asking": _asking}, **SCOPE) as worker:  # type: ignore[arg-type]
        a = await worker.create(_new("asking"))
        command = [sys.executable, "-m", "tests.crash.client", db, a.id, "yes"]
        result = await anyio.run_process(command, cwd=ROOT, check=False)
        assert result.returncode == 0, result.stderr.decode()
        printed = from_json(result.stdout, am.Run)
        assert (printed.state, printed.result) == (am.RunState.SUCCEEDED, "deployed: yes")
        assert printed.trigger is am.Trigger.MANUAL
        assert await worker.get_run(printed.id) == printed


async def test_a_resumable_run_goes_on_after_its_worker_is_killed(location: str) -> None:
    db = location
    async with am.open_runtime(db, **SCOPE) as setup:  # type: ignore[arg-type]
        a = await setup.create(_new("resumer"))
    command = [sys.executable, "-m", "tests.crash.resumer", db, a.id]
    async with await anyio.open_process(command, cwd=ROOT) as worker:
        try:
            run_id = (await _read_line(worker)).strip()
            os.kill(worker.pid, signal.SIGKILL)
            await worker.wait()
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    async with am.open_runtime(db, role="client", **SCOPE) as client:  # type: ignore[arg-type]
        before = await client.get_run(run_id)
    assert before.blocker is not None
    assert before.steps == 3
    async with am.open_runtime(db, executors={"resumer": resumer}, **SCOPE) as rt:  # type: ignore[arg-type]
        reopened = await rt.wait(
            run_id, until=am.RunState.AWAITING_INPUT, newer_than=before.revision, timeout=15
        )
        assert reopened.blocker == before.blocker
        await rt.answer(run_id, before.blocker.id, "yes")
        done = await rt.wait(run_id, timeout=15)
    assert (done.state, done.result) == (am.RunState.SUCCEEDED, "yes, resumed from 3 steps")
    assert done.steps == 3


async def test_a_client_waiting_on_a_run_whose_worker_died_is_told(location: str) -> None:
    """No worker is left to end or resume the run: the wait says so, within seconds,
    instead of waiting for ever (issue 21, item 7)."""
    db = location
    async with am.open_runtime(db, **SCOPE) as setup:  # type: ignore[arg-type]
        a = await setup.create(_new("resumer"))
    command = [sys.executable, "-m", "tests.crash.resumer", db, a.id]
    async with (
        am.open_runtime(db, role="client", **SCOPE) as client,  # type: ignore[arg-type]
        await anyio.open_process(command, cwd=ROOT) as worker,
    ):
        try:
            run_id = (await _read_line(worker)).strip()
            os.kill(worker.pid, signal.SIGKILL)
            await worker.wait()
            with anyio.fail_after(20), pytest.raises(am.NotServed, match="ran it is gone"):
                await client.wait(run_id)  # until it ends: it never would
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        run = await client.get_run(run_id)
    assert run.state is am.RunState.AWAITING_INPUT  # left for the next worker to resume


async def test_steps_taken_before_a_crash_are_recorded(location: str) -> None:
    """A run whose worker was SIGKILLed mid-run is ended `expired` with the steps it had
    taken, not 0 (issue 21, item 7)."""
    db = location
    async with am.open_runtime(db, **SCOPE) as setup:  # type: ignore[arg-type]
        a = await setup.create(_new("stepper"))
    command = [sys.executable, "-m", "tests.crash.stepper", db, a.id]
    async with await anyio.open_process(command, cwd=ROOT) as worker:
        try:
            run_id = (await _read_line(worker)).strip()
            os.kill(worker.pid, signal.SIGKILL)
            await worker.wait()
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    async with am.open_runtime(db, **SCOPE) as rt:  # type: ignore[arg-type]
        ended = await rt.wait(run_id, timeout=15)  # reconciled by this new worker
    assert (ended.state, ended.stop_reason) == (am.RunState.STOPPED, am.StopReason.EXPIRED)
    assert ended.steps == 3
