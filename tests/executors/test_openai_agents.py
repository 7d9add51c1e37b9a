"""The OpenAI Agents SDK executor, with a scripted model (offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from agents import Agent

import automations as am
from automations.executors import openai_agents

from ..integration.conftest import OpenRuntime, new
from .scripted_openai import RUN_CONFIG, HangingModel, approval_agent, looping_agent
from .scripted_pydantic import effects

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the SDK runs on asyncio only; trio is tested below


@pytest.mark.parametrize(
    ("allowed", "said", "ran"),
    [
        (True, "deleted x", ["note hello", "delete x"]),
        (False, "Not today.", ["note hello"]),
    ],
)
async def test_an_approval_is_a_permission_and_the_answer_reaches_the_agent(
    runtime_factory: OpenRuntime, tmp_path: Path, allowed: bool, said: str, ran: list[str]
) -> None:
    log = tmp_path / "effects"
    agent = openai_agents.executor(
        approval_agent(log),
        run_config=RUN_CONFIG,
        denial="Not today.",
        price=lambda usage: usage.total_tokens / 1000,
    )
    async with runtime_factory({"agent": agent}) as rt:
        a = await rt.create(new(executor="agent", prompt="Tidy up"))
        run = await rt.run_now(a.id)
        asked = await rt.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert asked.blocker is not None
        assert asked.blocker.request == am.Permission(tool="delete", detail='{"path":"x"}')
        assert effects(log) == ["note hello"]
        await rt.answer(run.id, asked.blocker.id, allowed)
        done = await rt.wait(run.id, timeout=10)
    assert (done.state, done.result) == (am.RunState.SUCCEEDED, f"the delete said: {said}")
    assert effects(log) == ran
    assert done.steps == 3  # three model calls
    assert done.cost == pytest.approx(0.03)  # three calls of ten tokens


async def test_the_step_cap_ends_a_looping_agent(
    runtime_factory: OpenRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "effects"
    agent = openai_agents.executor(looping_agent(log), run_config=RUN_CONFIG)
    async with runtime_factory({"agent": agent}) as rt:
        a = await rt.create(new(executor="agent", step_cap=4))
        done = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert done.state is am.RunState.FAILED
    assert done.error is not None
    assert done.error.code is am.ErrorCode.STEP_CAP
    assert done.steps == 4
    assert effects(log) == ["again"] * 4  # the fifth call was never made


async def test_a_cancel_reaches_the_agent(runtime_factory: OpenRuntime) -> None:
    model = HangingModel()
    agent = openai_agents.executor(Agent(name="hang", model=model), run_config=RUN_CONFIG)
    async with runtime_factory({"agent": agent}) as rt:
        a = await rt.create(new(executor="agent"))
        run = await rt.run_now(a.id)
        await model.started.wait()
        stopped = await rt.cancel(run.id)
    assert stopped.stop_reason is am.StopReason.CANCELLED
    assert model.cancelled


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_on_trio_the_run_fails_at_once_saying_asyncio_is_needed(
    runtime_factory: OpenRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "effects"
    agent = openai_agents.executor(approval_agent(log), run_config=RUN_CONFIG)
    async with runtime_factory({"agent": agent}) as rt:
        a = await rt.create(new(executor="agent"))
        done = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert done.error is not None
    assert done.error.message.startswith("NeedsAsyncio: the OpenAI Agents SDK runs only on")
    assert effects(log) == []


def test_without_the_extra_the_executor_says_what_to_install() -> None:
    script = (
        "import sys; sys.modules['agents'] = None\n"
        "import automations, automations.executors\n"
        "try:\n"
        "    import automations.executors.openai_agents\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    printed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == (
        "FrameworkMissing automations.executors.openai_agents needs the OpenAI Agents SDK: "
        "install it with pip install 'automations[openai-agents]'"
    )
