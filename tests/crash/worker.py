"""A worker process for crash tests: `python -m tests.crash.worker DB AUTOMATION_ID`.

It opens a runtime on DB (taking the scheduler lease if it is free), starts one run
that blocks in its executor and one that blocks on a question, prints their ids as
one JSON line, and then serves until it is killed.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import anyio

import automations as am


async def blocking(ctx: am.RunContext) -> None:
    await anyio.sleep_forever()


async def asking(ctx: am.RunContext) -> str:
    return await ctx.ask(am.Question("Still there?"))


async def noop(ctx: am.RunContext) -> None:
    return None


async def main(db: str, blocking_id: str, asking_id: str) -> None:
    executors = {"default": noop, "blocking": blocking, "asking": asking}
    async with am.open_runtime(
        db,
        executors=executors,
        project="crash",
        directory="/crash",
        min_interval=timedelta(seconds=1),
    ) as rt:
        running = await rt.run_now(blocking_id)
        waiting = await rt.run_now(asking_id)
        await rt.wait(running.id, until=am.RunState.RUNNING, timeout=10)
        await rt.wait(waiting.id, until=am.RunState.AWAITING_INPUT, timeout=10)
        print(json.dumps({"running": running.id, "waiting": waiting.id}), flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    database, blocking_id, asking_id = sys.argv[1:4]
    anyio.run(main, database, blocking_id, asking_id)
