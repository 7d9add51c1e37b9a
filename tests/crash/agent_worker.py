"""A worker whose run waits on a framework's approval:
`python -m tests.crash.agent_worker FRAMEWORK DB AUTOMATION_ID EFFECTS_FILE`.

It starts a run of the automation with that framework's executor (see `EXECUTORS`),
prints the run's id once the run waits on a person, and then waits to be killed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import anyio

import automations as am


def _pydantic_ai(effects_file: Path) -> am.Executor:
    from automations.executors import pydantic_ai

    from ..executors.scripted_pydantic import approval_agent

    return pydantic_ai.executor(approval_agent(effects_file))


def _langgraph(effects_file: Path) -> am.Executor:
    from automations.executors import langgraph

    from ..executors.scripted_langgraph import approval_graph

    return langgraph.executor(approval_graph(effects_file))


def _openai_agents(effects_file: Path) -> am.Executor:
    from automations.executors import openai_agents

    from ..executors.scripted_openai import RUN_CONFIG, approval_agent

    return openai_agents.executor(approval_agent(effects_file), run_config=RUN_CONFIG)


EXECUTORS: dict[str, Callable[[Path], am.Executor]] = {
    "pydantic_ai": _pydantic_ai,
    "langgraph": _langgraph,
    "openai_agents": _openai_agents,
}
"""Each framework's executor over a scripted agent that writes to EFFECTS_FILE."""


async def main(framework: str, db: str, automation_id: str, effects_file: str) -> None:
    executor = EXECUTORS[framework](Path(effects_file))
    async with am.open_runtime(
        db, executors={"agent": executor}, project="crash", directory="/crash"
    ) as rt:
        run = await rt.run_now(automation_id)
        await rt.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=30)
        print(run.id, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    framework, database, automation, effects = sys.argv[1:5]
    anyio.run(main, framework, database, automation, effects, backend="asyncio")
