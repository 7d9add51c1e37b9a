"""`automations run-info RUN` (issue 21, item 7): one run, its timeline of transitions
from the journal, and the traceback of an executor that raised."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

import automations as am
from automations.model import from_json

from .test_cli import cli


def _deploy(target: str) -> None:
    raise RuntimeError(f"cannot reach {target}\x1b]0;pwned\x07")


async def failing(ctx: am.RunContext) -> str:
    await ctx.step()
    reply = await ctx.ask(am.Question("Deploy now?", options=("yes", "no")))
    await ctx.step()
    _deploy(f"staging ({reply})")
    return "never"


class Transition(msgspec.Struct):
    at: int
    run: am.Run


class RunInfo(msgspec.Struct):
    run: am.Run
    timeline: list[Transition]


@pytest.mark.anyio
async def test_run_info_shows_the_timeline_and_the_traceback(tmp_path: Path) -> None:
    db = tmp_path / "automations.db"
    scope = {"project": "cli-tests", "directory": str(tmp_path)}
    async with am.open_runtime(db, executors={"default": failing}, **scope) as rt:  # type: ignore[arg-type]
        a = await rt.create(
            am.NewAutomation(
                title="Deploy", prompt="deploy", timezone="UTC", schedule=am.Cron("0 9 * * *")
            )
        )
        run = await rt.run_now(a.id)
        asked = await rt.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        assert asked.blocker is not None
        await rt.answer(run.id, asked.blocker.id, "yes")
        failed = await rt.wait(run.id, timeout=10)
    assert failed.state is am.RunState.FAILED

    shown = cli(db, "run-info", run.id).stdout
    lines = shown.splitlines()
    assert lines[0] == f"run {run.id} of {a.id} 'Deploy'"
    assert "  steps      2" in lines  # both, the one before the question too
    timeline = lines[lines.index("timeline:") + 1 : lines.index("traceback:")]
    states = [line.split()[4] for line in timeline]
    assert states == ["scheduled", "running", "awaiting_input", "running", "failed"]
    assert "asks: Deploy now? [yes / no]" in timeline[2]
    assert "execution_failed: RuntimeError: cannot reach staging (yes)" in timeline[4]
    trace = lines[lines.index("traceback:") + 1 :]
    assert trace[0] == "Traceback (most recent call last):"
    assert any("in _deploy" in line for line in trace)
    assert "\x1b" not in shown and "\\x1b]0;pwned\\x07" in trace[-1]  # shown, never obeyed

    info = from_json(cli(db, "run-info", run.id, "--json").stdout, RunInfo)
    assert info.run == failed
    assert [t.run.revision for t in info.timeline] == [1, 2, 3, 4, 5]
    assert info.timeline[-1].run == failed

    missing = cli(db, "run-info", "automation_run_nope", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: no run automation_run_nope in this project and directory"
    ]
