"""Fleet: W fleet workers (`scopes="all"`) share S scopes; how soon they lead them all,
how balanced, what each costs, how soon the survivors lead a killed one's, and, with
`--interval`, how late and how often they fire.

Each scope holds A automations, firing hourly or, with `--interval SECONDS`, on that
interval, their first slots spread evenly over it (`_fleet_fires`). `ready_s` is the
time from spawning the workers until every scope is led once, each worker within its
fair share of the shards (the unit the fleet shares out) and the slack; `max_led` the
most scopes one worker leads (a fair share is S/W) and `max_shards` the most shards;
`rss_mb` each worker's resident memory and `cpu_s_per_s` its CPU seconds per
second over the measured window: `--idle` seconds once ready, or `--seconds` of
firing; `rebalance_s` the time from a SIGKILL of one worker until the others lead
every scope again, each within its fair share and the slack (with `--interval`,
`--drain` seconds after the window; with `--churn`, a third into the window, and then
`rejoin_s`, the time from starting a new worker until the scopes are balanced over
all again: the handover of scopes to it happens while they fire). With `--interval`,
read from the store once the workers are gone: `fire_lag_ms` (slot to executor
start), `fires_per_s`, `fired`, `expected` and `outcomes` (runs by end) of the window,
and `fired_twice`, the slots with more than one run over the whole benchmark (the
kill included; must be 0).

    python -m benchmarks fleet [--scopes 50] [--automations 5] [--workers 3] [--db URL]
                               [--interval SECONDS [--seconds 20] [--lead S] [--drain 5]
                                [--churn]]
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
from anyio.abc import Process

import automations as am
from automations.actors import live_workers
from automations.actors._balance import DEFAULT_SLACK
from automations.model import Scope, Worker
from automations.persistence import StorePort, open_store, shard_of

from ._common import environment, start_worker, start_workers
from ._fleet_fires import Firing

_FLEET_WORKER = "benchmarks._fleet_worker"
PROJECT = "bench-fleet"
_POLL_S = 0.05
_CREATING = 16
"""Scopes whose automations are created at once."""


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="automations-fleet-") as directory:
        db = args.db or os.path.join(directory, "fleet.db")
        firing = _firing(args)
        created = time.monotonic()
        automations = await _create(db, args.scopes, args.automations, firing)
        create_s = time.monotonic() - created
        scopes = list(automations)
        async with AsyncExitStack() as stack:
            store = await stack.enter_async_context(open_store(db))
            spawned = time.monotonic()
            if args.one_by_one:  # each once the one before says it serves
                workers = [
                    await stack.enter_async_context(start_worker(_FLEET_WORKER, db))
                    for _ in range(args.workers)
                ]
            else:
                workers = await stack.enter_async_context(
                    start_workers(_FLEET_WORKER, db, args.workers)
                )
            found = await _until(store, lambda ws: _balanced(ws, scopes, args.workers))
            ready_s = time.monotonic() - spawned
            window = _window(firing, args)
            await anyio.sleep(max(0.0, window[0] - time.time()))
            cpu_before = {p.pid: _cpu_s(p.pid) for p in workers}
            churn: dict[str, float] = {}
            if args.churn:  # a third into the window: one dies, a new one joins
                await anyio.sleep((window[1] - window[0]) / 3)
                churn = await _churn(stack, store, db, workers, scopes, args.workers)
                await anyio.sleep(max(0.0, window[1] - time.time()))
            else:
                await anyio.sleep(window[1] - window[0])
            cpu = [
                (_cpu_s(p.pid) - cpu_before.get(p.pid, 0.0)) / (window[1] - window[0])
                for p in workers
            ]
            rss = [_rss_mb(p.pid) for p in workers]
            if firing is not None:  # the window's last slots start before the kill
                await anyio.sleep(args.drain)
            if not args.churn:
                workers[0].send_signal(signal.SIGKILL)
                killed = time.monotonic()
                await _until(store, lambda ws: _balanced(ws, scopes, args.workers - 1))
                churn["rebalance_s"] = time.monotonic() - killed
            await stack.aclose()  # the workers are stopped: every run is in the store
            read = time.monotonic()
            fires = {} if firing is None else await _fires(db, firing, automations, window)
            read_s = time.monotonic() - read
    return (
        {
            "bench": "fleet",
            "store": "postgresql" if args.db else "sqlite",
            "scopes": args.scopes,
            "automations": args.scopes * args.automations,
            "workers": args.workers,
            "ready_s": round(ready_s, 3),
            "max_led": max(len(w.scopes) for w in found),
            "max_shards": max(len({shard_of(s) for s in w.scopes}) for w in found),
            "rss_mb": [round(r, 1) for r in rss],
            "cpu_s_per_s": [round(c, 4) for c in cpu],
            **{name: round(seconds, 3) for name, seconds in churn.items()},
            "create_s": round(create_s, 3),
            "read_s": round(read_s, 3),
            "ok": fires.get("fired_twice", 0) == 0,
        }
        | fires
        | environment()
    )


async def _churn(
    stack: AsyncExitStack,
    store: StorePort,
    db: str,
    workers: list[Process],
    scopes: list[Scope],
    count: int,
) -> dict[str, float]:
    """SIGKILL the first worker; once the others lead its scopes, start a new one, in
    its place in `workers` (its CPU counted from its start), until it has its share."""
    workers[0].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    await _until(store, lambda ws: _balanced(ws, scopes, count - 1))
    rebalance_s = time.monotonic() - killed
    joined = time.monotonic()
    workers[0] = await stack.enter_async_context(start_worker(_FLEET_WORKER, db))
    await _until(store, lambda ws: _balanced(ws, scopes, count))
    return {"rebalance_s": rebalance_s, "rejoin_s": time.monotonic() - joined}


def _firing(args: argparse.Namespace) -> Firing | None:
    """With `--interval`: the automations' first slots `--lead` seconds from now."""
    if args.interval is None:
        return None
    total = args.scopes * args.automations
    lead = args.lead if args.lead is not None else 3 + 0.02 * args.scopes
    return Firing(args.interval, math.ceil(time.time() + lead), total)


def _window(firing: Firing | None, args: argparse.Namespace) -> tuple[float, float]:
    """What is measured: `--idle` seconds from now, or `--seconds` of firing from the
    first whole second after the first slots and one interval after readiness (the
    slots that came while the workers opened are caught up by then)."""
    now = time.time()
    if firing is None:
        return now, now + args.idle
    start = float(max(firing.t0, math.ceil(now + firing.interval)))
    return start, start + args.seconds


async def _fires(
    db: str, firing: Firing, automations: dict[Scope, list[str]], window: tuple[float, float]
) -> dict[str, Any]:
    async with open_store(db, read_only=True) as store:
        return await firing.figures(store, automations, window)


async def _create(
    db: str, scopes: int, automations: int, firing: Firing | None
) -> dict[Scope, list[str]]:
    """S scopes of A automations each, hourly or on `--interval`, by their ids; the
    scopes' clients a few at a time (one after another, a thousand took most of a
    minute on PostgreSQL)."""
    made: dict[Scope, list[str]] = {Scope(PROJECT, f"/bench/{i}"): [] for i in range(scopes)}
    limiter = anyio.CapacityLimiter(_CREATING)
    jobs = [(scope, range(i * automations, (i + 1) * automations)) for i, scope in enumerate(made)]
    (first, indexes), rest = jobs[0], jobs[1:]
    await _create_in(db, first, indexes, made[first], firing, limiter)  # makes the database
    async with anyio.create_task_group() as creating:
        for scope, indexes in rest:
            creating.start_soon(_create_in, db, scope, indexes, made[scope], firing, limiter)
    for scope, ids in made.items():
        assert len(ids) == automations, scope
    return made


async def _create_in(
    db: str,
    scope: Scope,
    indexes: range,
    ids: list[str],
    firing: Firing | None,
    limiter: anyio.CapacityLimiter,
) -> None:
    hourly = am.Interval(every=timedelta(hours=1))
    async with (
        limiter,
        am.open_runtime(
            db,
            project=scope.project,
            directory=scope.directory,
            role="client",
            min_interval=timedelta(seconds=1),
        ) as rt,
    ):
        created = await rt.create_many(
            am.NewAutomation(
                title=f"a{j}",
                prompt="p",
                timezone="UTC",
                schedule=hourly if firing is None else firing.schedule(index),
            )
            for j, index in enumerate(indexes)
        )
    ids.extend(a.id for a in created)


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
    """`count` workers lead every scope once, none over its fair share of the shards
    (the unit the fleet shares out) and the slack."""
    high = math.ceil(len({shard_of(s) for s in scopes}) / count) + DEFAULT_SLACK
    return (
        len(workers) == count
        and _led_once(workers, scopes)
        and all(len({shard_of(s) for s in w.scopes}) <= high for w in workers)
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
    parser.add_argument(
        "--one-by-one",
        action="store_true",
        help="start each worker once the one before serves (default: all together)",
    )
    parser.add_argument(
        "--interval", type=float, default=None, help="every automation fires every SECONDS"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="of firing measured")
    parser.add_argument(
        "--lead", type=float, default=None, help="seconds to the first slots (3 + scopes/50)"
    )
    parser.add_argument(
        "--drain", type=float, default=5.0, help="seconds after the window before the kill"
    )
    parser.add_argument(
        "--churn",
        action="store_true",
        help="kill a worker a third into the window and start a new one (rebalance_s, rejoin_s)",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.scopes, args.automations, args.workers, args.idle = 4, 1, 2, 0.5
        args.seconds, args.drain = 2.0, 1.0
    line: dict[str, Any] = anyio.run(_main, args)
    return line


__all__ = ["add_arguments", "run"]
