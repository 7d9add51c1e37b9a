"""A worker whose run blocks in a resumable executor: `python -m tests.crash.resumer DB ID`.

It starts a run of the automation, prints the run's id once the run waits on its
question (after a checkpoint), and then waits to be killed.
"""

from __future__ import annotations

import sys

import anyio

import automations as am


@am.resumable
async def resumer(ctx: am.RunContext) -> str:
    if ctx.resumed:
        reply = await ctx.ask(am.Question("Go on?"))
        return f"{reply}, resumed from {ctx.checkpoint_data['done']} steps"
    for _ in range(3):
        await ctx.step()
    await ctx.checkpoint({"done": 3})
    await ctx.ask(am.Question("Go on?"))
    return "never resumed"


async def main(db: str, automation_id: str) -> None:
    async with am.open_runtime(
        db, executors={"resumer": resumer}, project="crash", directory="/crash"
    ) as rt:
        run = await rt.run_now(automation_id)
        await rt.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=30)
        print(run.id, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
