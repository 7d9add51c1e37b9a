"""What every benchmark line carries: versions, machine, and percentile helpers."""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio
import anyio.to_thread
import apsw
from anyio.abc import Process

import automations as am

__all__ = [
    "after_startup",
    "disk_commit_us",
    "emit",
    "environment",
    "latency",
    "manual_automation",
    "peak_rss_mb",
    "percentile",
    "start_worker",
    "start_workers",
    "until_parent_leaves",
]


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("automations", "anyio", "msgspec", "apsw", "croniter", "trio"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    versions["sqlite"] = apsw.sqlite_lib_version()
    return {"versions": versions, "cpu_count": os.cpu_count(), "platform": platform.platform()}


def disk_commit_us(directory: str, commits: int = 200) -> dict[str, float]:
    """What one durable commit of one small row costs on this disk now (WAL, fsync).

    The disk's speed changes by the hour on a shared machine, and every durable
    write waits for it: a line that carries this figure can be read against it.
    """
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        connection = apsw.Connection(os.path.join(scratch, "calibrate.db"))
        try:
            connection.execute("PRAGMA journal_mode = WAL").fetchall()
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
            took = []
            for measured in (False, True):  # the first round grows the WAL file
                for _ in range(commits):
                    started = time.perf_counter()
                    with connection:
                        connection.execute("INSERT INTO t (body) VALUES (?)", (bytes(500),))
                    if measured:
                        took.append((time.perf_counter() - started) * 1e6)
                # As in a long-lived database: the WAL is written over, not extended.
                connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        finally:
            connection.close()
    return {"p50": round(statistics.median(took), 1), "mean": round(statistics.fmean(took), 1)}


def after_startup() -> None:
    """What docs/operations.md recommends once a runtime is open, and no more: the
    objects made so far are frozen out of the collector's full passes."""
    gc.collect()
    gc.freeze()


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile, as the peer's benchmark computes it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[rank]


def manual_automation(title: str) -> am.NewAutomation:
    """An automation the workloads run by hand: fires once a year, runs overlap freely."""
    return am.NewAutomation(
        title=title,
        prompt=title,
        timezone="UTC",
        schedule=am.Cron("0 0 1 1 *"),
        overlap=am.Overlap.ALLOW,
    )


def latency(values: list[float], digits: int = 1) -> dict[str, float | None]:
    """p50, p99 and max of `values` (milliseconds), rounded."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "p50": rounded(percentile(values, 50)),
        "p99": rounded(percentile(values, 99)),
        "max": rounded(max(values, default=None)),
    }


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The repository, where `python -m benchmarks...` finds its modules."""


@asynccontextmanager
async def start_worker(module: str, db: str) -> AsyncIterator[Process]:
    """`python -m <module> DB` from the repository's root, once it says `serving`;
    stopped when the block exits, whatever ends it (an exception, Ctrl-C). A worker
    also leaves by itself once this process is gone (`until_parent_leaves`)."""
    async with start_workers(module, db, 1) as (process,):
        yield process


@asynccontextmanager
async def start_workers(module: str, db: str, count: int) -> AsyncIterator[list[Process]]:
    """`count` workers as `start_worker` starts one, spawned together (as a deployment
    starts them), once each says `serving`."""
    command = [sys.executable, "-m", module, db]
    processes: list[Process] = []
    try:
        for _ in range(count):
            processes.append(await anyio.open_process(command, cwd=_ROOT, stderr=None))
        for process in processes:
            assert process.stdout is not None
            with anyio.fail_after(60):
                line = await process.stdout.receive()
            if b"serving" not in line:
                raise RuntimeError(f"a worker did not start: {line!r}")
        yield processes
    finally:
        with anyio.CancelScope(shield=True):
            for process in processes:
                await _stop(process)


async def _stop(process: Process) -> None:
    """Terminate `process`, killed if it has not exited within `_STOP_S`."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        with anyio.move_on_after(_STOP_S):
            await process.wait()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    await process.aclose()


_STOP_S = 10.0


async def until_parent_leaves() -> None:
    """Return once the process that started this worker is gone (its stdin, a pipe
    from that process, ends): a benchmark killed by a signal leaves no worker behind."""
    await anyio.to_thread.run_sync(sys.stdin.buffer.read, abandon_on_cancel=True)
