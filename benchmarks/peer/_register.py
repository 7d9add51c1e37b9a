"""The peer's register workload: N cron schedules added one by one, then a cold start
of a new process on that file (`_open`), timed until the scheduler is started."""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ._support import (
    Store,
    fresh_db_path,
    make_scheduler,
    peak_rss_mb,
    r,
    remove_db,
    sqlite_facts,
)
from ._workloads import noop

__all__ = ["bench_open", "bench_register"]

_ROOT = Path(__file__).resolve().parents[2]


async def _add(args: argparse.Namespace, path: str) -> dict[str, Any]:
    import anyio
    from apscheduler.triggers.cron import CronTrigger

    store = Store(path, args.driver, args.journal, not args.no_sql_count)
    scheduler = make_scheduler(store, args)
    rss_before = peak_rss_mb()
    added = 0
    add_timed_out = False
    try:
        with anyio.fail_after(args.timeout + 3 * args.setup_timeout):
            async with scheduler:
                with anyio.fail_after(args.setup_timeout):
                    await scheduler.configure_task(noop)
                store.stats.reset()
                zone = ZoneInfo(args.tz)
                t0 = time.perf_counter()
                deadline = t0 + args.timeout
                for i in range(args.n):
                    if time.perf_counter() > deadline:  # see the note in bench_burst
                        add_timed_out = True
                        break
                    if args.no_tz_workaround:
                        trigger = CronTrigger.from_crontab(args.cron, timezone=args.tz)
                    else:
                        # apscheduler#1061 (4.0.0a6): start_time (default: now in the
                        # host's zone) is not converted to the trigger's zone, so the
                        # first fire is off by the UTC offset unless it is given.
                        trigger = CronTrigger.from_crontab(
                            args.cron, timezone=args.tz, start_time=datetime.now(zone)
                        )
                    await scheduler.add_schedule(noop, trigger, id=f"cron-{i}")
                    added += 1
                add_s = time.perf_counter() - t0
                sql = store.stats.summary(per=max(1, added), label="per_schedule")
    finally:
        with anyio.move_on_after(5, shield=True):
            await store.dispose()
    return {
        "added": added,
        "add_timed_out": add_timed_out,
        "add_s": r(add_s),
        "schedules_per_s": r(added / add_s if add_s > 0 else None, 1),
        "peak_rss_mb_before_add": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "sql": sql,
    }


def _due_at_open(path: str) -> int | str:
    """Schedules already due when the new process opens the store (the add phase can
    straddle a */5 boundary): they do not change "ready"."""
    try:
        con = sqlite3.connect(path, timeout=5)
        now_us = int(time.time() * 1_000_000)
        due = con.execute(
            "SELECT count(*) FROM schedules WHERE next_fire_time <= ?", (now_us,)
        ).fetchone()[0]
        con.close()
        return int(due)
    except sqlite3.Error as exc:
        return repr(exc)


def _cold_start(args: argparse.Namespace, path: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.peer",
        "_open",
        "--db",
        path,
        "--driver",
        args.driver,
        "--journal",
        args.journal,
        "--max-concurrent-jobs",
        str(args.max_concurrent_jobs),
        "--timeout",
        str(args.open_timeout),
    ]
    if args.no_sql_count:
        command.append("--no-sql-count")
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=args.open_timeout + 15, cwd=_ROOT
        )
        wall = time.perf_counter() - t0
        found = [line for line in reversed(done.stdout.splitlines()) if line.startswith("{")]
        child: dict[str, Any] = (
            json.loads(found[0]) if found else {"ok": False, "error": "no JSON from child"}
        )
        if done.returncode != 0 and child.get("ok", True):
            child["ok"] = False
        if done.stderr.strip():
            child["stderr_tail"] = done.stderr.strip()[-800:]
    except subprocess.TimeoutExpired:
        wall = time.perf_counter() - t0
        child = {"ok": False, "error": "child timed out"}
    child["process_wall_s"] = r(wall)
    return child


def bench_register(args: argparse.Namespace) -> dict[str, Any]:
    import anyio

    path = fresh_db_path(args, "register")
    add = anyio.run(_add, args, path, backend="asyncio")
    line: dict[str, Any] = {
        "n": args.n,
        "cron": args.cron,
        "timezone": args.tz,
        "tz_workaround_1061": not args.no_tz_workaround,
        "add": add,
        "db": sqlite_facts(path),
        "due_at_open": _due_at_open(path),
    }
    child = _cold_start(args, path)
    line["cold_start"] = child
    line["ok"] = add["added"] == args.n and bool(child.get("ok"))
    if args.keep_db:
        line["db_path"] = path
    else:
        remove_db(path)
    return line


async def bench_open(args: argparse.Namespace, import_s: float, started: float) -> dict[str, Any]:
    """The child: open an existing store and start the scheduler until it is ready."""
    import anyio

    t0 = time.perf_counter()
    store = Store(args.db, args.driver, args.journal, not args.no_sql_count)
    scheduler = make_scheduler(store, args)
    t_open = t_ready = None
    state = alive = None
    stats_at_ready: dict[str, Any] = {}
    try:
        with anyio.fail_after(3 * args.timeout):
            async with scheduler:  # the data store starts: create_all, schema check
                t_open = time.perf_counter()
                with anyio.fail_after(args.timeout):
                    await scheduler.start_in_background()  # returns once started
                    t_ready = time.perf_counter()
                    state = scheduler.state.name
                stats_at_ready = store.stats.summary()
                # Let the schedule loop make its first pass, so that a broken store
                # shows as a crash, not as a fast "ready".
                await anyio.sleep(0.5)
                alive = scheduler.state.name
    finally:
        with anyio.move_on_after(5, shield=True):
            await store.dispose()
    facts = sqlite_facts(args.db)
    return {
        "ok": t_ready is not None and alive == "started",
        "python_start_to_main_s": r(t0 - started),
        "import_apscheduler_s": r(import_s),
        "open_store_s": r(None if t_open is None else t_open - t0),
        "start_scheduler_s": r(None if t_ready is None or t_open is None else t_ready - t_open),
        "ready_s": r(None if t_ready is None else t_ready - t0),
        "state_at_ready": state,
        "state_after_0_5s": alive,
        "schedules_in_store": facts.get("rows_after", {}).get("schedules"),
        "peak_rss_mb": peak_rss_mb(),
        "sql_until_ready": stats_at_ready,
        "sql_incl_first_0_5s": store.stats.summary(),
    }
