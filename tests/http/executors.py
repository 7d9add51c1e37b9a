"""Executors the test servers load with `--executor name=tests.http.executors:name`."""

from __future__ import annotations

import anyio

from automations import Permission, Question, RunContext, RunOutcome


async def instant(ctx: RunContext) -> RunOutcome:
    """Succeeds at once: a burst of these is a burst of events."""
    return RunOutcome(result="done")


async def ask(ctx: RunContext) -> RunOutcome:
    """Asks one question with options, then reports the reply."""
    reply = await ctx.ask(Question("Ship it?", options=("yes", "no")))
    return RunOutcome(result=f"answer: {reply}")


async def permit(ctx: RunContext) -> RunOutcome:
    """Asks permission to use a tool, then reports the decision."""
    allowed = await ctx.ask(Permission(tool="deploy", detail="to staging"))
    return RunOutcome(result=f"allowed: {allowed}")


async def hang(ctx: RunContext) -> RunOutcome:
    """Runs until it is cancelled."""
    await anyio.sleep_forever()
    raise AssertionError("unreachable")
