"""A worker that serves a database for a while: `python -m tests.crash.serve DB SECONDS`."""

from __future__ import annotations

import sys
from datetime import timedelta

import anyio

import automations as am


async def noop(ctx: am.RunContext) -> None:
    return None


async def main(db: str, seconds: float) -> None:
    async with am.open_runtime(
        db,
        executors={"default": noop},
        project="crash",
        directory="/crash",
        min_interval=timedelta(seconds=1),
    ):
        print("serving", flush=True)
        await anyio.sleep(seconds)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], float(sys.argv[2]))
