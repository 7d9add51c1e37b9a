"""The LangGraph executor, with graphs whose nodes call `interrupt()` (offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import automations as am
from automations.executors import langgraph

from ..integration.conftest import OpenRuntime, new
from .scripted_langgraph import HangingGraph, approval_graph, looping_graph, question_graph
from .scripted_pydantic import effects

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # LangGraph runs on asyncio only; trio is tested below


async def _blocked(rt: am.Runtime, run_id: str) -> am.Blocker:
    run = await rt.wait(run_id, until=am.RunState.AWAITING_INPUT, timeout=10)
    assert run.blocker is not None
    return run.blocker


@pytest.mark.parametrize(("allowed", "result"), [(True, "deleted x"), (False, "denied")])
async def test_a_permission_interrupt_is_answered_and_the_graph_goes_on(
    runtime_factory: OpenRuntime, tmp_path: Path, allowed: bool, result: str
) -> None:
    log = tmp_path / "effects"
    async with runtime_factory({"graph": langgraph.executor(approval_graph(log))}) as rt:
        a = await rt.create(new(executor="graph"))
        run = await rt.run_now(a.id)
        blocker = await _blocked(rt, run.id)
        assert blocker.request == am.Permission(tool="delete", detail='{"path":"x"}')
        assert effects(log) == ["note hello"]
        await rt.answer(run.id, blocker.id, allowed)
        done = await rt.wait(run.id, timeout=10)
    assert (done.state, done.result) == (am.RunState.SUCCEEDED, f"the delete said: {result}")
    assert effects(log) == ["note hello", "delete x"] if allowed else ["note hello"]
    assert done.steps == 2  # two super-steps; the one the interrupt ran again counts once


async def test_a_question_interrupt_with_options_is_a_question_with_options(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory({"graph": langgraph.executor(question_graph())}) as rt:
        a = await rt.create(new(executor="graph", prompt="Paint the shed"))
        run = await rt.run_now(a.id)
        blocker = await _blocked(rt, run.id)
        assert blocker.request == am.Question("Which one?", options=("red", "blue"))
        await rt.answer(run.id, blocker.id, "blue")
        done = await rt.wait(run.id, timeout=10)
    assert (done.state, done.result) == (am.RunState.SUCCEEDED, "Paint the shed: blue")


async def test_the_step_cap_ends_a_looping_graph(
    runtime_factory: OpenRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "effects"
    async with runtime_factory({"graph": langgraph.executor(looping_graph(log))}) as rt:
        a = await rt.create(new(executor="graph", step_cap=4))
        done = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert done.state is am.RunState.FAILED
    assert done.error is not None
    assert done.error.code is am.ErrorCode.STEP_CAP
    assert done.steps == 4
    assert effects(log) == ["again"] * 4  # counted before its tasks run: no fifth


async def test_a_cancel_reaches_the_graph(runtime_factory: OpenRuntime) -> None:
    hanging = HangingGraph()
    async with runtime_factory({"graph": langgraph.executor(hanging.graph)}) as rt:
        a = await rt.create(new(executor="graph"))
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
    async with runtime_factory({"graph": langgraph.executor(approval_graph(log))}) as rt:
        a = await rt.create(new(executor="graph"))
        done = await rt.wait((await rt.run_now(a.id)).id, timeout=10)
    assert done.error is not None
    assert done.error.message.startswith("NeedsAsyncio: LangGraph runs only on asyncio")
    assert effects(log) == []


@pytest.mark.parametrize(
    ("value", "blocker"),
    [
        ("Ship it?", am.Question("Ship it?")),
        ({"question": "Size?", "options": ["S", "M"]}, am.Question("Size?", options=("S", "M"))),
        ({"tool": "rm", "detail": "the cache"}, am.Permission(tool="rm", detail="the cache")),
        ({"tool": "rm", "args": {"path": "/tmp"}}, am.Permission("rm", '{"path":"/tmp"}')),
        ({"tool": "rm"}, am.Permission(tool="rm")),
        ({"step": 3}, am.Question('{"step":3}')),
    ],
)
def test_interrupt_values_map_to_blockers(
    value: object, blocker: am.Question | am.Permission
) -> None:
    assert langgraph.blocker_for(value) == blocker


def test_without_the_extra_the_executor_says_what_to_install() -> None:
    script = (
        "import sys; sys.modules['langgraph'] = None\n"
        "import automations, automations.executors\n"
        "try:\n"
        "    import automations.executors.langgraph\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    printed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == (
        "FrameworkMissing automations.executors.langgraph needs LangGraph: "
        "install it with pip install 'automations[langgraph]'"
    )
