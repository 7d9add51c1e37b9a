"""A worker for the fleet benchmark: `python -m benchmarks._fleet_worker DB`.

It serves every scope of DB beside the other fleet workers (`scopes="all"`) until it
is killed, and says `serving` once open.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import anyio

import automations as am


async def noop(ctx: am.RunContext) -> None:
    return None


async def main(db: str) -> None:
    async with am.open_runtime(
        db,
        executors={"default": noop},
        project="bench-fleet",
        directory="/bench/0",
        min_interval=timedelta(seconds=1),
        scopes="all",
    ):
        print("serving", flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
