"""A graceful restart keeps what a crash keeps (issue 21, item 3): SIGTERM on `serve`
leaves a resumable run waiting on a question for the next `serve`, which resumes it and
is answered; a non-resumable waiting run and an executing one are recorded
`stopped/worker_stopped`, and `serve` says what it left."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import automations as am
from automations.model import from_json

from .test_cli import _read_until, _rest, _start, cli

AGENTS = """
import anyio
import automations as am


@am.resumable
async def resumer(ctx):
    reply = await ctx.ask(am.Question("Go on?", options=("yes", "no")))
    return f"{reply}, resumed: {ctx.resumed}"


async def asker(ctx):
    return await ctx.ask(am.Question("Deploy?", options=("yes", "no")))


async def busy(ctx):
    await ctx.step()
    await anyio.sleep_forever()
"""

EXECUTORS = (
    "--executor",
    "resumer=restart_agents:resumer",
    "--executor",
    "asker=restart_agents:asker",
    "--executor",
    "busy=restart_agents:busy",
)


@pytest.mark.anyio
async def test_sigterm_on_serve_leaves_resumable_questions_for_the_next_serve(
    tmp_path: Path, anyio_backend: str
) -> None:
    db = tmp_path / "automations.db"
    (tmp_path / "restart_agents.py").write_text(AGENTS)  # a module of the cwd
    ids = {}
    for name in ("resumer", "asker", "busy"):
        added = cli(db, "add", name, "--every", "1h", "--executor", name, "--json")
        ids[name] = from_json(added.stdout, am.Automation).id

    first = await _start(db, anyio_backend, "serve", *EXECUTORS)
    scope = {"project": "cli-tests", "directory": str(tmp_path)}
    try:
        await _read_until(first, "Ctrl-C to stop")
        async with am.open_runtime(db, role="client", **scope) as client:  # type: ignore[arg-type]
            runs = {name: await client.run_now(ids[name]) for name in ids}
            waiting = {}
            for name in ("resumer", "asker"):
                run = await client.wait(runs[name].id, until=am.RunState.AWAITING_INPUT, timeout=30)
                assert run.state is am.RunState.AWAITING_INPUT
                waiting[name] = run
            busy = await client.wait(runs["busy"].id, until=am.RunState.RUNNING, timeout=30)
            assert busy.state is am.RunState.RUNNING
    finally:
        first.send_signal(signal.SIGTERM)
        log = await _rest(first)
    assert first.returncode == 0, log
    assert "stopped cleanly: left 1 run waiting for answers; 2 runs stopped: worker_stopped" in log

    async with am.open_runtime(db, role="client", **scope) as client:  # type: ignore[arg-type]
        assert await client.get_run(waiting["resumer"].id) == waiting["resumer"]  # untouched
        for name in ("asker", "busy"):
            ended = await client.get_run(runs[name].id)
            assert (ended.state, ended.stop_reason) == (
                am.RunState.STOPPED,
                am.StopReason.WORKER_STOPPED,
            )

    second = await _start(db, anyio_backend, "serve", *EXECUTORS)
    try:
        await _read_until(second, "Ctrl-C to stop")
        async with am.open_runtime(db, role="client", **scope) as client:  # type: ignore[arg-type]
            before = waiting["resumer"]
            assert before.blocker is not None
            reopened = await client.wait(
                before.id, until=am.RunState.AWAITING_INPUT, newer_than=before.revision, timeout=30
            )
            assert reopened.blocker == before.blocker  # the same question, resumed
            await client.answer(before.id, before.blocker.id, "yes")
            done = await client.wait(before.id, timeout=30)
        assert (done.state, done.result) == (am.RunState.SUCCEEDED, "yes, resumed: True")
    finally:
        second.send_signal(signal.SIGINT)
        log = await _rest(second)
    assert second.returncode == 0, log
    assert "stopped cleanly: no runs were going on" in log
