"""Interval: S automations on a 1 s interval for D seconds, all on the same whole second.

As the peer's benchmark: the first slot of every automation is one whole second T0,
far enough ahead that setup finishes before it; each fires exactly D times; the
executor records its start minus its slot (the fire lag). The run ends when every
expected run has ended, or `--drain` seconds after the last slot. `peak_rss_mb` is the
process's peak: with many schedules, a slot's runs are all in flight at once.

    python -m benchmarks interval [--schedules 200] [--seconds 10] [--telemetry]
                                  [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

import automations as am

from ._collector import CollectorWatch
from ._common import after_startup, environment, peak_rss_mb, percentile
from ._telemetry import Observed, add_telemetry_argument


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    schedules, seconds = args.schedules, args.seconds
    expected = schedules * seconds
    lags: list[float] = []
    per_slot: Counter[float] = Counter()
    done = anyio.Event()

    async def tick(ctx: am.RunContext) -> None:
        lag = time.time() - ctx.run.triggered_at.timestamp()
        lags.append(lag * 1000)
        per_slot[ctx.run.triggered_at.timestamp()] += 1
        if len(lags) >= expected:
            done.set()

    lead = args.lead if args.lead is not None else 2 + 0.002 * schedules
    observed = Observed(args.telemetry, args.span_processor, args.sample_ratio)
    with tempfile.TemporaryDirectory(prefix="automations-interval-") as directory:
        path = args.db or os.path.join(directory, "interval.db")
        async with am.open_runtime(
            path,
            executors={"default": tick},
            durability=args.durability,
            project="bench",
            min_interval=timedelta(seconds=1),
            max_scheduled_runs=args.max_scheduled_runs,
            **observed.options,
        ) as rt:
            after_startup()
            setup_started = time.time()
            start = datetime.fromtimestamp(math.ceil(setup_started + lead), UTC)
            stop = am.AfterCount(seconds)
            await rt.create_many(
                am.NewAutomation(
                    title=f"interval {i}",
                    prompt="tick",
                    timezone="UTC",
                    schedule=am.Interval(every=timedelta(seconds=1), start=start),
                    stop=stop,
                    overlap=am.Overlap.ALLOW,
                )
                for i in range(schedules)
            )
            setup_s = time.time() - setup_started
            with CollectorWatch() as collector:
                cpu0 = time.process_time()
                overran = time.time() > start.timestamp()
                last_slot = start.timestamp() + seconds - 1
                with anyio.move_on_after(last_slot + args.drain - time.time()):
                    await done.wait()
                cpu_s = time.process_time() - cpu0
    executed = len(lags)
    slots = [per_slot.get(start.timestamp() + k, 0) for k in range(seconds)]
    return (
        {
            "bench": "interval",
            "schedules": schedules,
            "seconds": seconds,
            "durability": args.durability,
            "store": "postgresql" if args.db else "sqlite",
            "max_scheduled_runs": args.max_scheduled_runs,
            "executed": executed,
            "expected": expected,
            "executed_ratio": round(executed / expected, 4),
            "missing": expected - executed,
            "cpu_us_per_run": round(cpu_s / max(1, len(lags)) * 1e6, 1),
            "cpu_us_per_run_outside_gc": round(
                (cpu_s - collector.cpu_s) / max(1, len(lags)) * 1e6, 1
            ),
            "gc": collector.fields(len(lags)),
            "fire_lag_ms": {
                "p50": _round(percentile(lags, 50)),
                "p99": _round(percentile(lags, 99)),
                "max": _round(max(lags, default=None)),
                "min": _round(min(lags, default=None)),
            },
            "jobs_per_scheduled_second": slots,
            "setup_create_s": round(setup_s, 3),
            "setup_overran_start": overran,
            "peak_rss_mb": peak_rss_mb(),
            "ok": not overran and executed == expected,
        }
        | observed.fields()
        | environment()
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--lead", type=float, default=None, help="seconds before the first slot")
    parser.add_argument("--drain", type=float, default=3.0)
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument(
        "--max-scheduled-runs",
        type=_limit,
        default=am.DEFAULT_MAX_SCHEDULED_RUNS,
        help="the runtime's bound on scheduled runs at once ('none': no bound)",
    )
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument(
        "--db", default=None, help="a database URL, its schema empty (default: a new SQLite file)"
    )
    add_telemetry_argument(parser)


def _limit(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.schedules, args.seconds, args.lead = 5, 2, 1.5
    line: dict[str, Any] = anyio.run(_main, args, backend=args.backend)
    line["backend"] = args.backend
    return line


__all__ = ["add_arguments", "run"]
