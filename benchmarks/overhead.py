"""Telemetry overhead: burst and interval with metrics and tracing off and on, interleaved.

Each round runs a workload twice in fresh processes, off and on (`--telemetry`:
Prometheus metrics, and an `automation.run` span per executor call, through the SDK's
batch span processor to its in-memory exporter), off first in even rounds and on first
in odd ones, so the machine's drift hits both alike. The medians of `--rounds` rounds
are compared as on / off (a cost of 10% is 1.10 for latencies and CPU, 0.91 for
throughput), and so is the median of each round's own on / off (`cost_paired`, the
steadier when the load drifts). The CPU time per run (every thread of the process) is
the least disturbed by other work on a shared machine; the collector's figures
(`benchmarks/_collector.py`) tell its share of it and of the latencies' tails.

    python -m benchmarks overhead [--rounds 5] [--only burst,interval] [--burst-n 3000]
                                  [--schedules 200] [--seconds 10] [--backend asyncio]
                                  [--parts both|metrics|traces]
                                  [--span-processor batch|simple] [--sample-ratio 1.0]

`--parts` measures metrics or traces alone against off. Spans go through the SDK's
`BatchSpanProcessor` (what its documentation recommends for production) to its
`InMemorySpanExporter`; `--span-processor simple` exports each as it ends instead, and
`--sample-ratio` below 1 records only that share of the runs (see `_telemetry`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

from ._common import environment
from .compare import ROOT, _json_line

__all__ = ["add_arguments", "run"]

_COLLECTOR = (
    ("cpu_us_per_run_outside_gc", ("cpu_us_per_run_outside_gc",), False),
    ("gc_cpu_us_per_run", ("gc", "cpu_us_per_run"), False),
    ("gc_gen2_per_1000_runs", ("gc", "gen2_per_1000_runs"), False),
    ("gc_pause_ms_max", ("gc", "pause_ms_max"), False),
    ("gc_pause_cpu_ms_max", ("gc", "pause_cpu_ms_max"), False),
    ("gc_tracked_per_run", ("gc", "tracked_per_run"), False),
)
MEASURES = {
    "burst": (
        ("jobs_per_s", ("jobs_per_s",), True),
        ("e2e_latency_ms_p50", ("e2e_latency_ms", "p50"), False),
        ("e2e_latency_ms_p99", ("e2e_latency_ms", "p99"), False),
        ("cpu_us_per_run", ("cpu_us_per_run",), False),
        *_COLLECTOR,
    ),
    "interval": (
        ("fire_lag_ms_p50", ("fire_lag_ms", "p50"), False),
        ("fire_lag_ms_p99", ("fire_lag_ms", "p99"), False),
        ("cpu_us_per_run", ("cpu_us_per_run",), False),
        *_COLLECTOR,
    ),
}
"""Per workload: (name, where in its JSON line, higher is better). The collector's
figures (`benchmarks/_collector.py`) tell its part of the CPU and of the latencies'
tails from the rest."""


def _get(line: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = line
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _median(lines: list[dict[str, Any]], path: tuple[str, ...]) -> float | None:
    values = [v for v in (_get(line, path) for line in lines) if v is not None]
    return statistics.median(values) if values else None


def _paired(
    off: list[dict[str, Any]], on: list[dict[str, Any]], path: tuple[str, ...]
) -> float | None:
    """The median of each round's on / off: the two ran back to back, under the same
    load, so a round's ratio is steadier than the ratio of the medians."""
    ratios = []
    for a, b in zip(off, on, strict=True):
        x, y = _get(a, path), _get(b, path)
        if x and y is not None:
            ratios.append(y / x)
    return statistics.median(ratios) if ratios else None


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
    parser.add_argument("--span-processor", choices=("batch", "simple"), default="batch")
    parser.add_argument("--sample-ratio", type=float, default=1.0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        args.rounds = 1
    workloads = [w.strip() for w in args.only.split(",") if w.strip() in MEASURES]
    lines: dict[str, dict[str, list[dict[str, Any]]]] = {
        w: {"off": [], "on": []} for w in workloads
    }
    for round_ in range(args.rounds):
        for workload in workloads:
            on_flags = ["--telemetry", args.parts, "--span-processor", args.span_processor]
            on_flags += ["--sample-ratio", str(args.sample_ratio)]
            modes: list[tuple[str, list[str]]] = [("off", []), ("on", on_flags)]
            for mode, flag in modes if round_ % 2 == 0 else modes[::-1]:  # ABBA
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
            paired = _paired(lines[workload]["off"], lines[workload]["on"], path)
            if paired is not None and higher_is_better:
                paired = 1 / paired
            medians[f"{workload}: {name}"] = {
                "off": off,
                "on": on,
                "cost": None if cost is None else round(cost, 3),
                "cost_paired": None if paired is None else round(paired, 3),
            }
    for label, values in medians.items():
        print(f"{label}: off {values['off']}, on {values['on']}, cost x{values['cost']} "
              f"(paired x{values['cost_paired']})", file=sys.stderr)  # fmt: skip
    every = [line for modes in lines.values() for runs in modes.values() for line in runs]
    traced = (
        args.parts == "metrics"
        or args.sample_ratio < 1.0
        or all(line.get("spans", 0) > 0 for m in lines.values() for line in m["on"])
    )
    return {
        "bench": "overhead",
        "rounds": args.rounds,
        "backend": args.backend,
        "parts": args.parts,
        "span_processor": args.span_processor,
        "sample_ratio": args.sample_ratio,
        "sizes": {"burst_n": args.burst_n, "interval": [args.schedules, args.seconds]},
        "medians": medians,
        "runs": lines,
        "ok": bool(every) and all(line.get("ok") for line in every) and traced,
    } | environment()
