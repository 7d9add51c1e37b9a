"""The demo executor: a scripted agent that needs no network and no keys.

It behaves like an agent a person would watch: it takes a few steps, asks a question
when its prompt ends with "?", asks permission when its prompt names a tool, and
reports what it cost. It is what `automations demo` and new users' automations run.
"""

from __future__ import annotations

import re

import anyio

from ..actors import Executor, RunContext
from ..model import BlockerRejected, Permission, Question, RunOutcome

__all__ = ["DEMO_TOOLS", "demo_executor"]

DEMO_TOOLS = ("bash", "git", "curl", "make", "docker", "kubectl", "npm", "deploy")
"""Words that make the demo agent ask permission before it "uses" them."""

_COST_PER_STEP = 0.0021


def demo_executor(*, steps: int = 3, step_seconds: float = 0.4) -> Executor:
    """The demo agent, taking `steps` steps of `step_seconds` each."""

    async def demo(ctx: RunContext) -> RunOutcome:
        prompt = ctx.automation.prompt.strip()
        notes: list[str] = []
        for _ in range(steps):
            await ctx.step()
            ctx.report_cost(_COST_PER_STEP)
            await anyio.sleep(step_seconds)
        tool = _tool_named(prompt)
        if tool is not None:
            try:
                allowed = await ctx.ask(Permission(tool=tool, detail=f"for: {prompt[:80]}"))
            except BlockerRejected:  # `--unattended reject`: an agent goes on without it
                allowed = False
            notes.append(f"{tool} {'allowed' if allowed else 'denied'}")
        if prompt.endswith("?"):
            try:
                reply = await ctx.ask(Question(prompt, options=("yes", "no")))
            except BlockerRejected:
                reply = "none (nobody to ask)"
            notes.append(f"answer: {reply}")
        summary = f"did {ctx.steps} steps for {prompt[:60]!r}"
        if notes:
            summary += " (" + "; ".join(notes) + ")"
        return RunOutcome(result=summary, session_id=f"demo-{ctx.run.id[-6:]}")

    return demo


def _tool_named(prompt: str) -> str | None:
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    return next((tool for tool in DEMO_TOOLS if tool in words), None)
