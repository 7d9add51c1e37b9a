"""`max_duration` holds for every agent framework: the timeout cancels the agent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest
from agents import Agent

import automations as am
from automations.executors import langgraph, openai_agents, pydantic_ai
from automations.testing import ManualClock

from ..integration.conftest import OpenRuntime, new
from .scripted_langgraph import HangingGraph
from .scripted_openai import RUN_CONFIG, HangingModel
from .scripted_pydantic import Hanging

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the frameworks run on asyncio only


def _pydantic_ai() -> tuple[am.Executor, Any]:
    hanging = Hanging()
    return pydantic_ai.executor(hanging.agent), hanging


def _langgraph() -> tuple[am.Executor, Any]:
    hanging = HangingGraph()
    return langgraph.executor(hanging.graph), hanging


def _openai_agents() -> tuple[am.Executor, Any]:
    model = HangingModel()
    return openai_agents.executor(Agent(name="hang", model=model), run_config=RUN_CONFIG), model


HANGING: dict[str, Callable[[], tuple[am.Executor, Any]]] = {
    "pydantic_ai": _pydantic_ai,
    "langgraph": _langgraph,
    "openai_agents": _openai_agents,
}
"""Each framework's executor over an agent that hangs, and the object that tells when
it started (`started`) and whether the cancel reached it (`cancelled`)."""


@pytest.mark.parametrize("framework", sorted(HANGING))
async def test_max_duration_times_out_a_hanging_agent(
    runtime_factory: OpenRuntime, clock: ManualClock, framework: str
) -> None:
    executor, hanging = HANGING[framework]()
    async with runtime_factory({"agent": executor}) as rt:
        a = await rt.create(new(executor="agent", max_duration=timedelta(minutes=5)))
        run = await rt.run_now(a.id)
        started: anyio.Event = hanging.started
        await started.wait()
        await clock.wait_sleepers(2)  # the scheduler, and the run's timeout watchdog
        clock.advance(300)
        done = await rt.wait(run.id, timeout=10)
    assert done.state is am.RunState.FAILED
    assert done.error is not None
    assert done.error.code is am.ErrorCode.TIMEOUT
    assert hanging.cancelled
