"""What every workload of the peer needs: its store with round-trip counters, its
scheduler, the database files, percentiles, and a watchdog that always ends it.

APScheduler, SQLAlchemy and aiosqlite exist only in the peer's environment, so they
are imported inside the functions that use them (and are `Any` to our type checker).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import resource
import sqlite3
import sys
import threading
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = [
    "DATA_DIR",
    "SqlStats",
    "Store",
    "WarnCollector",
    "arm_watchdog",
    "emit",
    "fresh_db_path",
    "install_log_collector",
    "make_scheduler",
    "peak_rss_mb",
    "pct",
    "r",
    "remove_db",
    "remove_created_dbs",
    "sqlite_facts",
    "versions",
]

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".bench-data")
_CREATED_DBS: list[str] = []


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("apscheduler", "sqlalchemy", "aiosqlite", "anyio"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    out["sqlite"] = sqlite3.sqlite_version
    return out


def peak_rss_mb() -> float:
    """Peak RSS; ru_maxrss is in KiB on Linux (bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, sort_keys=False) + "\n")
    sys.stdout.flush()


def arm_watchdog(seconds: float, bench: str) -> None:
    """Last resort: if the event loop wedges, print an error line and exit."""

    def fire() -> None:
        error = f"hard watchdog fired after {seconds:.0f}s (event loop wedged?)"
        emit({"bench": bench, "ok": False, "error": error})
        os._exit(3)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def fresh_db_path(args: argparse.Namespace, bench: str) -> str:
    path: str
    if args.db:
        path = os.path.abspath(str(args.db))
    else:
        os.makedirs(DATA_DIR, exist_ok=True)
        path = os.path.join(DATA_DIR, f"{bench}-{os.getpid()}.db")
    remove_db(path)
    _CREATED_DBS.append(path)
    return path


def remove_db(path: str) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)


def remove_created_dbs() -> None:
    for path in _CREATED_DBS:
        remove_db(path)


def sqlite_facts(path: str) -> dict[str, Any]:
    """What the file really is after the run, read with a plain sqlite3 handle."""
    try:
        con = sqlite3.connect(path, timeout=5)
        try:
            journal_mode = con.execute("PRAGMA journal_mode").fetchone()[0]
            counts: dict[str, int | None] = {}
            for table in ("tasks", "schedules", "jobs", "job_results"):
                try:
                    counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                except sqlite3.Error:
                    counts[table] = None
        finally:
            con.close()
        return {
            "journal_mode": journal_mode,
            "file_bytes": os.path.getsize(path) if os.path.exists(path) else None,
            "rows_after": counts,
        }
    except Exception as exc:  # diagnostics only
        return {"error": repr(exc)}


class WarnCollector(logging.Handler):
    """Collects WARNING and above from APScheduler (and SQLAlchemy)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.count = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.samples) < 5:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                message += f" | {type(error).__name__}: {error}"
            self.samples.append(message[:400])


def install_log_collector(verbose: bool) -> WarnCollector:
    collector = WarnCollector()
    for name in ("apscheduler", "sqlalchemy"):
        logger = logging.getLogger(name)
        logger.addHandler(collector)
        logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if verbose:
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
    else:  # warnings and errors still reach stderr
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
        logging.getLogger("apscheduler").addHandler(handler)
    return collector


class SqlStats:
    """Round trips counted through SQLAlchemy's engine events.

    statements: every cursor execute (an executemany counts once); commits: every
    COMMIT (APScheduler opens one engine.begin() transaction per data-store call);
    write_commits: commits of transactions that wrote, the ones that fsync.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.statements = 0
        self.commits = 0
        self.write_commits = 0
        self.rollbacks = 0
        self.by_verb: Counter[str] = Counter()

    def attach(self, sync_engine: Any) -> None:
        from sqlalchemy import event  # the peer's environment only

        def before_cursor_execute(conn: Any, *rest: Any) -> None:
            statement = rest[1]
            self.statements += 1
            verb = statement.lstrip().split(None, 1)[0].upper() if statement else "?"
            self.by_verb[verb] += 1
            if verb in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
                conn.info["_bench_dirty"] = True

        def on_commit(conn: Any) -> None:
            self.commits += 1
            if conn.info.pop("_bench_dirty", False):
                self.write_commits += 1

        def on_rollback(conn: Any) -> None:
            self.rollbacks += 1
            conn.info.pop("_bench_dirty", None)

        event.listen(sync_engine, "before_cursor_execute", before_cursor_execute)
        event.listen(sync_engine, "commit", on_commit)
        event.listen(sync_engine, "rollback", on_rollback)

    def summary(self, per: int | None = None, label: str = "per_job") -> dict[str, Any]:
        out: dict[str, Any] = {
            "statements": self.statements,
            "commits": self.commits,
            "write_commits": self.write_commits,
            "rollbacks": self.rollbacks,
            "by_verb": dict(self.by_verb.most_common()),
        }
        if per:
            out[label] = {
                "statements": round(self.statements / per, 2),
                "commits": round(self.commits / per, 2),
                "write_commits": round(self.write_commits / per, 2),
            }
        return out


class Store:
    """The SQLAlchemy engine under APScheduler's data store, counted and disposable."""

    def __init__(self, path: str, driver: str, journal: str, count_sql: bool = True) -> None:
        from sqlalchemy import create_engine, event
        from sqlalchemy.ext.asyncio import create_async_engine

        self.path = path
        self.driver = driver
        self.engine: Any
        if driver == "aiosqlite":
            self.engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
            sync_engine = self.engine.sync_engine
        elif driver == "sqlite":
            self.engine = create_engine(f"sqlite:///{path}")
            sync_engine = self.engine
        else:
            raise SystemExit(f"unknown driver {driver!r}")
        if journal != "default":

            def set_journal(dbapi_conn: Any, _record: Any) -> None:  # a sensitivity knob
                cursor = dbapi_conn.cursor()
                cursor.execute(f"PRAGMA journal_mode={journal}")
                cursor.close()

            event.listen(sync_engine, "connect", set_journal)
        self.stats = SqlStats()
        if count_sql:
            self.stats.attach(sync_engine)

    def data_store(self) -> Any:
        from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore

        return SQLAlchemyDataStore(self.engine)

    async def dispose(self) -> None:
        from sqlalchemy.ext.asyncio import AsyncEngine

        if isinstance(self.engine, AsyncEngine):
            await self.engine.dispose()
        else:
            self.engine.dispose()


def make_scheduler(store: Store, args: argparse.Namespace, **options: Any) -> Any:
    import apscheduler

    if hasattr(args, "task_max_running"):
        # Through task_defaults: configure_task(f, max_running_jobs=X) alone does not
        # stick, since every later add_job(f) / add_schedule(f) calls configure_task(f)
        # again, which re-applies the defaults (max_running_jobs=1).
        options["task_defaults"] = apscheduler.TaskDefaults(max_running_jobs=args.task_max_running)
    return apscheduler.AsyncScheduler(
        store.data_store(), max_concurrent_jobs=args.max_concurrent_jobs, **options
    )
