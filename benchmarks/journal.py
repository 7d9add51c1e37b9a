"""Journal throughput: durable transitions per second by number of concurrent writers.

Each writer repeatedly takes one run through its three transitions (scheduled,
running, succeeded), awaiting each durable commit before the next. Group commit is
what lets many writers share one fsync.

    python -m benchmarks journal [--writers 1,10,100] [--seconds 3] [--durability both]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from automations.model import (
    Interval,
    NewAutomation,
    RunState,
    Scope,
    Trigger,
    advance,
    as_instant,
    new_automation_id,
    new_run,
    new_run_id,
)
from automations.persistence import Durability
from automations.persistence.sqlite import SqliteStore, open_sqlite_store
from automations.schedules import build_automation

from ._common import environment

SCOPE = Scope("bench", "/bench")


async def _writer(
    store: SqliteStore, automation_id: str, deadline: float, counts: list[int]
) -> None:
    while time.perf_counter() < deadline:
        now = as_instant(datetime.now(UTC))  # as the runtime does: one clock read per run
        run = new_run(
            id=new_run_id(),
            automation_id=automation_id,
            definition_revision=1,
            trigger=Trigger.MANUAL,
            triggered_at=now,
            attended=True,
        )
        await store.save_run(SCOPE, run, expected_revision=None, at=now)
        running = advance(run, RunState.RUNNING, at=now)
        await store.save_run(SCOPE, running, expected_revision=1, at=now)
        done = advance(running, RunState.SUCCEEDED, at=now, result="ok")
        await store.save_run(SCOPE, done, expected_revision=2, at=now)
        counts[0] += 3


async def measure(
    writers: int, seconds: float, durability: Durability, directory: str
) -> dict[str, Any]:
    """Transitions per second with `writers` concurrent writers on a fresh file."""
    path = os.path.join(directory, f"journal-{writers}-{durability}.db")
    async with open_sqlite_store(path, durability=durability) as store:
        new = NewAutomation(
            title="bench",
            prompt="noop",
            timezone="UTC",
            schedule=Interval(every=timedelta(hours=1)),
        )
        now = datetime.now(UTC)
        automation = build_automation(new, id=new_automation_id(), project="bench", now=now)
        await store.create_automation(SCOPE, automation)
        counts = [0]
        batches_before = store.writer_stats.batches
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(writers):
                tg.start_soon(_writer, store, automation.id, started + seconds, counts)
        elapsed = time.perf_counter() - started
        commits = store.writer_stats.batches - batches_before
    return {
        "writers": writers,
        "transitions": counts[0],
        "seconds": round(elapsed, 3),
        "transitions_per_s": round(counts[0] / elapsed, 1),
        "commits": commits,
        "transitions_per_commit": round(counts[0] / max(1, commits), 1),
    }


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    writer_counts = [int(n) for n in args.writers.split(",")]
    with tempfile.TemporaryDirectory(prefix="automations-journal-") as directory:
        results = [
            await measure(n, args.seconds, args.durability, directory) for n in writer_counts
        ]
    by_writers = {r["writers"]: r["transitions_per_s"] for r in results}
    line: dict[str, Any] = {
        "bench": "journal",
        "durability": args.durability,
        "seconds_per_point": args.seconds,
        "results": results,
    }
    if 1 in by_writers and max(by_writers) > 1:
        line["speedup_max_vs_1_writer"] = round(by_writers[max(by_writers)] / by_writers[1], 1)
    line["ok"] = all(r["transitions"] > 0 for r in results)
    return line | environment()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--writers", default="1,10,100", help="comma-separated writer counts")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per point")
    parser.add_argument("--durability", choices=("full", "normal", "both"), default="both")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One line; with `--durability both`, the points of each mode one after the other."""
    if args.smoke:
        args.writers, args.seconds = "1,10", 0.2
    modes = ("full", "normal") if args.durability == "both" else (args.durability,)
    lines: list[dict[str, Any]] = []
    for mode in modes:
        args.durability = mode
        lines.append(anyio.run(_main, args, backend=args.backend))
    line = lines[0]
    if len(lines) > 1:
        line["durability"] = ",".join(modes)
        line["results"] = [
            point | {"durability": mode}
            for mode, each in zip(modes, lines, strict=True)
            for point in each["results"]
        ]
        line["speedup_max_vs_1_writer"] = {
            mode: each.get("speedup_max_vs_1_writer")
            for mode, each in zip(modes, lines, strict=True)
        }
        line["ok"] = all(each["ok"] for each in lines)
    line["backend"] = args.backend
    return line


__all__ = ["add_arguments", "measure", "run"]
