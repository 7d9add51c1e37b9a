"""The PydanticAI executor, with scripted `FunctionModel` agents (offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import automations as am
from automations.executors import pydantic_ai

from ..integration.conftest import OpenRuntime, new
from .scripted_pydantic import Hanging, approval_agent, conditional_agent, effects, looping_agent

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # PydanticAI runs on asyncio only; trio is tested below


async def _blocked(rt: am.Runtime, run_id: str, newer_than: int = 0) -> am.Run:
    run = await rt.wait(run_id, until=am.RunState.AWAITING_INPUT, newer_than=newer_than, timeout=10)
    assert run.blocker is not None
    return run


async def test_an_approval_pauses_the_run_and_allowing_runs_the_tool_once(
    runtime_factory: OpenRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "effects"
    agent = pydantic_ai.executor(approval_agent(log), price=lambda response: 0.25)
    async with runtime_factory({"agent": agent}) as rt:
        a = await rt.create(new(executor="agent", prompt="Tidy up"))
        run = await rt.run_now(a.id)
        asked = await _blocked(rt, run.id)
        assert asked.blocker is not None
        assert asked.blocker.request == am.Permission(tool="delete", detail='{"path":"x"}')
        assert effects(log) == ["note hello"]
        await rt.answer(run.id, asked.blocker.id, True)
        done = await rt.wait(run.id, timeout=10)
    assert (done.state, done.result) == (am.RunState.SUCCEEDED, "the delete said: deleted x")
    assert effects(log) == ["note hello", "delete x"]
    assert done.steps == 3  # three model requests
    assert done.cost == pytest.approx(0.75)


async def test_a_denial_is_returned_to_the_model_and_the_tool_never_runs(
    runtime_factory: OpenRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "effects"
    agent = pydantic_ai.executor(approval_agent(log), denial="Not today.")
    async with runtime_factory({"agent": agent}) as rt:
        a = await rt.create(new(executor="agent", prompt="Tidy up"))
        run = await rt.run_now(a.id)
        asked = await _blocked(rt, run.id)
        assert asked.blocker is not None
        await rt.answer(run.id, asked.blocker.id, False)
        done = await rt.wait(run.id, timeout=10)
    assert (done.state, done.result) == (am.RunState.SUCCEEDED, "the delete said: Not today.")
    assert effects(log) == ["note hello"]
    assert done.cost is None  # FunctionModel has no price


async def test_approval_required_calls_are_asked_one_at_a_time(
    runtime_factory: OpenRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "effects"
    agent = pydantic_ai.executor(conditional_agent(log), denial="no")
    async with runtime_factory({"agent": agent}) as rt:
        a = await rt.create(new(executor="agent"))
        run = await rt.run_now(a.id)
        first = await _blocked(rt, run.id)
        assert first.blocker is not None
        assert first.blocker.request == am.Permission("remove", '{"path":"/etc/b"}')
        assert effects(log) == ["remove /tmp/a"]
        await rt.answer(run.id, first.blocker.id, False)
        second = await _blocked(rt, run.id, newer_than=first.revision)
        assert second.blocker is not None
        assert second.blocker.request == am.Permission("remove", '{"path":"/srv/c"}')
        await rt.answer(run.id, second.blocker.id, True)
        done = await rt.wait(run.id, timeout=10)
    assert done.result == "removed /tmp/a | no | removed /srv/c"
    assert effects(log) == ["remove /tmp/a", "remove /srv/c"]
    assert done.steps == 2


async def test_the_step_cap_ends_a_looping_agent(
    runtime_factory: OpenRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "effects"
    async with runtime_factory({"agent": pydantic_ai.executor(looping_agent(log))}) as rt:
        a = await rt.create(new(executor="agent", step_cap=4))
        done = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert done.state is am.RunState.FAILED
    assert done.error is not None
    assert done.error.code is am.ErrorCode.STEP_CAP
    assert done.steps == 4
    assert effects(log) == ["again"] * 4  # the fifth request was never sent


async def test_a_cancel_reaches_the_agent(runtime_factory: OpenRuntime) -> None:
    hanging = Hanging()
    async with runtime_factory({"agent": pydantic_ai.executor(hanging.agent)}) as rt:
        a = await rt.create(new(executor="agent"))
        run = await rt.run_now(a.id)
        await hanging.started.wait()
        stopped = await rt.cancel(run.id)
    assert stopped.stop_reason is am.StopReason.CANCELLED
    assert hanging.cancelled


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_on_trio_the_run_fails_at_once_saying_asyncio_is_needed(
    runtime_factory: OpenRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "effects"
    async with runtime_factory({"agent": pydantic_ai.executor(approval_agent(log))}) as rt:
        a = await rt.create(new(executor="agent"))
        done = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert done.state is am.RunState.FAILED
    assert done.error is not None
    assert done.error.message.startswith("NeedsAsyncio: PydanticAI runs only on asyncio")
    assert effects(log) == []


def test_without_the_extra_automations_imports_and_the_executor_says_what_to_install() -> None:
    script = (
        "import sys; sys.modules['pydantic_ai'] = None\n"
        "import automations, automations.executors\n"
        "try:\n"
        "    import automations.executors.pydantic_ai\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    printed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == (
        "FrameworkMissing automations.executors.pydantic_ai needs PydanticAI: "
        "install it with pip install 'automations[pydantic-ai]'"
    )


def test_response_cost_is_none_for_a_model_genai_prices_does_not_know() -> None:
    from pydantic_ai.messages import ModelResponse, TextPart
    from pydantic_ai.usage import RequestUsage

    usage = RequestUsage(input_tokens=1000, output_tokens=500)
    known = ModelResponse([TextPart("x")], usage=usage, model_name="gpt-4o", provider_name="openai")
    unknown = ModelResponse([TextPart("x")], usage=usage, model_name="function:script")
    assert pydantic_ai.response_cost(unknown) is None
    assert pydantic_ai.response_cost(known) == pytest.approx(0.0075)
