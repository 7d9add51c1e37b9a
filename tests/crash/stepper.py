"""A worker whose run takes steps and then hangs: `python -m tests.crash.stepper DB ID`.

It starts a run, prints its id once the run's three steps are durable, and waits to
be killed. The steps are noted by writes submitted as they are taken, one at a time;
writes commit in submission order, so two checkpoints, one after the other, come
after the last of them.
"""

from __future__ import annotations

import sys

import anyio

import automations as am

STEPS = 3


async def main(db: str, automation_id: str) -> None:
    noted = anyio.Event()

    async def stepper(ctx: am.RunContext) -> str:
        for _ in range(STEPS):
            await ctx.step()
        await ctx.checkpoint({"steps": STEPS})
        await ctx.checkpoint({"steps": STEPS})
        noted.set()
        await anyio.sleep_forever()
        return "never"

    async with am.open_runtime(
        db, executors={"stepper": stepper}, project="crash", directory="/crash"
    ) as rt:
        run = await rt.run_now(automation_id)
        await noted.wait()
        print(run.id, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
