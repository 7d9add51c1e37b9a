"""A worker for the fleet benchmark: `python -m benchmarks._fleet_worker DB`.

It serves every scope of DB beside the other fleet workers (`scopes="all"`) until it
is killed or its parent is gone, and says `serving` once open.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import anyio

import automations as am

from ._common import until_parent_leaves


async def stamp(ctx: am.RunContext) -> str:
    """The time the executor starts, as the run's result: the benchmark reads its fire lag."""
    return repr(time.time())


async def main(db: str) -> None:
    async with am.open_runtime(
        db,
        executors={"default": stamp},
        project="bench-fleet",
        directory="/bench/0",
        min_interval=timedelta(seconds=1),
        scopes="all",
    ):
        print("serving", flush=True)
        await until_parent_leaves()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
