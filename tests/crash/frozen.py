"""A worker that logs its lease changes to stdout and stops cleanly on SIGINT:
`python -m tests.crash.frozen DB`. The stale-owner test freezes it with SIGSTOP."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import timedelta

import anyio

import automations as am


async def noop(ctx: am.RunContext) -> None:
    return None


async def main(db: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("automations")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        async with am.open_runtime(
            db,
            executors={"default": noop},
            project="crash",
            directory="/crash",
            min_interval=timedelta(seconds=1),
        ):
            async for _ in signals:
                break
    print("closed cleanly", flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
