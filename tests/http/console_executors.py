"""Executors the console's browser test loads with `serve --executor name=module:fn`."""

from __future__ import annotations

from automations import Permission, Question, RunContext, RunOutcome


async def ask(ctx: RunContext) -> RunOutcome:
    """Asks one question with options, then reports the reply."""
    reply = await ctx.ask(Question("Ship it?", options=("yes", "no")))
    return RunOutcome(result=f"answer: {reply}")


async def write(ctx: RunContext) -> RunOutcome:
    """Asks for a free-text reply, then for permission to use a tool."""
    note = await ctx.ask(Question("What should the release note say?"))
    allowed = await ctx.ask(Permission(tool="git push", detail="to origin/main"))
    return RunOutcome(result=f"{note} ({'pushed' if allowed else 'not pushed'})")


async def instant(ctx: RunContext) -> RunOutcome:
    """Succeeds at once."""
    return RunOutcome(result="done")
