"""A fleet worker process for crash tests: `python -m tests.crash.fleet_worker DB`.

It opens a runtime that serves every scope of DB (`scopes="all"`), prints its owner id
as one line once it is open, and serves until it is killed. Its executor `hold` runs
until then.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import anyio

import automations as am


async def noop(ctx: am.RunContext) -> None:
    return None


async def hold(ctx: am.RunContext) -> None:
    """Runs until the process dies: its runs are left `running` for a reconciler."""
    await anyio.sleep_forever()


async def main(db: str) -> None:
    async with am.open_runtime(
        db,
        executors={"default": noop, "hold": hold},
        project="fleet",
        directory="/fleet/0",
        min_interval=timedelta(seconds=1),
        scopes="all",
    ) as rt:
        print(rt._services.owner, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
