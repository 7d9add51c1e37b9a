"""Calls: the Python calls one burst run costs in the event loop's thread, by who is
called (the runtime, telemetry, OpenTelemetry, prometheus-client).

A count, not a time: the load of a shared machine does not move it, so two versions,
or telemetry off and on, compare from one run each. It is the burst (`--telemetry` as
there) profiled twice in one process, with `--n` and twice `--n` runs, after a warm-up;
the difference of the two counts over `--n` is a run's, whatever opening and closing
the runtime costs. The writer thread is not profiled (SQLite's time is not in calls).

    python -m benchmarks calls [--n 1000] [--telemetry [both|metrics|traces]]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from collections import Counter
from typing import Any

from . import burst
from ._common import environment
from ._telemetry import add_telemetry_argument

__all__ = ["add_arguments", "run"]

_GROUPS = (
    ("opentelemetry", "/opentelemetry/"),
    ("prometheus_client", "/prometheus_client/"),
    ("automations.telemetry", "/automations/telemetry/"),
    ("automations", "/automations/"),
)


def _group(filename: str) -> str:
    for name, part in _GROUPS:
        if part in filename:
            return name
    return "other"  # the event loop, anyio, the standard library, built-ins


def _calls(args: argparse.Namespace, n: int) -> tuple[Counter[str], bool]:
    """The calls of one burst of `n` runs, by the group of the function called."""
    burst_args = argparse.Namespace(**{**vars(args), "n": n, "smoke": False, "disk_probe": False})
    profile = cProfile.Profile()
    profile.enable()
    try:
        line = burst.run(burst_args)
    finally:
        profile.disable()
    counts: Counter[str] = Counter()
    for (filename, _, _), (_, calls, *_) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        counts[_group(filename)] += calls
    return counts, bool(line.get("ok"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=1000, help="runs of the smaller burst")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    add_telemetry_argument(parser)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n = 50
    args.timeout, args.db = 300.0, None
    _calls(args, min(args.n, 200))  # imports, caches: what a first burst pays once
    small, ok_small = _calls(args, args.n)
    large, ok_large = _calls(args, 2 * args.n)
    per_run = {group: round((large[group] - small[group]) / args.n, 1) for group in sorted(large)}
    return {
        "bench": "calls",
        "n": args.n,
        "backend": args.backend,
        "telemetry": args.telemetry,
        "calls_per_run": round(sum(per_run.values()), 1),
        "by_group": per_run,
        "ok": ok_small and ok_large,
    } | environment()
