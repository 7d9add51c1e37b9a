"""Backfill: how fast past slots run, one at a time, and what a jitter offset costs.

A five-minute cron automation; `Runtime.backfill` over the last N slots with an
executor that returns at once: slots per second, and each slot's time from its
launch to its run's end (the durable `scheduled`+`running` commit, the executor, the
durable end). Then the jitter offset of N (automation, slot) pairs, in microseconds.

    python -m benchmarks backfill [--n 1000] [--db PATH-or-URL]
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

import automations as am
from automations.schedules import jitter_offset

from ._common import environment, latency


async def noop(ctx: am.RunContext) -> None:
    return None


async def _main(location: str, n: int) -> tuple[float, list[float], am.BackfillReport]:
    async with am.open_runtime(
        location, executors={"default": noop}, project="bench", directory="/bench"
    ) as rt:
        a = await rt.create(
            am.NewAutomation(
                title="backfill", prompt="backfill", timezone="UTC", schedule=am.Cron("*/5 * * * *")
            )
        )
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        end -= timedelta(minutes=end.minute % 5)
        marks: list[float] = [time.perf_counter()]

        def lap(report: am.BackfillReport) -> None:
            marks.append(time.perf_counter())

        started = time.perf_counter()
        report = await rt.backfill(a.id, end - timedelta(minutes=5 * n), end, progress=lap)
        elapsed = time.perf_counter() - started
    laps = [(b - a) * 1000 for a, b in itertools.pairwise(marks)]
    return elapsed, laps, report


def _offset_us(n: int) -> float:
    slot = datetime(2026, 6, 1, 10, tzinfo=UTC)
    ids = [f"automation_{k:026d}" for k in range(n)]
    started = time.perf_counter()
    for automation_id in ids:
        jitter_offset(automation_id, slot, timedelta(seconds=10))
    return (time.perf_counter() - started) / n * 1e6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=1000, help="slots (at most 1000)")
    parser.add_argument("--db", help="a postgresql:// URL or a file (default: a temporary file)")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n = 10
    with tempfile.TemporaryDirectory(prefix="automations-backfill-") as directory:
        location = args.db or os.path.join(directory, "backfill.db")
        elapsed, laps, report = anyio.run(_main, location, args.n, backend=args.backend)
    ran = sum(1 for r in report.runs if r.state is am.RunState.SUCCEEDED)
    return {
        "bench": "backfill",
        "n": args.n,
        "store": "postgresql" if location.startswith("postgresql") else "sqlite",
        "durability": "full",
        "seconds": round(elapsed, 3),
        "slots_per_s": round(args.n / elapsed, 1),
        "slot_ms": latency(laps, 2),
        "jitter_offset_us": round(_offset_us(10_000), 2),
        "ok": ran == args.n == report.slots,
        "backend": args.backend,
    } | environment()


__all__ = ["add_arguments", "run"]
