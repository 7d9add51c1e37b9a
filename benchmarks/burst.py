"""Burst: N run-now runs with a no-op executor, every transition durable.

The clock starts at the first `run_now` and stops when the N-th run is `succeeded`,
as seen on the event stream; latency is from calling `run_now` to that event. Calls
are issued by `--concurrency` tasks, each awaiting its `run_now` (which returns once
the run is durably scheduled) before the next, as an application serving many users
would. Field names follow the peer's benchmark (`jobs_per_s`, `e2e_latency_ms`).

    python -m benchmarks burst [--n 10000] [--concurrency 32] [--durability full]
                               [--db postgresql://...] [--telemetry]

`--db` runs it on a given database (a PostgreSQL URL, say) instead of a new SQLite
file; the schema it names must be empty or hold nothing of project `bench`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import anyio

import automations as am
from automations.api import open_runtime

from ._collector import CollectorWatch
from ._common import after_startup, disk_commit_us, environment, latency, manual_automation
from ._telemetry import Observed, add_telemetry_argument


async def _noop(ctx: am.RunContext) -> None:
    return None


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    n, concurrency = args.n, min(args.concurrency, args.n)
    with tempfile.TemporaryDirectory(prefix="automations-burst-") as directory:
        path = args.db or os.path.join(directory, "burst.db")
        disk = disk_commit_us(directory) if args.disk_probe else None
        observed = Observed(args.telemetry, args.span_processor, args.sample_ratio)
        async with open_runtime(
            path,
            executors={"default": _noop},
            durability=args.durability,
            project="bench",
            **observed.options,
        ) as rt:
            after_startup()
            automation = await rt.create(manual_automation("burst"))
            submitted: dict[str, float] = {}
            latencies: list[float] = []
            outcomes: dict[str, int] = {}
            done = anyio.Event()
            issued = [0]
            commits_before = rt._store.writer_stats.batches

            async def follow(events: am.EventStream) -> None:
                async for event in events:
                    if isinstance(event, am.RunUpdated) and event.run.state.is_terminal:
                        now = time.perf_counter()
                        state = event.run.state.value
                        outcomes[state] = outcomes.get(state, 0) + 1
                        started = submitted.pop(event.run.id, None)
                        if started is not None:
                            latencies.append((now - started) * 1000)
                        if sum(outcomes.values()) >= n:
                            done.set()
                            return

            async def submit() -> None:
                while issued[0] < n:
                    issued[0] += 1
                    started = time.perf_counter()
                    run = await rt.run_now(automation.id)
                    submitted[run.id] = started

            since = await rt._store.reader.last_seq()
            async with rt.events(since) as events, anyio.create_task_group() as tg:
                tg.start_soon(follow, events)
                with CollectorWatch() as collector:
                    t0, cpu0 = time.perf_counter(), time.process_time()
                    with anyio.fail_after(args.timeout):
                        async with anyio.create_task_group() as submitters:
                            for _ in range(concurrency):
                                submitters.start_soon(submit)
                        t_added = time.perf_counter()
                        await done.wait()
                    t1, cpu1 = time.perf_counter(), time.process_time()
            commits = rt._store.writer_stats.batches - commits_before
    wall = t1 - t0
    completed = sum(outcomes.values())
    return (
        {
            "bench": "burst",
            "n": n,
            "concurrency": concurrency,
            "durability": args.durability,
            "store": "postgresql" if args.db else "sqlite",
            "completed": completed,
            "outcomes": outcomes,
            "wall_s": round(wall, 3),
            "jobs_per_s": round(completed / wall, 1),
            "cpu_us_per_run": round((cpu1 - cpu0) / max(1, completed) * 1e6, 1),
            "cpu_us_per_run_outside_gc": round(
                (cpu1 - cpu0 - collector.cpu_s) / max(1, completed) * 1e6, 1
            ),
            "gc": collector.fields(completed),
            "add_phase_s": round(t_added - t0, 3),
            "e2e_latency_ms": latency(latencies),
            "transitions_per_commit": round(3 * completed / max(1, commits), 1),
            "disk_commit_us": disk,
            "ok": completed == n and outcomes.get("succeeded") == n,
        }
        | observed.fields()
        | environment()
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=10_000, help="runs in the burst")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent callers")
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--db", default=None, help="a database URL (default: a new SQLite file)")
    parser.add_argument(
        "--no-disk-probe",
        dest="disk_probe",
        action="store_false",
        help="skip timing one commit of the disk first (about a second)",
    )
    add_telemetry_argument(parser)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n, args.concurrency = 50, 8
    line: dict[str, Any] = anyio.run(_main, args, backend=args.backend)
    line["backend"] = args.backend
    return line


__all__ = ["add_arguments", "run"]
