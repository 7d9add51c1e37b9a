"""A process that holds a liveness lock on PostgreSQL until it is killed.

`python -m tests.persistence.postgresql.hold_liveness DSN OWNER` prints `held` once
the lock is taken."""

from __future__ import annotations

import sys

import anyio

from automations.persistence import open_store


async def main(dsn: str, owner: str) -> None:
    async with open_store(dsn) as store, store.hold_liveness(owner):
        print("held", flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
