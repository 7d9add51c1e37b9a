"""Run an OpenAI Agents SDK `Agent` as an automation's executor.

Install it with `pip install 'automations[openai-agents]'`, then:

    from automations.executors import openai_agents
    runtime = open_runtime(db, executors={"agent": openai_agents.executor(agent)})

A tool with `needs_approval` becomes a `Permission` blocker, approved or rejected on
the SDK's `RunState`; the run is resumable (the serialized `RunState` is saved with
`ctx.checkpoint` before a blocker opens). The SDK runs on asyncio only: on trio the
run fails at once with `NeedsAsyncio`.
"""

from .._frameworks import FrameworkMissing, NeedsAsyncio
from ._agent import executor

__all__ = ["FrameworkMissing", "NeedsAsyncio", "executor"]
