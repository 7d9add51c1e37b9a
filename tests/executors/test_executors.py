"""The built-in executors: demo, command (off unless allowed) and Python callables."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

import automations as am
from automations.cli._options import BadInput
from automations.cli._serve import executors_for
from automations.executors import (
    ExecutorSpecError,
    command_executor,
    demo_executor,
    load_executor,
)
from automations.testing import ManualClock

from ..integration.conftest import OpenRuntime, every, new

pytestmark = pytest.mark.anyio


async def test_the_demo_agent_goes_on_without_answers_when_unattended_rejects(
    runtime_factory: OpenRuntime, clock: ManualClock
) -> None:
    """As the README says of `--unattended reject`; the demo agent failed instead."""
    demo = demo_executor(steps=1, step_seconds=0)
    async with runtime_factory({"demo": demo}) as rt:
        a = await rt.create(
            new(
                executor="demo",
                prompt="Use git to tag the release?",
                schedule=every(30),
                unattended_blockers=am.UnattendedBlockers.REJECT,
            )
        )
        ended: am.Run | None = None
        async with rt.events(0) as events:
            await clock.wait_sleepers(1)
            clock.set(a.created_at + timedelta(seconds=30))
            with anyio.fail_after(10):
                async for event in events:
                    if isinstance(event, am.RunUpdated) and event.run.state.is_terminal:
                        ended = event.run
                        break
    run = ended
    assert run is not None and run.state is am.RunState.SUCCEEDED, run
    assert run.result == (
        "did 1 steps for 'Use git to tag the release?' (git denied; answer: none (nobody to ask))"
    )


async def test_the_demo_agent_asks_permission_for_tools_and_questions_and_reports_cost(
    runtime_factory: OpenRuntime,
) -> None:
    demo = demo_executor(steps=2, step_seconds=0)
    async with runtime_factory({"demo": demo}) as rt:
        a = await rt.create(new(executor="demo", prompt="Use git to tag the release?"))
        run = await rt.run_now(a.id)
        asked = await rt.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert asked.blocker is not None
        assert asked.blocker.request == am.Permission(
            tool="git", detail="for: Use git to tag the release?"
        )
        await rt.answer(run.id, asked.blocker.id, True)
        question = await rt.wait(
            run.id, until=am.RunState.AWAITING_INPUT, newer_than=asked.revision, timeout=10
        )
        assert question.blocker is not None
        assert question.blocker.request == am.Question(
            "Use git to tag the release?", options=("yes", "no")
        )
        await rt.answer(run.id, question.blocker.id, "no")
        done = await rt.wait(run.id, timeout=10)
    assert done.state is am.RunState.SUCCEEDED
    assert done.result == "did 2 steps for 'Use git to tag the release?' (git allowed; answer: no)"
    assert done.steps == 2
    assert done.cost == pytest.approx(0.0042)


async def test_the_command_executor_keeps_the_tail_and_fails_on_a_bad_status(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory({"command": command_executor(timeout=20)}) as rt:
        ok = await rt.create(new(executor="command", prompt="echo hello; echo world >&2"))
        done = await rt.wait((await rt.run_now(ok.id)).id, timeout=20)
        assert (done.state, done.result) == (am.RunState.SUCCEEDED, "hello\nworld")
        bad = await rt.create(new(executor="command", prompt="echo oops; exit 3"))
        failed = await rt.wait((await rt.run_now(bad.id)).id, timeout=20)
        assert failed.error is not None
        assert failed.error.code is am.ErrorCode.EXECUTION_FAILED
        assert failed.error.message == "CommandFailed: the command exited with status 3: oops"


async def test_a_command_past_its_timeout_or_cancelled_is_killed(
    runtime_factory: OpenRuntime,
) -> None:
    async with runtime_factory({"command": command_executor(timeout=0.2)}) as rt:
        slow = await rt.create(new(executor="command", prompt="echo started; sleep 30"))
        failed = await rt.wait((await rt.run_now(slow.id)).id, timeout=20)
        assert failed.error is not None
        assert "ran past its timeout of 0.2 s: started" in failed.error.message
    async with runtime_factory({"command": command_executor(timeout=60)}) as rt:
        run = await rt.run_now(slow.id)
        await rt.wait(run.id, until=am.RunState.RUNNING, timeout=10)
        stopped = await rt.cancel(run.id)
        assert stopped.stop_reason is am.StopReason.CANCELLED


def _serve_args(
    *specs: str, allow_command: bool = False, timeout: str = "5s"
) -> argparse.Namespace:
    return argparse.Namespace(
        executor=list(specs), allow_command=allow_command, command_timeout=timeout
    )


def test_serve_registers_the_command_executor_only_when_allowed() -> None:
    assert sorted(executors_for(_serve_args())) == ["demo"]
    assert sorted(executors_for(_serve_args(allow_command=True))) == ["command", "demo"]


def test_the_command_timeout_is_a_positive_duration() -> None:
    """-1 was taken, and then every command failed 'past its timeout of -1 s'."""
    assert "command" in executors_for(_serve_args(allow_command=True, timeout="90"))
    for bad in ("-1", "0", "0s", "soon"):
        with pytest.raises(BadInput, match="--command-timeout"):
            executors_for(_serve_args(allow_command=True, timeout=bad))


def test_python_executors_are_loaded_from_what_was_typed() -> None:
    name, executor = load_executor("loud=tests.executors.sample:shout")
    assert name == "loud"
    assert executor.__name__ == "shout"
    assert sorted(executors_for(_serve_args("loud=tests.executors.sample:shout"))) == [
        "demo",
        "loud",
    ]
    problems = {
        "loud": "should look like name=package.module:function",
        "loud=tests.executors.nowhere:shout": "cannot import tests.executors.nowhere",
        "loud=tests.executors.sample:missing": "tests.executors.sample has no missing",
        "loud=tests.executors.sample:not_async": "must be an async function",
    }
    for spec, message in problems.items():
        with pytest.raises(ExecutorSpecError, match=message):
            load_executor(spec)


def test_a_module_of_the_current_directory_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --executor agent=myagent_here:run` beside `myagent_here.py` (issue 21)."""
    (tmp_path / "myagent_here.py").write_text(
        "async def run(ctx):\n    return 'from the current directory'\n"
    )
    monkeypatch.chdir(tmp_path)
    for entry in ("", str(tmp_path)):  # as the `automations` script starts: cwd not on it
        while entry in sys.path:
            monkeypatch.setattr(sys, "path", [p for p in sys.path if p != entry])
    monkeypatch.delitem(sys.modules, "myagent_here", raising=False)
    before = list(sys.path)
    name, executor = load_executor("agent=myagent_here:run")
    assert name == "agent" and executor.__module__ == "myagent_here"
    assert sys.path == before  # the directory was on it for that import only
    monkeypatch.delitem(sys.modules, "myagent_here")
