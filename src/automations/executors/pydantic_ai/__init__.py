"""Run a PydanticAI `Agent` as an automation's executor (`pip install 'automations[pydantic-ai]'`).

    from automations.executors import pydantic_ai
    runtime = open_runtime(db, executors={"agent": pydantic_ai.executor(agent)})

A tool that needs approval becomes a `Permission` blocker; the run is resumable
(see `executor`). PydanticAI runs on asyncio only: on trio the run fails at once with
`NeedsAsyncio`.
"""

from .._frameworks import FrameworkMissing, NeedsAsyncio
from ._agent import DEFAULT_DENIAL, UnsupportedDeferral, executor, response_cost

__all__ = [
    "DEFAULT_DENIAL",
    "FrameworkMissing",
    "NeedsAsyncio",
    "UnsupportedDeferral",
    "executor",
    "response_cost",
]
