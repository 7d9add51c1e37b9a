"""`make demo` runs this module; it must work on a fresh database and say what it showed."""

from __future__ import annotations

import subprocess
import sys


def test_foundation_demo_runs_and_replays_exactly() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "automations._foundation_demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "invalid_cron_expression" in out and "awaiting_input" in out
    assert "rebuilds the projections exactly: True" in out
