"""Fleet: W fleet workers (`scopes="all"`) share S scopes; how soon they lead them all,
how balanced, what each costs idle, and how soon the survivors lead a killed one's.

Each scope holds A automations firing hourly (this first version measures the leases,
not the fire lag). `ready_s` is the time from spawning the workers until every scope
is led once, each worker within its fair share and the slack; `max_led` the most
scopes one worker leads (a fair share is S/W);
`rss_mb` each worker's resident memory and `cpu_s_per_s` its CPU seconds per second
over `--idle` seconds once ready; `rebalance_s` the time from a SIGKILL of one worker
until the others lead every scope again, each within its fair share and the slack.

    python -m benchmarks fleet [--scopes 50] [--automations 5] [--workers 3] [--db URL]
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio

import automations as am
from automations.actors import live_workers
from automations.actors._balance import DEFAULT_SLACK
from automations.model import Scope, Worker
from automations.persistence import StorePort, open_store

from ._common import environment, start_worker

_FLEET_WORKER = "benchmarks._fleet_worker"
PROJECT = "bench-fleet"
_POLL_S = 0.05


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="automations-fleet-") as directory:
        db = args.db or os.path.join(directory, "fleet.db")
        scopes = await _create(db, args.scopes, args.automations)
        async with AsyncExitStack() as stack:
            store = await stack.enter_async_context(open_store(db))
            spawned = time.monotonic()
            workers = [
                await stack.enter_async_context(await start_worker(_FLEET_WORKER, db))
                for _ in range(args.workers)
            ]
            found = await _until(store, lambda ws: _balanced(ws, scopes, args.workers))
            ready_s = time.monotonic() - spawned
            cpu_before = {p.pid: _cpu_s(p.pid) for p in workers}
            await anyio.sleep(args.idle)
            cpu = [(_cpu_s(p.pid) - cpu_before[p.pid]) / args.idle for p in workers]
            rss = [_rss_mb(p.pid) for p in workers]
            victim = workers[0]
            victim.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            await _until(store, lambda ws: _balanced(ws, scopes, args.workers - 1))
            rebalance_s = time.monotonic() - killed
            for worker in workers[1:]:
                worker.terminate()
    return {
        "bench": "fleet",
        "store": "postgresql" if args.db else "sqlite",
        "scopes": args.scopes,
        "automations": args.scopes * args.automations,
        "workers": args.workers,
        "ready_s": round(ready_s, 3),
        "max_led": max(len(w.scopes) for w in found),
        "rss_mb": [round(r, 1) for r in rss],
        "cpu_s_per_s": [round(c, 4) for c in cpu],
        "rebalance_s": round(rebalance_s, 3),
        "ok": True,
    } | environment()


async def _create(db: str, scopes: int, automations: int) -> list[Scope]:
    every = am.Interval(every=timedelta(hours=1))
    made = []
    for i in range(scopes):
        scope = Scope(PROJECT, f"/bench/{i}")
        async with am.open_runtime(
            db, project=scope.project, directory=scope.directory, role="client"
        ) as rt:
            await rt.create_many(
                am.NewAutomation(title=f"a{j}", prompt="p", timezone="UTC", schedule=every)
                for j in range(automations)
            )
        made.append(scope)
    return made


def _led_once(workers: list[Worker], scopes: list[Scope]) -> bool:
    return Counter(s for w in workers for s in w.scopes) == Counter(scopes)


async def _until(store: StorePort, check: Any) -> list[Worker]:
    """The live workers once `check` holds (polled: the heartbeats are other processes')."""
    with anyio.fail_after(120):
        while True:
            found = await live_workers(store)
            if check(found):
                return found
            await anyio.sleep(_POLL_S)


def _balanced(workers: list[Worker], scopes: list[Scope], count: int) -> bool:
    """`count` workers lead every scope once, none over its fair share and the slack."""
    high = math.ceil(len(scopes) / count) + DEFAULT_SLACK
    return (
        len(workers) == count
        and _led_once(workers, scopes)
        and all(len(w.scopes) <= high for w in workers)
    )


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scopes", type=int, default=50)
    parser.add_argument("--automations", type=int, default=5, help="per scope")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle measured")
    parser.add_argument("--db", default=None, help="a database URL (default: a new SQLite file)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.scopes, args.automations, args.workers, args.idle = 4, 1, 2, 0.5
    line: dict[str, Any] = anyio.run(_main, args)
    return line


__all__ = ["add_arguments", "run"]
