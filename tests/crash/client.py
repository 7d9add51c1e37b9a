"""A client process: `python -m tests.crash.client DB AUTOMATION_ID REPLY`.

It asks the worker serving the database to run the automation, answers the run's
question with REPLY, waits for its end, and prints the run as wire JSON.
"""

from __future__ import annotations

import sys

import anyio

import automations as am
from automations.model import to_json


async def main(db: str, automation_id: str, reply: str) -> None:
    async with am.open_runtime(db, project="crash", directory="/crash", role="client") as rt:
        run = await rt.run_now(automation_id)
        run = await rt.wait(run.id, until=am.RunState.AWAITING_INPUT, timeout=30)
        assert run.blocker is not None, run
        await rt.answer(run.id, run.blocker.id, reply)
        done = await rt.wait(run.id, timeout=30)
        sys.stdout.write(to_json(done).decode() + "\n")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
