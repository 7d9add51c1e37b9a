"""Run a compiled LangGraph graph as an automation's executor.

Install it with `pip install 'automations[langgraph]'`, then:

    from automations.executors import langgraph
    runtime = open_runtime(db, executors={"graph": langgraph.executor(graph)})

`interrupt(value)` in a node becomes a blocker (see `blocker_for` for the shapes) and
the graph goes on with `Command(resume=answer)` on the thread named by the run's id.
The run is resumable: the thread's checkpoint is saved with `ctx.checkpoint` before a
blocker opens. LangGraph runs on asyncio only: on trio the run fails at once with
`NeedsAsyncio`.
"""

from .._frameworks import FrameworkMissing, NeedsAsyncio
from ._blockers import blocker_for
from ._graph import default_input, default_output, executor

__all__ = [
    "FrameworkMissing",
    "NeedsAsyncio",
    "blocker_for",
    "default_input",
    "default_output",
    "executor",
]
