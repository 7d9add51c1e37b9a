"""Built-in executors: a scripted demo agent, shell commands, and Python callables.

None of them is named by the database: a runtime registers them by name in code
(`open_runtime(executors=...)`, or `automations serve`), and an automation only names
which registered one runs it.

The agent frameworks' executors are modules of their own, each needing its extra
(docs/agents.md): `automations.executors.pydantic_ai`, `automations.executors.langgraph`
and `automations.executors.openai_agents`. This package does not import them.
"""

from ._command import DEFAULT_COMMAND_TIMEOUT, CommandFailed, command_executor
from ._demo import DEMO_TOOLS, demo_executor
from ._frameworks import FrameworkMissing, NeedsAsyncio
from ._python import ExecutorSpecError, load_executor

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "DEMO_TOOLS",
    "CommandFailed",
    "ExecutorSpecError",
    "FrameworkMissing",
    "NeedsAsyncio",
    "command_executor",
    "demo_executor",
    "load_executor",
]
