"""Side by side with APScheduler 4 on SQLite: the shared workloads, interleaved.

Creates the peer's own virtual environment (`.peer-venv/`, ignored by git) from
`benchmarks/peer/requirements.txt`, then runs each workload for both systems in turns (ours, peer,
ours, peer, ...; `--rounds` of each) on this machine, and prints the medians and the
ratios as a Markdown table, then as one JSON line. The machine's noise is large (the
peer's own notes say so), which is why the runs interleave and medians are compared.

    python -m benchmarks compare [--rounds 3] [--only burst,interval,register]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import environment

__all__ = ["METRICS", "Metric", "add_arguments", "disk_p50", "ratio", "run", "table"]

ROOT = Path(__file__).resolve().parents[1]
PEER = Path(__file__).resolve().parent / "peer"
"""The peer's driver (`python -m benchmarks.peer`) and its pinned requirements."""


@dataclass(frozen=True)
class Metric:
    workload: str
    label: str
    path: tuple[str, ...]
    higher_is_better: bool
    target: float | None = None
    """The issue's target for ours / peer (or peer / ours when lower is better)."""


METRICS = (
    Metric("burst", "burst: jobs/s", ("jobs_per_s",), True, 100),
    Metric("burst", "burst: e2e latency p50 (ms)", ("e2e_latency_ms", "p50"), False),
    Metric("burst", "burst: e2e latency p99 (ms)", ("e2e_latency_ms", "p99"), False),
    Metric("interval", "interval: executed / expected", ("executed_ratio",), True),
    Metric("interval", "interval: fire lag p50 (ms)", ("fire_lag_ms", "p50"), False),
    Metric("interval", "interval: fire lag p99 (ms)", ("fire_lag_ms", "p99"), False, 50),
    Metric("register", "register: one by one (schedules/s)", ("add", "schedules_per_s"), True, 15),
    Metric("register", "register: cold start ready (s)", ("cold_start", "ready_s"), False, 1),
    Metric("register", "register: cold start peak RSS (MB)", ("cold_start", "peak_rss_mb"), False),
)


def _get(line: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = line
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if value is None:
        return None
    return float(value)


def ratio(ours: float | None, peer: float | None, higher_is_better: bool) -> float | None:
    """How many times better ours is (above 1: better; below 1: worse)."""
    if ours is None or peer is None or ours <= 0 or peer <= 0:
        return None
    return ours / peer if higher_is_better else peer / ours


def _median(lines: list[dict[str, Any]], path: tuple[str, ...]) -> float | None:
    values = [v for line in lines if (v := _get(line, path)) is not None]
    return statistics.median(values) if values else None


def table(ours: dict[str, list[dict[str, Any]]], peer: dict[str, list[dict[str, Any]]]) -> str:
    """The Markdown table of medians and ratios."""
    rows = [
        "| metric | automations (median) | APScheduler 4 (median) | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for metric in METRICS:
        if metric.workload not in ours:
            continue
        a = _median(ours[metric.workload], metric.path)
        b = _median(peer.get(metric.workload, []), metric.path)
        r = ratio(a, b, metric.higher_is_better)
        target = f">= {metric.target:g}x" if metric.target else ""
        rows.append(f"| {metric.label} | {_fmt(a)} | {_fmt(b)} | {_fmt_ratio(r)} | {target} |")
    return "\n".join(rows)


def disk_p50(ours: dict[str, list[dict[str, Any]]]) -> float | None:
    """The median cost of one bare durable commit measured beside our runs, in µs:
    what the disk was like while they ran."""
    lines = [line for lines in ours.values() for line in lines]
    return _median(lines, ("disk_commit_us", "p50"))


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}x"


# -- running the two systems -------------------------------------------------------


def _peer_python() -> Path:
    """The peer's interpreter, installing its environment the first time."""
    venv = ROOT / ".peer-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} for the peer (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        requirements = PEER / "requirements.txt"
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
            check=True,
        )
    return python


def _json_line(command: list[str], cwd: Path) -> dict[str, Any]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{command[:4]} printed no result: {done.stderr[-600:]}")
    line: dict[str, Any] = json.loads(lines[-1])
    return line


Runner = Callable[[str, Path], dict[str, Any]]


def _ours(args: argparse.Namespace) -> Runner:
    def run_ours(workload: str, scratch: Path) -> dict[str, Any]:
        options = {
            "burst": ["--n", str(args.burst_n)],
            "interval": ["--schedules", str(args.schedules), "--seconds", str(args.seconds)],
            "register": ["--n", str(args.register_n * args.register_scale)],
        }[workload]
        command = [sys.executable, "-m", "benchmarks", workload, *options]
        return _json_line(command, ROOT)

    return run_ours


def _peer(args: argparse.Namespace, python: Path) -> Runner:
    def run_peer(workload: str, scratch: Path) -> dict[str, Any]:
        options = {
            "burst": ["--n", str(args.burst_n)],
            "interval": ["--schedules", str(args.schedules), "--seconds", str(args.seconds)],
            "register": ["--n", str(args.register_n)],
        }[workload]
        db = scratch / f"peer-{workload}-{time.monotonic_ns()}.db"
        command = [str(python), "-m", "benchmarks.peer", workload, *options, "--db", str(db)]
        return _json_line(command, ROOT)

    return run_peer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3, help="runs of each system")
    parser.add_argument("--only", default="burst,interval,register")
    parser.add_argument("--burst-n", type=int, default=1000)
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--register-n", type=int, default=3000, help="the peer's store size")
    parser.add_argument(
        "--register-scale", type=int, default=10, help="our store is this many times larger"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:  # the harness, on our side only: no peer install in CI
        args.rounds, args.burst_n, args.schedules, args.seconds = 1, 20, 3, 2
        args.register_n, args.register_scale = 100, 1
    workloads = [w.strip() for w in args.only.split(",") if w.strip()]
    ours_runner = _ours(args)
    peer_runner = None if args.smoke else _peer(args, _peer_python())
    ours: dict[str, list[dict[str, Any]]] = {w: [] for w in workloads}
    peer: dict[str, list[dict[str, Any]]] = {w: [] for w in workloads} if peer_runner else {}
    with tempfile.TemporaryDirectory(prefix="automations-compare-") as directory:
        scratch = Path(directory)
        for workload in workloads:
            for round_ in range(args.rounds):
                print(f"{workload} round {round_ + 1}/{args.rounds}", file=sys.stderr)
                ours[workload].append(ours_runner(workload, scratch))
                if peer_runner is not None:
                    peer[workload].append(peer_runner(workload, scratch))
    disk = disk_p50(ours)
    markdown = table(ours, peer)
    if disk is not None:
        markdown += f"\n\nOne bare durable commit on this disk meanwhile: {disk:,.0f} µs (p50)."
    print(markdown, file=sys.stderr if args.smoke else sys.stdout)
    summary = {
        m.label: {
            "ours": _median(ours[m.workload], m.path),
            "peer": _median(peer.get(m.workload, []), m.path),
            "ratio": ratio(
                _median(ours[m.workload], m.path),
                _median(peer.get(m.workload, []), m.path),
                m.higher_is_better,
            ),
        }
        for m in METRICS
        if m.workload in ours
    }
    return {
        "bench": "compare",
        "rounds": args.rounds,
        "durability": "full",
        "sizes": {
            "burst_n": args.burst_n,
            "interval": [args.schedules, args.seconds],
            "register_n": {"peer": args.register_n, "ours": args.register_n * args.register_scale},
        },
        "medians": summary,
        "disk_commit_us_p50": disk,
        "runs": {"ours": ours, "peer": peer},
        "ok": all(line.get("ok") for lines in ours.values() for line in lines),
    } | environment()
