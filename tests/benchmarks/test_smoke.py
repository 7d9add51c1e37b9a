"""The benchmark harness runs in a tiny smoke mode, so it cannot rot (no speed asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1
    line: dict[str, Any] = json.loads(lines[0])
    return line


def test_burst_benchmark_prints_one_json_line() -> None:
    line = _run("burst")
    assert line["bench"] == "burst" and line["ok"] is True
    assert line["completed"] == line["n"] == 50
    assert line["outcomes"] == {"succeeded": 50}
    assert line["jobs_per_s"] > 0 and line["e2e_latency_ms"]["p99"] >= line["e2e_latency_ms"]["p50"]


def test_journal_benchmark_prints_one_json_line() -> None:
    line = _run("journal")
    assert line["bench"] == "journal" and line["ok"] is True
    assert [r["writers"] for r in line["results"]] == [1, 10]
    assert all(r["transitions"] > 0 and r["transitions_per_s"] > 0 for r in line["results"])
    assert line["durability"] == "full" and line["cpu_count"] >= 1
    assert line["versions"]["automations"]


def test_interval_benchmark_prints_one_json_line() -> None:
    line = _run("interval")
    assert line["bench"] == "interval" and line["ok"] is True
    assert line["executed"] == line["expected"] == 10
    assert sum(line["jobs_per_scheduled_second"]) == 10
    assert line["fire_lag_ms"]["p50"] is not None


def test_register_benchmark_prints_one_json_line() -> None:
    line = _run("register")
    assert line["bench"] == "register" and line["ok"] is True
    assert line["add"]["one_by_one"] + line["add"]["bulk"] == line["n"] == 300
    assert line["cold_start"]["ready_s"] > 0 and line["cold_start"]["peak_rss_mb"] > 0
