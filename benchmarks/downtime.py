"""Downtime: a worker restarts after its automations missed slots; how soon is each recorded?

N every-minute cron automations are created, the runtime closes, and a new one opens
`--minutes` later (on a manual clock, so no real waiting): each automation records one
`stopped/missed_schedule` run naming its missed slots (DESIGN 6.3). The time is from
opening the runtime until the N-th record is on the event stream.

    python -m benchmarks downtime [--n 10000] [--minutes 60]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

import automations as am
from automations.testing import ManualClock

from ._common import environment

_T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def _main(path: str, n: int, minutes: int) -> tuple[float, int, int]:
    """(seconds to the last record, records seen, slots they name)."""
    options: dict[str, Any] = {"project": "bench", "directory": "/bench"}
    async with am.open_runtime(path, clock=ManualClock(_T0), **options) as rt:
        await rt.create_many(
            am.NewAutomation(
                title=f"minutely {i}",
                prompt="tick",
                timezone="Europe/Berlin",
                schedule=am.Cron("* * * * *"),
            )
            for i in range(n)
        )
    later = ManualClock(_T0 + timedelta(minutes=minutes))
    started = time.perf_counter()
    records = slots = 0
    async with (
        am.open_runtime(path, clock=later, **options) as rt,
        rt.events(0) as events,
    ):
        async for event in events:
            if isinstance(event, am.RunUpdated) and event.run.missed is not None:
                records += 1
                slots += event.run.missed.count
                if records >= n:
                    break
        elapsed = time.perf_counter() - started
    return elapsed, records, slots


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--minutes", type=int, default=60, help="how long the worker was down")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n = 20
    with tempfile.TemporaryDirectory(prefix="automations-downtime-") as directory:
        path = os.path.join(directory, "downtime.db")
        elapsed, records, slots = anyio.run(_main, path, args.n, args.minutes, backend=args.backend)
    return {
        "bench": "downtime",
        "n": args.n,
        "downtime_minutes": args.minutes,
        "records": records,
        "missed_slots": slots,
        "wall_s": round(elapsed, 3),
        "records_per_s": round(records / elapsed, 1) if elapsed > 0 else None,
        "ok": records == args.n,
        "backend": args.backend,
    } | environment()


__all__ = ["add_arguments", "run"]
