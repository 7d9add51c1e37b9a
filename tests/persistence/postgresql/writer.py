"""A writer process for the follower test: `python -m tests.persistence.postgresql.writer
DSN NAME SECONDS` creates and pauses automations for SECONDS, then prints what it wrote,
`[[id, revision], ...]`, as one JSON line."""

from __future__ import annotations

import json
import sys

import anyio

import automations as am


async def main(dsn: str, name: str, seconds: float) -> None:
    written: list[tuple[str, int]] = []
    async with am.open_runtime(dsn, role="client", project="follow", directory="/follow") as rt:
        deadline, i = anyio.current_time() + seconds, 0
        while anyio.current_time() < deadline:  # never cut a write: each is counted
            new = am.NewAutomation(
                title=f"{name} {i}", prompt="follow", timezone="UTC", schedule=am.Cron("0 0 1 1 *")
            )
            created = await rt.create(new)
            written.append((created.id, 1))
            paused = await rt.pause(created.id)
            written.append((paused.id, paused.revision))
            i += 1
    print(json.dumps(written), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], float(sys.argv[3]))
