"""One life of the kill sweep's worker: `python -m tests.reliability.sweep_worker DB`.

It serves 50 automations on a 1 s interval and, until it is killed, runs a burst of
run-now runs and a stream of runs that ask a question which it answers itself. It
prints a line for every acknowledgement it got, flushed at once, so the test knows
exactly what the runtime promised before the SIGKILL:

    ack RUN_ID              run_now returned: the run is durably scheduled
    answered RUN_ID BLK_ID  answer returned: the answer is durably stored
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

import anyio

import automations as am

PROJECT, DIRECTORY = "sweep", "/sweep"
INTERVALS = 50
BURST = 2_000


async def noop(ctx: am.RunContext) -> None:
    await ctx.step()


async def asking(ctx: am.RunContext) -> str:
    return await ctx.ask(am.Question("Go on?", options=("yes", "no")))


def _new(title: str, schedule: am.Cron | am.Interval, executor: str) -> am.NewAutomation:
    return am.NewAutomation(
        title=title,
        prompt=title,
        timezone="UTC",
        schedule=schedule,
        executor=executor,
        overlap=am.Overlap.ALLOW,
    )


async def _automations(rt: am.Runtime, ids_path: str) -> dict[str, str]:
    """The sweep's automations: created by the first life, read by the others."""
    known = anyio.Path(ids_path)
    if await known.exists():
        ids: dict[str, str] = json.loads(await known.read_text())
        return ids
    yearly = am.Cron("0 0 1 1 *")
    burst = await rt.create(_new("burst", yearly, "noop"))
    ask = await rt.create(_new("asking", yearly, "asking"))
    every = am.Interval(every=timedelta(seconds=1))
    await rt.create_many(_new(f"tick {i}", every, "noop") for i in range(INTERVALS))
    ids = {"burst": burst.id, "asking": ask.id}
    await anyio.Path(ids_path + ".tmp").write_text(json.dumps(ids))
    await anyio.Path(ids_path + ".tmp").rename(ids_path)
    return ids


def say(*words: str) -> None:
    sys.stdout.write(" ".join(words) + "\n")
    sys.stdout.flush()


def open_sweep_runtime(db: str | os.PathLike[str]) -> AbstractAsyncContextManager[am.Runtime]:
    """A worker on the sweep's database: each life, and the test's restart."""
    return am.open_runtime(
        db,
        executors={"noop": noop, "asking": asking},
        min_interval=timedelta(seconds=1),
        project=PROJECT,
        directory=DIRECTORY,
    )


async def main(db: str, ids_path: str) -> None:
    async with open_sweep_runtime(db) as rt:
        ids = await _automations(rt, ids_path)
        say("ready")

        async def burst() -> None:
            for _ in range(BURST // 4):
                say("ack", (await rt.run_now(ids["burst"])).id)

        async def answering() -> None:
            while True:
                run = await rt.run_now(ids["asking"])
                run = await rt.wait(run.id, until=am.RunState.AWAITING_INPUT)
                if run.blocker is None:
                    continue
                await rt.answer(run.id, run.blocker.id, "yes")
                say("answered", run.id, run.blocker.id)

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(burst)
            tg.start_soon(answering)
            await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else sys.argv[1] + ".ids.json")
