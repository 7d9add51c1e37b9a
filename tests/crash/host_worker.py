"""A worker on another host: `python -m tests.crash.host_worker DSN`.

It serves the `hosts` scope of the database at DSN until it is killed, logging its
warnings (a lease taken over, a step down) to stderr, and says `serving` once open.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta

import anyio

import automations as am

RUN_SECONDS = 0.4


async def brief(ctx: am.RunContext) -> None:
    """A run that lasts: the link is cut while the slot's runs go on (see test_hosts)."""
    await anyio.sleep(RUN_SECONDS)


async def main(dsn: str) -> None:
    async with am.open_runtime(
        dsn,
        executors={"default": brief},
        project="hosts",
        directory="/hosts",
        min_interval=timedelta(seconds=1),
    ):
        print("serving", flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("automations.actors").setLevel(logging.INFO)
    anyio.run(main, sys.argv[1])
