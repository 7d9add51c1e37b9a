"""The peer's burst and interval workloads, on APScheduler's own terms.

burst: N one-off jobs added one after another to a scheduler running in-process,
timed from the first `add_job` to the N-th `JobReleased`. interval: S schedules of a
one-second `IntervalTrigger` that all start at one whole second and fire D times; the
lag of each fire is measured from its scheduled time.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from ._support import Store, fresh_db_path, make_scheduler, pct, r, remove_db, sqlite_facts

__all__ = ["bench_burst", "bench_interval", "noop", "tick"]


async def noop() -> None:
    return None


_LAGS_MS: list[float] = []
_FIRE_TIMES: Counter[float] = Counter()


async def tick() -> None:
    """Records (start time - scheduled fire time) of the running job."""
    import apscheduler

    now = datetime.now(UTC)
    job = apscheduler.current_job.get()
    if job.scheduled_fire_time is not None:
        _LAGS_MS.append((now - job.scheduled_fire_time).total_seconds() * 1000.0)
        _FIRE_TIMES[job.scheduled_fire_time.timestamp()] += 1


def _finish(args: argparse.Namespace, path: str, line: dict[str, Any]) -> dict[str, Any]:
    if args.keep_db:
        line["db_path"] = path
    else:
        remove_db(path)
    return line


async def bench_burst(args: argparse.Namespace) -> dict[str, Any]:
    import anyio
    import apscheduler

    n = args.n
    path = fresh_db_path(args, "burst")
    store = Store(path, args.driver, args.journal, not args.no_sql_count)
    scheduler = make_scheduler(store, args)
    done = anyio.Event()
    released = 0
    outcomes: Counter[str] = Counter()
    submitted: dict[Any, float] = {}
    e2e_ms: list[float] = []

    def on_released(event: Any) -> None:
        nonlocal released
        now = time.perf_counter()
        released += 1
        outcomes[event.outcome.name] += 1
        started = submitted.pop(event.job_id, None)
        if started is not None:
            e2e_ms.append((now - started) * 1000.0)
        if released >= n:
            done.set()

    t_added: float | None = None
    added = 0
    try:
        with anyio.fail_after(args.timeout + 3 * args.setup_timeout):
            async with scheduler:
                with anyio.fail_after(args.setup_timeout):
                    await scheduler.configure_task(noop, max_running_jobs=args.task_max_running)
                    scheduler.subscribe(on_released, apscheduler.JobReleased)
                    await scheduler.start_in_background()
                store.stats.reset()
                t0 = time.perf_counter()
                deadline = t0 + args.timeout
                with anyio.move_on_after(args.timeout) as scope:
                    for _ in range(n):
                        # An explicit deadline: APScheduler shields each data-store call
                        # and an uncontended aiosqlite checkout never yields, so a
                        # cancel scope alone may never interrupt this loop.
                        if time.perf_counter() > deadline:
                            break
                        started = time.perf_counter()
                        submitted[await scheduler.add_job(noop)] = started
                        added += 1
                    else:
                        t_added = time.perf_counter()
                        await done.wait()
                t1 = time.perf_counter()
                timed_out = scope.cancelled_caught or t_added is None
                sql = store.stats.summary(per=max(1, released))
    finally:
        with anyio.move_on_after(5, shield=True):
            await store.dispose()
    wall = t1 - t0
    line: dict[str, Any] = {
        "n": n,
        "added": added,
        "completed": released,
        "timed_out": timed_out,
        "wall_s": r(wall),
        "jobs_per_s": r(released / wall if wall > 0 else None, 1),
        "add_phase_s": r(None if t_added is None else t_added - t0),
        "add_rate_per_s": r(None if t_added is None else n / (t_added - t0), 1),
        "outcomes": dict(outcomes),
        "e2e_latency_ms": {
            "p50": r(pct(e2e_ms, 50), 1),
            "p99": r(pct(e2e_ms, 99), 1),
            "max": r(max(e2e_ms) if e2e_ms else None, 1),
        },
        "task_max_running_jobs": args.task_max_running,
        "max_concurrent_jobs": args.max_concurrent_jobs,
        "sql": sql,
        "db": sqlite_facts(path),
        "ok": released == n and not timed_out,
    }
    return _finish(args, path, line)


async def bench_interval(args: argparse.Namespace) -> dict[str, Any]:
    import anyio
    import apscheduler
    from apscheduler.triggers.interval import IntervalTrigger

    schedules, seconds = args.schedules, args.seconds
    path = fresh_db_path(args, "interval")
    store = Store(path, args.driver, args.journal, not args.no_sql_count)
    scheduler = make_scheduler(store, args)
    expected = schedules * seconds
    released = 0
    outcomes: Counter[str] = Counter()
    all_done = anyio.Event()

    def on_released(event: Any) -> None:
        nonlocal released
        released += 1
        outcomes[event.outcome.name] += 1
        if released >= expected:
            all_done.set()

    _LAGS_MS.clear()
    _FIRE_TIMES.clear()
    try:
        with anyio.fail_after(args.timeout + 3 * args.setup_timeout):
            async with scheduler:
                with anyio.fail_after(args.setup_timeout):
                    await scheduler.configure_task(tick, max_running_jobs=args.task_max_running)
                    scheduler.subscribe(on_released, apscheduler.JobReleased)
                    # One aligned start (a whole second, far enough ahead to add them
                    # all); end_time makes each schedule fire exactly `seconds` times.
                    lead = args.lead if args.lead is not None else 2.0 + 0.02 * schedules
                    now = datetime.now(UTC)
                    anchor = datetime.fromtimestamp(math.ceil(now.timestamp() + lead), tz=UTC)
                    end = anchor + timedelta(seconds=seconds - 1)
                    t_setup = time.perf_counter()
                    for i in range(schedules):
                        if time.perf_counter() - t_setup > args.setup_timeout:
                            raise TimeoutError(f"adding schedules took > {args.setup_timeout}s")
                        trigger = IntervalTrigger(seconds=1, start_time=anchor, end_time=end)
                        await scheduler.add_schedule(tick, trigger, id=f"interval-{i}")
                    setup_s = time.perf_counter() - t_setup
                    overran = datetime.now(UTC) > anchor
                    await scheduler.start_in_background()
                store.stats.reset()
                remaining = max(0.0, end.timestamp() + args.drain - time.time())
                with anyio.move_on_after(min(remaining, args.timeout)) as scope:
                    await all_done.wait()
                timed_out = scope.cancelled_caught and released < expected
                sql = store.stats.summary(per=max(1, len(_LAGS_MS)))
                lags, fires = list(_LAGS_MS), dict(_FIRE_TIMES)
    finally:
        with anyio.move_on_after(5, shield=True):
            await store.dispose()
    executed = len(lags)
    line: dict[str, Any] = {
        "schedules": schedules,
        "seconds": seconds,
        "expected": expected,
        "executed": executed,
        "executed_ratio": r(executed / expected if expected else None, 4),
        "missing": expected - executed,
        "fire_lag_ms": {
            "p50": r(pct(lags, 50), 1),
            "p99": r(pct(lags, 99), 1),
            "max": r(max(lags) if lags else None, 1),
            "min": r(min(lags) if lags else None, 1),
        },
        "jobs_per_scheduled_second": [fires.get(anchor.timestamp() + k, 0) for k in range(seconds)],
        "outcomes": dict(outcomes),
        "setup_add_schedules_s": r(setup_s),
        "setup_overran_start": overran,
        "drain_s": args.drain,
        "stopped_before_all_released": timed_out,
        "task_max_running_jobs": args.task_max_running,
        "max_concurrent_jobs": args.max_concurrent_jobs,
        "coalesce": "latest (APScheduler default)",
        "misfire_grace_time": None,
        "sql": sql,
        "db": sqlite_facts(path),
        "ok": not overran and executed > 0,
    }
    return _finish(args, path, line)
