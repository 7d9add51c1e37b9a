"""Register: N cron automations, then a cold start of a new process on the file.

As the peer's benchmark: `*/5 * * * *` in Europe/Berlin. Creation is measured one by
one (each awaited, each its own durable commit) on `--one-by-one` automations, and in
bulk (`create_many`, `--batch` per transaction) on the rest; then a new process opens
the populated file and reports how long until its runtime is ready, its peak RSS and
its whole wall time.

    python -m benchmarks register [--n 100000] [--one-by-one 2000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import anyio

import automations as am

from ._common import disk_commit_us, environment, peak_rss_mb

SCOPE = {"project": "bench", "directory": "/bench"}


def _new(i: int) -> am.NewAutomation:
    return am.NewAutomation(
        title=f"cron {i}",
        prompt="noop",
        timezone="Europe/Berlin",
        schedule=am.Cron("*/5 * * * *"),
    )


async def _add(path: str, n: int, one_by_one: int, batch: int) -> dict[str, Any]:
    async with am.open_runtime(path, **SCOPE) as rt:  # type: ignore[arg-type]
        started = time.perf_counter()
        for i in range(one_by_one):
            await rt.create(_new(i))
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        for first in range(one_by_one, n, batch):
            await rt.create_many(_new(i) for i in range(first, min(n, first + batch)))
        bulk_s = time.perf_counter() - started
    bulk = n - one_by_one
    return {
        "one_by_one": one_by_one,
        "one_by_one_s": round(single_s, 3),
        "one_by_one_per_s": round(one_by_one / single_s, 1) if one_by_one else None,
        # The peer adds one by one: its field name carries that rate.
        "schedules_per_s": round(one_by_one / single_s, 1) if one_by_one else None,
        "bulk": bulk,
        "bulk_s": round(bulk_s, 3),
        "bulk_per_s": round(bulk / bulk_s, 1) if bulk else None,
        "batch": batch,
        "peak_rss_mb": peak_rss_mb(),
    }


_CHILD = (
    "import sys, time\n"
    "started = time.perf_counter()\n"
    "import automations\n"
    "from benchmarks.register import child\n"
    "child(sys.argv[1], time.perf_counter() - started)\n"
)
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cold_start(path: str) -> dict[str, Any]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, path],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall = time.perf_counter() - started
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    child: dict[str, Any] = json.loads(lines[-1]) if lines else {"ok": False}
    if completed.returncode != 0:
        child.update(ok=False, stderr_tail=completed.stderr[-800:])
    child["process_wall_s"] = round(wall, 3)
    return child


async def _open(path: str, import_s: float) -> dict[str, Any]:
    """In the child: open the runtime on the populated file until it is ready."""
    started = time.perf_counter()
    async with am.open_runtime(path, **SCOPE):  # type: ignore[arg-type]
        ready = time.perf_counter() - started
        await anyio.sleep(0.5)  # let the scheduler take its first look, as the peer does
    return {
        "ok": True,
        "import_s": round(import_s, 3),
        "ready_s": round(ready, 4),
        "peak_rss_mb": peak_rss_mb(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--one-by-one", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=5_000)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n, args.one_by_one, args.batch = 300, 100, 100
    one_by_one = min(args.one_by_one, args.n)
    with tempfile.TemporaryDirectory(prefix="automations-register-") as directory:
        path = os.path.join(directory, "register.db")
        disk = disk_commit_us(directory)
        add = anyio.run(_add, path, args.n, one_by_one, args.batch)
        size = os.path.getsize(path)
        cold = _cold_start(path)
    return {
        "bench": "register",
        "n": args.n,
        "durability": "full",
        "cron": "*/5 * * * *",
        "timezone": "Europe/Berlin",
        "disk_commit_us": disk,
        "add": add,
        "db_bytes": size,
        "cold_start": cold,
        "ok": bool(cold.get("ok")),
    } | environment()


def child(path: str, import_s: float) -> None:
    """The cold-start process: one JSON line on stdout."""
    print(json.dumps(anyio.run(_open, path, import_s)), flush=True)


__all__ = ["add_arguments", "child", "run"]
