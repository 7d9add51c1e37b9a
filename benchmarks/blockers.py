"""Blockers: how soon a run goes on after its question is answered.

N runs, one after another, each asking one question. The latency is from the call to
`answer` until the run is `running` again, as the answering side sees it: first in the
worker's own process, then from a client process (a second Python process on the same
database, as the command line is), where the answer crosses through the database.

    python -m benchmarks blockers [--n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

import automations as am

from ._common import environment, latency, manual_automation

SCOPE = {"project": "bench", "directory": "/bench"}
ROOT = Path(__file__).resolve().parents[1]
_CLIENT = (
    "import sys\nfrom benchmarks.blockers import client\nclient(sys.argv[1], int(sys.argv[2]))\n"
)


async def asking(ctx: am.RunContext) -> str:
    return await ctx.ask(am.Question("Go on?"))


async def _in_process(path: str, n: int) -> list[float]:
    lags: list[float] = []
    async with am.open_runtime(path, executors={"default": asking}, **SCOPE) as rt:  # type: ignore[arg-type]
        a = await rt.create(manual_automation("asks"))
        for _ in range(n):
            run = await rt.run_now(a.id)
            run = await rt.wait(run.id, until=am.RunState.AWAITING_INPUT)
            assert run.blocker is not None
            started = time.perf_counter()
            await rt.answer(run.id, run.blocker.id, "yes")
            await rt.wait(run.id, until=am.RunState.RUNNING, newer_than=run.revision)
            lags.append((time.perf_counter() - started) * 1000)
            await rt.wait(run.id)
    return lags


async def _worker_for_client(path: str, n: int) -> list[float]:
    """This process runs the worker; a client process answers and measures."""
    async with am.open_runtime(path, executors={"default": asking}, **SCOPE) as rt:  # type: ignore[arg-type]
        a = await rt.create(manual_automation("asks"))
        command = [sys.executable, "-c", _CLIENT, path, str(n)]
        async with await anyio.open_process(command, cwd=ROOT, stderr=None) as client:
            for _ in range(n):
                run = await rt.run_now(a.id)
                await rt.wait(run.id, timeout=60)
            assert client.stdout is not None
            output = b"".join([chunk async for chunk in client.stdout])
            await client.wait()
    lags: list[float] = json.loads(output)
    return lags


async def client_main(path: str, n: int) -> None:
    """The client process: answer each question, time until the run goes on."""
    lags: list[float] = []
    async with (
        am.open_runtime(path, role="client", **SCOPE) as rt,  # type: ignore[arg-type]
        rt.events(0) as events,
    ):
        async for event in events:
            if not isinstance(event, am.RunUpdated) or event.run.blocker is None:
                continue
            run = event.run
            assert run.blocker is not None
            started = time.perf_counter()
            await rt.answer(run.id, run.blocker.id, "yes")
            await rt.wait(run.id, until=am.RunState.RUNNING, newer_than=run.revision)
            lags.append((time.perf_counter() - started) * 1000)
            if len(lags) == n:
                break
    sys.stdout.write(json.dumps(lags))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n = 5
    with tempfile.TemporaryDirectory(prefix="automations-blockers-") as directory:
        local_db, client_db = (os.path.join(directory, name) for name in ("local.db", "client.db"))
        local = anyio.run(_in_process, local_db, args.n, backend=args.backend)
        remote = anyio.run(_worker_for_client, client_db, args.n, backend=args.backend)
    return {
        "bench": "blockers",
        "n": args.n,
        "durability": "full",
        "answer_to_running_ms": {
            "in_process": latency(local, 2),
            "from_client": latency(remote, 2),
        },
        "ok": len(local) == len(remote) == args.n,
        "backend": args.backend,
    } | environment()


def client(path: str, n: int) -> None:
    anyio.run(client_main, path, n)


__all__ = ["add_arguments", "client", "run"]
