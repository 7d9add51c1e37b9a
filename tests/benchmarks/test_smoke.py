"""The benchmark harness runs in a tiny smoke mode, so it cannot rot (no speed asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_journal_benchmark_prints_one_json_line() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "journal", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["bench"] == "journal" and line["ok"] is True
    assert [r["writers"] for r in line["results"]] == [1, 10]
    assert all(r["transitions"] > 0 and r["transitions_per_s"] > 0 for r in line["results"])
    assert line["durability"] == "full" and line["cpu_count"] >= 1
    assert line["versions"]["automations"]
