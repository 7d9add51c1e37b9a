"""A worker whose run fails: `python -m tests.crash.retrier DB ID`.

It starts a run of the automation (whose policy retries it), prints the run's id once
its failure, and with it the next attempt, are durable, and waits to be killed during
the backoff.
"""

from __future__ import annotations

import sys

import anyio

import automations as am


async def fails(ctx: am.RunContext) -> None:
    raise am.Retryable("the model is overloaded")


async def main(db: str, automation_id: str) -> None:
    async with am.open_runtime(
        db, executors={"default": fails}, project="crash", directory="/crash"
    ) as rt:
        run = await rt.run_now(automation_id)
        await rt.wait(run.id, timeout=30)
        print(run.id, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
