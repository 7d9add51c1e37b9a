"""Cancel: how soon a running run is `stopped/cancelled` after `cancel()` is called.

N runs, one after another, each blocked in its executor until cancelled; the latency
is from the call to `cancel` until it returns the stopped run (durably recorded).

    python -m benchmarks cancel [--n 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import anyio

import automations as am

from ._common import environment, latency, manual_automation


async def forever(ctx: am.RunContext) -> None:
    await anyio.sleep_forever()


async def _main(path: str, n: int) -> list[float]:
    lags: list[float] = []
    async with am.open_runtime(
        path, executors={"default": forever}, project="bench", directory="/bench"
    ) as rt:
        a = await rt.create(manual_automation("forever"))
        for _ in range(n):
            run = await rt.run_now(a.id)
            await rt.wait(run.id, until=am.RunState.RUNNING)
            started = time.perf_counter()
            stopped = await rt.cancel(run.id)
            lags.append((time.perf_counter() - started) * 1000)
            assert stopped.stop_reason is am.StopReason.CANCELLED, stopped
    return lags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n = 5
    with tempfile.TemporaryDirectory(prefix="automations-cancel-") as directory:
        lags = anyio.run(_main, os.path.join(directory, "cancel.db"), args.n, backend=args.backend)
    return {
        "bench": "cancel",
        "n": args.n,
        "durability": "full",
        "cancel_to_stopped_ms": latency(lags, 2),
        "ok": len(lags) == args.n,
        "backend": args.backend,
    } | environment()


__all__ = ["add_arguments", "run"]
