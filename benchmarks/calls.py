"""Calls: the Python calls one run costs in the event loop's thread, by who is called
(the runtime, telemetry, OpenTelemetry, prometheus-client).

A count, not a time: the load of a shared machine does not move it, so two versions,
or telemetry off and on, compare from one run each. It is a workload (`--telemetry`
as there) profiled twice in one process, the second twice the first's size, after a
warm-up; the difference of the two counts over the runs added is a run's, whatever
opening and closing the runtime costs. `burst` adds `--n` run-now runs; `interval`
adds `--seconds` slots of `--schedules` automations each (a fired run, its share of
its slot's claim included; the seconds are real ones, so it takes about a minute).
The writer thread is not profiled (SQLite's time is not in calls). `--top K` lists
the K functions whose calls per run grew most, to find where a difference is.

    python -m benchmarks calls [--workload burst|interval] [--n 1000]
                               [--schedules 200] [--seconds 3]
                               [--telemetry [both|metrics|traces]] [--top K]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
from collections import Counter
from typing import Any

import automations as am

from . import burst, interval
from ._common import environment
from ._telemetry import add_telemetry_argument

__all__ = ["add_arguments", "run"]

_GROUPS = (
    ("opentelemetry", "/opentelemetry/"),
    ("prometheus_client", "/prometheus_client/"),
    ("automations.telemetry", "/automations/telemetry/"),
    ("automations", "/automations/"),
)

_Function = tuple[str, int, str]

_ADDRESS = re.compile(r" at 0x[0-9a-f]+")
"""A built-in's address, which differs from one process to the next."""


def _group(filename: str) -> str:
    for name, part in _GROUPS:
        if part in filename:
            return name
    return "other"  # the event loop, anyio, the standard library, built-ins


def _workload_args(args: argparse.Namespace, size: int) -> tuple[Any, argparse.Namespace, int]:
    """The workload's module, its arguments for `size` and the runs they make."""
    common = {**vars(args), "smoke": False}
    common.pop("workload", None)
    if args.profiled == "burst":
        return burst, argparse.Namespace(**{**common, "n": size}, disk_probe=False), size
    options = argparse.Namespace(
        **{**common, "seconds": size},
        lead=None,
        drain=3.0,
        max_scheduled_runs=am.DEFAULT_MAX_SCHEDULED_RUNS,
    )
    return interval, options, size * args.schedules


def _calls(args: argparse.Namespace, size: int) -> tuple[Counter[_Function], int, bool]:
    """The calls of one workload of `size`, by function; the runs it made."""
    module, options, runs = _workload_args(args, size)
    profile = cProfile.Profile()
    profile.enable()
    try:
        line = module.run(options)
    finally:
        profile.disable()
    counts: Counter[_Function] = Counter()
    for function, (_, calls, *_) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        counts[function] += calls
    return counts, runs, bool(line.get("ok"))


def _by_group(counts: Counter[_Function]) -> Counter[str]:
    groups: Counter[str] = Counter()
    for (filename, _, _), calls in counts.items():
        groups[_group(filename)] += calls
    return groups


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workload", dest="profiled", choices=("burst", "interval"), default="burst"
    )
    parser.add_argument("--n", type=int, default=1000, help="runs of the smaller burst")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--schedules", type=int, default=200, help="interval's automations")
    parser.add_argument("--seconds", type=int, default=3, help="slots of the smaller interval")
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--top", type=int, default=0, help="list the K most called functions")
    add_telemetry_argument(parser)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.n, args.schedules, args.seconds = 50, 5, 1
    args.timeout, args.db = 300.0, None
    size = args.n if args.profiled == "burst" else args.seconds
    _calls(args, max(1, min(size, 200 if args.profiled == "burst" else 1)))  # imports, caches
    small, runs_small, ok_small = _calls(args, size)
    large, runs_large, ok_large = _calls(args, 2 * size)
    added = runs_large - runs_small
    groups_small, groups_large = _by_group(small), _by_group(large)
    per_run = {
        group: round((groups_large[group] - groups_small[group]) / added, 1)
        for group in sorted(groups_large)
    }
    line: dict[str, Any] = {
        "bench": "calls",
        "workload": args.profiled,
        "runs_added": added,
        "backend": args.backend,
        "telemetry": args.telemetry,
        "calls_per_run": round(sum(per_run.values()), 1),
        "by_group": per_run,
        "ok": ok_small and ok_large,
    }
    if args.top:
        grown = Counter({f: (large[f] - small.get(f, 0)) / added for f in large})
        line["top"] = [
            [
                f"{_group(file)}:{file.rsplit('/', 1)[-1]}:{number}:{_ADDRESS.sub('', name)}",
                round(calls, 2),
            ]
            for (file, number, name), calls in grown.most_common(args.top)
        ]
    return line | environment()
