"""Telemetry overhead: burst and interval with metrics and tracing off and on, interleaved.

Each round runs a workload twice in fresh processes, off then on (`--telemetry`:
Prometheus metrics, and an `automation.run` span per executor call exported at once
to the OpenTelemetry SDK's in-memory exporter), so the machine's drift hits both
alike; the medians of `--rounds` rounds are compared as on / off (a cost of 10% is
1.10 for latencies and CPU, 0.91 for throughput). The CPU time per run (every thread of
the process) is the least disturbed by other work on a shared machine.

    python -m benchmarks overhead [--rounds 5] [--only burst,interval] [--burst-n 3000]
                                  [--schedules 200] [--seconds 10] [--backend asyncio]
                                  [--parts both|metrics|traces]

`--parts` measures metrics or traces alone against off.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

from ._common import environment
from .compare import ROOT, _json_line

__all__ = ["add_arguments", "run"]

MEASURES = {
    "burst": (
        ("jobs_per_s", ("jobs_per_s",), True),
        ("e2e_latency_ms_p50", ("e2e_latency_ms", "p50"), False),
        ("e2e_latency_ms_p99", ("e2e_latency_ms", "p99"), False),
        ("cpu_us_per_run", ("cpu_us_per_run",), False),
    ),
    "interval": (
        ("fire_lag_ms_p50", ("fire_lag_ms", "p50"), False),
        ("fire_lag_ms_p99", ("fire_lag_ms", "p99"), False),
        ("cpu_us_per_run", ("cpu_us_per_run",), False),
    ),
}
"""Per workload: (name, where in its JSON line, higher is better)."""


def _get(line: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = line
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _median(lines: list[dict[str, Any]], path: tuple[str, ...]) -> float | None:
    values = [v for v in (_get(line, path) for line in lines) if v is not None]
    return statistics.median(values) if values else None


def _options(args: argparse.Namespace, workload: str) -> list[str]:
    if args.smoke:
        return ["--smoke", "--backend", args.backend]
    sizes = {
        "burst": ["--n", str(args.burst_n)],
        "interval": ["--schedules", str(args.schedules), "--seconds", str(args.seconds)],
    }[workload]
    return [*sizes, "--backend", args.backend]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5, help="runs of each, off and on")
    parser.add_argument("--only", default="burst,interval")
    parser.add_argument("--burst-n", type=int, default=3000)
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--parts", choices=("both", "metrics", "traces"), default="both")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.rounds = 1
    workloads = [w.strip() for w in args.only.split(",") if w.strip() in MEASURES]
    lines: dict[str, dict[str, list[dict[str, Any]]]] = {
        w: {"off": [], "on": []} for w in workloads
    }
    for round_ in range(args.rounds):
        for workload in workloads:
            for mode, flag in (("off", []), ("on", ["--telemetry", args.parts])):
                print(f"{workload} {mode} round {round_ + 1}/{args.rounds}", file=sys.stderr)
                command = [sys.executable, "-m", "benchmarks", workload, *_options(args, workload)]
                lines[workload][mode].append(_json_line([*command, *flag], ROOT))
    medians: dict[str, dict[str, float | None]] = {}
    for workload in workloads:
        for name, path, higher_is_better in MEASURES[workload]:
            off = _median(lines[workload]["off"], path)
            on = _median(lines[workload]["on"], path)
            cost = None
            if off and on:
                cost = off / on if higher_is_better else on / off
            medians[f"{workload}: {name}"] = {
                "off": off,
                "on": on,
                "cost": None if cost is None else round(cost, 3),
            }
    for label, values in medians.items():
        print(f"{label}: off {values['off']}, on {values['on']}, cost x{values['cost']}",
              file=sys.stderr)  # fmt: skip
    every = [line for modes in lines.values() for runs in modes.values() for line in runs]
    traced = args.parts == "metrics" or all(
        line.get("spans", 0) > 0 for m in lines.values() for line in m["on"]
    )
    return {
        "bench": "overhead",
        "rounds": args.rounds,
        "backend": args.backend,
        "parts": args.parts,
        "sizes": {"burst_n": args.burst_n, "interval": [args.schedules, args.seconds]},
        "medians": medians,
        "runs": lines,
        "ok": bool(every) and all(line.get("ok") for line in every) and traced,
    } | environment()
