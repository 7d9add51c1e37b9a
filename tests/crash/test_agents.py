"""SIGKILL of a worker whose agent run waits on a person: a new worker resumes the run
from its checkpoint once the answer comes, and what ran before the pause never runs again."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import pytest

import automations as am

from ..executors.scripted_pydantic import effects
from .agent_worker import EXECUTORS
from .test_failover import ROOT, _read_line

pytestmark = pytest.mark.anyio

SCOPE = {"project": "crash", "directory": "/crash"}

STEPS = {"pydantic_ai": 3, "langgraph": 2, "openai_agents": 3}
"""Steps of the whole run: model requests, or super-steps; none counted twice."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the frameworks run on asyncio


async def _killed_while_waiting(framework: str, db: str, automation_id: str, log: Path) -> str:
    """Start the run in a worker process, SIGKILL it once the run waits: the run's id."""
    command = [sys.executable, "-m", "tests.crash.agent_worker", framework, db, automation_id]
    async with await anyio.open_process([*command, str(log)], cwd=ROOT) as worker:
        try:
            run_id = (await _read_line(worker)).strip()
            os.kill(worker.pid, signal.SIGKILL)
            await worker.wait()
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    return run_id


@pytest.mark.parametrize("framework", sorted(EXECUTORS))
async def test_an_agent_run_waiting_on_a_person_resumes_in_a_new_worker(
    tmp_path: Path, framework: str
) -> None:
    db, log = str(tmp_path / "automations.db"), tmp_path / "effects"
    async with am.open_runtime(db, **SCOPE) as setup:  # type: ignore[arg-type]
        a = await setup.create(
            am.NewAutomation(
                title=framework,
                prompt="Tidy up",
                timezone="UTC",
                schedule=am.Cron("0 0 1 1 *"),
                executor="agent",
            )
        )
    run_id = await _killed_while_waiting(framework, db, a.id, log)
    assert effects(log) == ["note hello"]
    async with am.open_runtime(db, role="client", **SCOPE) as client:  # type: ignore[arg-type]
        before = await client.get_run(run_id)
    assert before.blocker is not None
    executor = EXECUTORS[framework](log)
    async with am.open_runtime(db, executors={"agent": executor}, **SCOPE) as rt:  # type: ignore[arg-type]
        reopened = await rt.wait(
            run_id, until=am.RunState.AWAITING_INPUT, newer_than=before.revision, timeout=15
        )
        assert reopened.blocker == before.blocker
        await rt.answer(run_id, before.blocker.id, True)
        done = await rt.wait(run_id, timeout=15)
    assert (done.state, done.result) == (am.RunState.SUCCEEDED, "the delete said: deleted x")
    assert effects(log) == ["note hello", "delete x"]  # the note was written once
    assert done.steps == STEPS[framework]
