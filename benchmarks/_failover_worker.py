"""A worker for the failover benchmark: `python -m benchmarks._failover_worker DB`.

It serves the benchmark's scope of DB until it is killed or its parent is gone, and
says `serving` once open.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import anyio

import automations as am

from ._common import until_parent_leaves

PROJECT, DIRECTORY = "bench-failover", "/bench"


async def noop(ctx: am.RunContext) -> None:
    return None


async def main(db: str) -> None:
    async with am.open_runtime(
        db,
        executors={"default": noop},
        project=PROJECT,
        directory=DIRECTORY,
        min_interval=timedelta(seconds=1),
    ):
        print("serving", flush=True)
        await until_parent_leaves()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
