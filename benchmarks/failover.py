"""Failover: how soon a standby leads and fires after the lease holder is SIGKILLed.

Two worker processes serve one database (a new SQLite file, or `--db postgresql://...`)
while S automations fire every second. The holder is killed with SIGKILL; `lease_s` is
the time until a standby holds the lease, `first_fire_s` until the first run a standby
fired after the kill is `running` (the next slot may be up to a second away), and
`its_fire_lag_s` how late that run started after its slot. Each round kills the holder
of a fresh pair of workers; the line has every round and the medians.

    python -m benchmarks failover [--rounds 5] [--schedules 20] [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

import automations as am
from automations.model import Run, RunState, Scope, from_msgpack
from automations.persistence import RUN_UPDATED, StorePort, lease_name, open_store

from ._common import environment, start_worker
from ._failover_worker import DIRECTORY, PROJECT

SCOPE = Scope(PROJECT, DIRECTORY)
_POLL_S = 0.01


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="automations-failover-") as directory:
        db = args.db or os.path.join(directory, "failover.db")
        await _create(db, args.schedules)
        rounds = [await _round(db) for _ in range(args.rounds)]
    lease = [r["lease_s"] for r in rounds]
    fire = [r["first_fire_s"] for r in rounds]
    lag = [r["its_fire_lag_s"] for r in rounds]
    return {
        "bench": "failover",
        "store": "postgresql" if args.db else "sqlite",
        "schedules": args.schedules,
        "rounds": rounds,
        "lease_s_median": round(statistics.median(lease), 3),
        "first_fire_s_median": round(statistics.median(fire), 3),
        "its_fire_lag_s_median": round(statistics.median(lag), 3),
        "ok": len(rounds) == args.rounds,
    } | environment()


async def _create(db: str, schedules: int) -> None:
    start = datetime.fromtimestamp(math.ceil(time.time()) + 1, UTC)
    every = am.Interval(every=timedelta(seconds=1), start=start)
    async with am.open_runtime(
        db,
        project=PROJECT,
        directory=DIRECTORY,
        role="client",
        min_interval=timedelta(seconds=1),
    ) as rt:
        await rt.create_many(
            am.NewAutomation(title=f"tick {i}", prompt="tick", timezone="UTC", schedule=every)
            for i in range(schedules)
        )


async def _round(db: str) -> dict[str, float]:
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(db, read_only=True))
        workers = {}
        for _ in range(2):
            worker = await stack.enter_async_context(
                start_worker("benchmarks._failover_worker", db)
            )
            workers[worker.pid] = worker
        holder = await _holder(store, lambda pid: pid in workers)
        head = await store.reader.last_seq(SCOPE)
        workers[holder].send_signal(signal.SIGKILL)
        killed = time.time()
        await _holder(store, lambda pid: pid != holder)
        lease_s = time.time() - killed
        fired_at, slot = await _first_fire_after(store, head, killed)
        first_fire_s, lag_s = fired_at - killed, fired_at - slot
        for pid, worker in workers.items():
            if pid != holder:
                worker.terminate()
    return {
        "lease_s": round(lease_s, 3),
        "first_fire_s": round(first_fire_s, 3),
        "its_fire_lag_s": round(lag_s, 3),
    }


async def _holder(store: StorePort, wanted: Any) -> int:
    """The pid of the worker holding the lease once `wanted(pid)` (owners are
    `host-pid-nonce`)."""
    with anyio.fail_after(60):
        while True:
            row = await store.reader.lease(lease_name(SCOPE))
            if row is not None:
                pid = int(row.holder.rsplit("-", 2)[1])
                if wanted(pid):
                    return pid
            await anyio.sleep(_POLL_S)


async def _first_fire_after(store: StorePort, head: int, killed: float) -> tuple[float, float]:
    """When the first run fired after the kill was recorded `running`, and its slot
    (epoch seconds): the next slot may be up to a second after the kill."""
    with anyio.fail_after(60):
        while True:
            for entry in await store.reader.journal(SCOPE, head, 1_000):
                head = entry.seq
                if entry.kind != RUN_UPDATED or entry.at / 1000 <= killed:
                    continue
                run = from_msgpack(entry.body, Run)
                if run.state is RunState.RUNNING:
                    return entry.at / 1000, run.triggered_at.timestamp()
            await anyio.sleep(_POLL_S)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--db", default=None, help="a database URL (default: a new SQLite file)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.rounds, args.schedules = 1, 3
    line: dict[str, Any] = anyio.run(_main, args)
    return line


__all__ = ["add_arguments", "run"]
